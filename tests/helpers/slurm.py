"""A real one-node Slurm cluster on this machine for the tests: munged, slurmctld and slurmd from
Debian's `slurm-wlm`/`munge`, each with its files, socket and ports in a temp folder (nothing of
the machine's own Slurm or munge is touched). Clients find it through `SLURM_CONF`."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from helpers.polling import wait_for

# Requeued jobs wait `cred_expire` seconds before they may start again (Slurm's default is 120);
# the scheduler looks at pending jobs every `sched_interval` seconds (default 60).
CONF = """\
ClusterName=seqlabtest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge.socket,cred_expire=10
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=30
SlurmdParameters=config_overrides
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    return 4096


class SlurmCluster:
    """One node named after this host; 4 CPUs declared (at least) so a 2-task DDP job and a
    sweep's jobs fit on a 2-core machine (`config_overrides`: Slurm believes the declaration)."""

    def __init__(self, root: Path):
        self.root = root
        self.conf = root / "slurm.conf"
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}

    def start(self, timeout_s: float = 60) -> None:
        root = self.root
        (root / "state").mkdir(parents=True, exist_ok=True)
        (root / "spool").mkdir(exist_ok=True)
        key = root / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        self.run("munged", "--force", f"--socket={root}/munge.socket", f"--key-file={key}",
                 f"--log-file={root}/munged.log", f"--pid-file={root}/munged.pid",
                 f"--seed-file={root}/munged.seed")  # fmt: skip
        self.conf.write_text(CONF.format(
            host=socket.gethostname().split(".")[0], root=root, ctld_port=_free_port(),
            d_port=_free_port(), cpus=max(4, os.cpu_count() or 1), mem_mb=_memory_mb() // 2,
        ))  # fmt: skip
        self.run("slurmctld", "-c", "-f", str(self.conf))
        self.run("slurmd", "-f", str(self.conf))
        wait_for(lambda: "idle" in self.run("sinfo", "-h", "-o", "%T", check=False),
                 f"the Slurm node to become idle (see {root}/slurmd.log)", timeout_s)  # fmt: skip

    def run(self, *cmd: str, check: bool = True, timeout: float = 60) -> str:
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout

    def jobs(self) -> list[str]:
        """`<job id> <state>` of every job Slurm still knows (pending, running, requeued)."""
        return self.run("squeue", "-h", "-o", "%i %T", check=False).split("\n")[:-1]

    def stop(self) -> None:
        """Cancel every job, then stop the daemons (their pid files say which processes)."""
        self.run("scancel", "--full", "--user", "root", check=False)
        with contextlib.suppress(AssertionError):  # the daemons go anyway, and their jobs with them
            wait_for(lambda: not self.jobs(), "Slurm's jobs to end", 40)
        for name in ("slurmd", "slurmctld", "munged"):
            pid_file = self.root / f"{name}.pid"
            try:
                os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
            except (OSError, ValueError):
                continue
        time.sleep(0.5)
