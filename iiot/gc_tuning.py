"""The cyclic garbage collector out of the way of a hot loop (producer, sink, stream worker).

Their records, batches and rows are short-lived and hold no cycles, yet with the default
thresholds (700, 10, 10) they set off a young collection every 700 allocations and full ones
that walk the whole heap: 3–4% of the producer's instructions per sample, 0.59 s of a 2.8 s
sink bench run (bench/README.md). With a young generation of 50,000 and what exists so far
(imports, settings, the simulated province) frozen out of the scans, that cost mostly goes.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

YOUNG = 50_000


def quieten(young: int = YOUNG) -> tuple[int, ...]:
    """Freeze what exists now and collect the young generation every `young` allocations;
    returns the thresholds before, for `few_collections` to restore."""
    before = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(young, *before[1:])
    return before


@contextlib.contextmanager
def few_collections(young: int = YOUNG) -> Iterator[None]:
    """`quieten()` for the time of a `with` block, then the collector as it was."""
    frozen_before = gc.get_freeze_count()
    before = quieten(young)
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if not frozen_before:  # a --workers worker froze what it inherited: it stays so
            gc.unfreeze()
