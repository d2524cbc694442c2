"""How far each simulated enterprise has digitized: laggards to leaders, and their progress.

A province where every device reports and most key processes are NC scores ~99.9 on the
digitization index (docs/kpi.md), nothing like Shandong's 2017 两化融合 level of 55.2. So each
enterprise gets a maturity level in [0, 1] from the run's seed, and the level decides what
the index measures: how many of its registered devices report at all (the others send their
birth and nothing else: "unconnected"), how many key-process machines are NC, whether it is
on the cloud, and how often connected devices go silent for a while (reporting gaps). Levels
rise slowly with simulated days, the way the plan means to raise them: more devices connect
and gaps become rarer. docs/simulator.md has the figures a default run gives.
"""

from __future__ import annotations

import math

from simulators.seeds import stream

LOWEST, HIGHEST = 0.05, 0.95  # the lowest and highest level an enterprise may have
GOLDEN = (5**0.5 - 1) / 2  # steps of it modulo 1 spread points evenly, however many
PROGRESS_PER_DAY = 0.002  # level gained per simulated day: +0.06 a month
CLOUD_FROM = 0.5  # 企业上云 from this level (a one-off move, fixed for the run)
CONNECTED_AT_ZERO = 0.25  # share of devices that report at level 0
DAY_MS = 86_400_000
GAP_MEAN_S = 20 * 60.0  # a reporting gap lasts this long on average


def levels(enterprises: int, seed: int) -> list[float]:
    """Each enterprise's starting level, in catalogue order, from LOWEST to HIGHEST: along a
    golden-ratio sequence from a point the seed picks, so that the first few enterprises (all
    a small province has) already range from laggards to leaders, whatever the seed."""
    start = stream(seed, "maturity").random()
    return [LOWEST + (HIGHEST - LOWEST) * ((start + k * GOLDEN) % 1.0) for k in range(enterprises)]


def level_on(start_level: float, day: float) -> float:
    """The level `day` simulated days after the start."""
    return min(1.0, start_level + PROGRESS_PER_DAY * day)


def connected_share(level: float) -> float:
    """Share of registered devices that report: a quarter at level 0, all at 1."""
    return CONNECTED_AT_ZERO + (1 - CONNECTED_AT_ZERO) * level


def nc_share(level: float) -> float:
    """Share of key-process machines not NC by nature (presses, testers) that are NC."""
    return level


def cloud(level: float) -> bool:
    return level >= CLOUD_FROM


def silent_share(level: float) -> float:
    """Share of a connected device's time in reporting gaps: a quarter at the bottom."""
    return 0.25 * (1.0 - level)


def connect_day(start_level: float, draw: float) -> int:
    """The day from which a device with uniform `draw` reports: 0 if connected at the start.

    A device reports once `draw` < connected_share(level): the lowest draws first, so a device
    once connected stays connected. Devices connect at the start of a simulated day.
    """
    # The level at which connected_share reaches the draw.
    needed = (draw - CONNECTED_AT_ZERO) / (1 - CONNECTED_AT_ZERO)
    if needed <= start_level:
        return 0
    return math.ceil(round((needed - start_level) / PROGRESS_PER_DAY, 9))  # 50.000…01 is 50


def next_gap(level: float, u_after: float, u_length: float, min_s: float) -> tuple[float, float]:
    """(seconds of reporting before the next gap, its length) from two uniform draws: both
    exponential, the spacing such that gaps take silent_share of the time, the length at
    least `min_s` (beyond max_gap, or it would be no gap to the stream)."""
    share = silent_share(level)
    if share <= 0:
        return math.inf, 0.0
    every_s = GAP_MEAN_S * (1 - share) / share
    return -every_s * math.log(1 - u_after), max(min_s, -GAP_MEAN_S * math.log(1 - u_length))
