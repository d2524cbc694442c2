"""The simulated province: enterprises → plants → lines → devices, sized by a device count.

Lines are dealt round-robin over the enterprises (ordered so that consecutive ones are in
different cities), so a handful of devices already spans a city or two and 10,000 devices
fill every enterprise with plants of up to LINES_PER_PLANT lines. Each enterprise's maturity
level (simulators/maturity.py) decides its cloud flag, its NC machines and which devices
report from which day.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from iiot.messages import DeviceBirth, Enterprise
from simulators import maturity
from simulators.calendar import ShiftCalendar
from simulators.catalogue import ENTERPRISES, INDUSTRIES, KINDS, LINES_PER_PLANT, KindSpec
from simulators.machine import MachineParams, Product
from simulators.seeds import stream, uniform

H = 3_600.0
MIN = 60.0
# Each plant's births carry its shift calendar (2 or 3 shifts), the one its machines follow.
SHIFTS_PUBLISHED = {n: ShiftCalendar(n).published() for n in (2, 3)}

# Line performance tiers: (name, share of lines, a typical machine's parameters). MachineParams
# fields in order: mtbf, mttr, changeover every, setup, starve every, starve, micro-stop every,
# speed factor, scrap rate. Long-run OEE ≈ 0.87 / 0.74 / 0.60 / 0.54 (A × P × Q):
# only the best lines get above 85%.
TIERS: tuple[tuple[str, float, MachineParams], ...] = (
    ("best", 0.10, MachineParams(10 * H, 20 * MIN, 8 * H, 20 * MIN, 4 * H, 6 * MIN, 30 * MIN,
                                 1.04, 0.007)),
    ("good", 0.35, MachineParams(6 * H, 30 * MIN, 6 * H, 30 * MIN, 2 * H, 8 * MIN, 20 * MIN,
                                 1.08, 0.015)),
    ("average", 0.35, MachineParams(4 * H, 40 * MIN, 4 * H, 40 * MIN, 90 * MIN, 10 * MIN,
                                    10 * MIN, 1.12, 0.03)),
    ("poor", 0.20, MachineParams(3 * H, 35 * MIN, 3 * H, 35 * MIN, 60 * MIN, 8 * MIN, 6 * MIN,
                                 1.16, 0.04)),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """Everything needed to simulate one device, fixed for the whole run."""

    birth: DeviceBirth
    kind: KindSpec
    tier: str
    params: MachineParams
    products: tuple[Product, ...]
    shifts: int
    phase_ms: int  # offset of its first sample from the start, so devices don't tick in step
    level: float  # its enterprise's maturity level at the start (simulators/maturity.py)
    connect_day: int  # reports from this simulated day of the run on; births are sent at once


def _tier(rng_value: float) -> tuple[str, MachineParams]:
    edge = 0.0
    for name, share, params in TIERS:
        edge += share
        if rng_value < edge:
            return name, params
    return TIERS[-1][0], TIERS[-1][2]


def _jitter(params: MachineParams, rng_value: float) -> MachineParams:
    """Machines on one line differ a little: every mean ±10%, speed loss and scrap alike."""
    f = 0.9 + 0.2 * rng_value
    return MachineParams(
        params.mtbf_s / f,
        params.mttr_s * f,
        params.changeover_every_s / f,
        params.setup_s * f,
        params.starve_every_s / f,
        params.starve_s * f,
        params.micro_every_s / f,
        1 + (params.speed_factor - 1) * f,
        params.scrap_rate * f,
    )


def build_province(devices: int, seed: int) -> list[DeviceSpec]:
    """`devices` devices, the same ones for the same seed, in registry order."""
    levels = maturity.levels(len(ENTERPRISES), seed)
    enterprises = [
        (
            spec,
            level,
            Enterprise(
                id=spec.id,
                name=spec.name,
                city=spec.city,
                industry=spec.industry,
                cloud=maturity.cloud(level),
            ),
        )
        for spec, level in zip(ENTERPRISES, levels, strict=True)
    ]
    lines_made: Counter[str] = Counter()
    devices_made: Counter[str] = Counter()
    # The enterprises' devices take turns along a golden-ratio sequence, from a point the
    # seed picks: its first n devices' draws lie evenly spread, so a handful of devices
    # already connect in the share their level says (independent draws would not).
    offsets = {spec.id: uniform(seed, "connect", spec.id) for spec in ENTERPRISES}
    out: list[DeviceSpec] = []
    turn = 0
    while len(out) < devices:
        spec, level, enterprise = enterprises[turn % len(enterprises)]
        turn += 1
        k = lines_made[spec.id]
        lines_made[spec.id] += 1
        plant_id = f"{spec.id}-p{k // LINES_PER_PLANT + 1}"
        line_id = f"{plant_id}-l{k % LINES_PER_PLANT + 1}"
        line_rng = stream(seed, "line", line_id)
        tier, tier_params = _tier(line_rng.random())
        industry = INDUSTRIES[spec.industry]
        numbered: Counter[str] = Counter()
        for abbr in industry.line[: devices - len(out)]:
            kind = KINDS[abbr]
            numbered[abbr] += 1
            device_id = f"{line_id}-{abbr}{numbered[abbr]:02d}"
            rng = stream(seed, "device", device_id)
            products = tuple(
                Product(name, round(kind.base_cycle_s * factor, 1))
                for name, factor in industry.products
            )
            nc_share = maturity.nc_share(level)
            nc = kind.always_nc or (kind.key_process and rng.random() < nc_share)
            birth = DeviceBirth(
                device_id=device_id,
                enterprise=enterprise,
                plant_id=plant_id,
                line_id=line_id,
                kind=kind.kind,
                key_process=kind.key_process,
                numerically_controlled=nc,
                sample_interval_s=kind.sample_interval_s,
                ideal_cycle_s=products[0].ideal_cycle_s,
                shift_calendar=SHIFTS_PUBLISHED[spec.shifts],
            )
            interval_ms = int(kind.sample_interval_s * 1000)
            connect = (offsets[spec.id] + maturity.GOLDEN * devices_made[spec.id]) % 1.0
            devices_made[spec.id] += 1
            out.append(
                DeviceSpec(
                    birth=birth,
                    kind=kind,
                    tier=tier,
                    params=_jitter(tier_params, rng.random()),
                    products=products,
                    shifts=spec.shifts,
                    phase_ms=rng.randrange(interval_ms),
                    level=level,
                    connect_day=maturity.connect_day(level, connect),
                )
            )
    return out
