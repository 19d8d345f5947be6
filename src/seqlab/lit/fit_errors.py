"""Errors Lightning raises only once a fit starts, as the house's one line naming the config keys
that fix them (the data must be batched before they can be checked)."""

from __future__ import annotations

import contextlib
import re

from seqlab.errors import SeqlabError


@contextlib.contextmanager
def val_interval_in_batches():
    """Lightning's check of an integer ``trainer.val_check_interval`` against the epoch's batches
    (known only once the data is batched) as the house's one line, naming the keys that fix it."""
    try:
        yield
    except ValueError as e:
        found = re.search(r"val_check_interval` \((\d+)\).*training batches \((\d+)\)", str(e))
        if not found:
            raise
        interval, batches = found.groups()
        raise SeqlabError(
            f"trainer.val_check_interval={interval} is more than the {batches} training batches of "
            "an epoch; lower it, give a fraction of an epoch (e.g. 0.5), or set "
            "trainer.check_val_every_n_epoch=null to count steps across epochs"
        ) from None
