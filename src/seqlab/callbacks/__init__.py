"""Lightning callbacks of seqlab's own, as conf/callbacks names them.

- ``Throughput``: tokens/s and MFU (``throughput``).
- ``MatmulPrecision``: float32 matmul precision per device kind (``precision``).
- ``KeepFreedMemory``: host memory reuse between steps (``host_memory``).
- ``StopOnNonFinite``: a NaN/inf loss or weight ends the run in one line (``nonfinite``).
- ``ExactResume``: per-step seeds, data position and a checkpoint on SIGTERM (``exact_resume``).
- ``SampleLogger``: source / reference / hypothesis rows at every validation (``samples``).
"""

from seqlab.callbacks.exact_resume import ExactResume
from seqlab.callbacks.host_memory import KeepFreedMemory
from seqlab.callbacks.nonfinite import StopOnNonFinite
from seqlab.callbacks.precision import MatmulPrecision
from seqlab.callbacks.samples import SampleLogger
from seqlab.callbacks.throughput import Throughput

__all__ = [
    "ExactResume",
    "KeepFreedMemory",
    "MatmulPrecision",
    "SampleLogger",
    "StopOnNonFinite",
    "Throughput",
]
