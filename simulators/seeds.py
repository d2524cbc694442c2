"""Random streams derived from the seed, one per purpose and device.

`hash()` of a string changes with PYTHONHASHSEED, so streams are seeded from a blake2b digest:
the same seed and name give the same stream in every process, on every machine.
"""

from __future__ import annotations

import hashlib
import random


def derived_seed(seed: int, *names: str) -> int:
    """A 64-bit seed for the stream called `names` under the run's `seed`."""
    text = "\x1f".join((str(seed), *names)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def stream(seed: int, *names: str) -> random.Random:
    """An independent `random.Random` for one purpose, e.g. stream(7, "machine", device_id)."""
    return random.Random(derived_seed(seed, *names))


def uniform(seed: int, *names: str) -> float:
    """One uniform draw in [0, 1) named `names`, without keeping a Random's 2.5 KB of state."""
    return derived_seed(seed, *names) / 2**64
