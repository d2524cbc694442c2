"""Roll-ups and digitization from device windows: pure Python, no Faust.

Device windows arrive here from every stream worker. Roll-ups add the parts of a window's
devices per line, plant, enterprise, city and the province (exact integer sums, so the
order devices arrive in does not matter) and recompute the ratios.

Revisions are derived, not counted: a roll-up's revision is Σ (member revision + 1), which
rises whenever a member changes or joins, and is the same after a restart.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from iiot.digitization import DeviceActivity, digitization_window
from iiot.messages import DeviceBirth
from iiot.oee import Parts, from_ms, oee_window, window_start
from iiot.results import DigitizationWindow, OeeWindow
from iiot.settings import DigitizationWeights
from iiot.types import Level

PROVINCE_ID = "shandong"
# A partition whose clock stays this far behind the newest one is silent (all its devices
# off), not slow: it no longer holds back forgetting (RollupState.settled_ms).
SILENT_MS = 24 * 3_600_000


@dataclass(frozen=True, slots=True)
class Member:
    """A device window as the roll-up holds it."""

    parts: Parts
    revision: int
    late_samples: int


@dataclass(slots=True)
class RollupState:
    window_ms: int
    digitization_ms: int
    weights: DigitizationWeights
    births: dict[str, DeviceBirth] = field(default_factory=dict)
    windows: dict[int, dict[str, Member]] = field(default_factory=lambda: defaultdict(dict))
    # hour start → device → window start → (samples, has_oee, revision + 1)
    hours: dict[int, dict[str, dict[int, tuple[int, bool, int]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(dict))
    )
    dirty_windows: set[int] = field(default_factory=set)
    dirty_hours: set[int] = field(default_factory=set)
    newest_ms: int = 0
    clocks: dict[int, int] = field(default_factory=dict)  # telemetry partition → its time
    forgotten_ms: int = 0  # windows ending before it are forgotten
    late_members: int = 0  # device windows that came for a window forgotten already

    def on_birth(self, birth: DeviceBirth) -> None:
        self.births[birth.device_id] = birth
        self.dirty_hours.update(self.hours)  # registered devices changed

    def on_device_window(
        self, device_id: str, start_ms: int, parts: Parts, revision: int, late_samples: int
    ) -> bool:
        """Take a device window; False (ignored) if a newer revision of it is held already.

        The feed may deliver a device window's revisions out of order: the emit timer and
        the device agent send concurrently, and a send held up by a broker outage can land
        after a newer one. A device window's revision only rises, so the highest is kept."""
        if start_ms + self.window_ms < self.forgotten_ms:
            self.late_members += 1  # its roll-up now lacks the other devices: warned
        members = self.windows[start_ms]
        held = members.get(device_id)
        if held is not None and held.revision > revision:
            return False
        members[device_id] = Member(parts, revision, late_samples)
        self.dirty_windows.add(start_ms)
        hour = window_start(start_ms, self.digitization_ms)
        planned = parts.planned_ms > 0
        self.hours[hour][device_id][start_ms] = (parts.samples, planned, revision + 1)
        self.dirty_hours.add(hour)
        self.newest_ms = max(self.newest_ms, start_ms)
        return True

    def on_clock(self, partition: int, ms: int) -> bool:
        """A telemetry partition's newest event time; False if it is not newer."""
        if ms <= self.clocks.get(partition, -1):
            return False  # a replay after a rebalance, or the same time again
        self.clocks[partition] = ms
        return True

    def settled_ms(self) -> int:
        """The time every partition has reached: its devices' windows before it (less the
        grace) are not changed by on-time samples any more. The slowest partition's clock,
        not the newest window: after an outage the partitions catch up unevenly, and
        forgetting by the fastest one dropped hours the others were still adding to. A
        silent partition does not hold it back; without clocks, the newest window."""
        if not self.clocks:
            return self.newest_ms
        newest = max(self.clocks.values())
        return min(ms for ms in self.clocks.values() if ms >= newest - SILENT_MS)

    # --- OEE roll-ups ---------------------------------------------------------------------

    def _entities(self, device_id: str) -> list[tuple[Level, str]] | None:
        birth = self.births.get(device_id)
        if birth is None:
            return None
        return [
            ("line", birth.line_id),
            ("plant", birth.plant_id),
            ("enterprise", birth.enterprise.id),
            ("city", birth.enterprise.city),
            ("province", PROVINCE_ID),
        ]

    def rollups(self, start_ms: int) -> list[OeeWindow]:
        """Every roll-up of one window, in a stable order."""
        sums: dict[tuple[Level, str], Parts] = {}
        revisions: dict[tuple[Level, str], int] = defaultdict(int)
        late: dict[tuple[Level, str], int] = defaultdict(int)
        for device_id, member in sorted(self.windows.get(start_ms, {}).items()):
            for entity in self._entities(device_id) or []:
                held = sums.get(entity)
                sums[entity] = member.parts if held is None else held.add(member.parts)
                revisions[entity] += member.revision + 1
                late[entity] += member.late_samples
        return [
            oee_window(
                level,
                entity_id,
                start_ms,
                parts,
                revision=revisions[(level, entity_id)],
                late_samples=late[(level, entity_id)],
            )
            for (level, entity_id), parts in sorted(sums.items())
        ]

    # --- digitization ---------------------------------------------------------------------

    def digitization(self, hour_ms: int) -> list[DigitizationWindow]:
        """The digitization window of every enterprise with registered devices."""
        per_device = self.hours.get(hour_ms, {})
        enterprises: dict[str, list[DeviceBirth]] = defaultdict(list)
        for birth in self.births.values():
            enterprises[birth.enterprise.id].append(birth)
        start, end = from_ms(hour_ms), from_ms(hour_ms + self.digitization_ms)
        results = []
        for enterprise_id, births in sorted(enterprises.items()):
            activity, revision = [], 0
            for birth in births:
                windows = per_device.get(birth.device_id, {})
                revision += sum(rev for _, _, rev in windows.values())
                activity.append(
                    DeviceActivity(
                        key_process=birth.key_process,
                        numerically_controlled=birth.numerically_controlled,
                        sample_interval_s=birth.sample_interval_s,
                        samples=sum(samples for samples, _, _ in windows.values()),
                        has_oee=any(planned for _, planned, _ in windows.values()),
                    )
                )
            results.append(
                digitization_window(
                    enterprise_id,
                    births[0].enterprise.cloud,
                    start,
                    end,
                    activity,
                    self.weights,
                    revision=revision + len(births),
                )
            )
        return results

    # --- emission and memory --------------------------------------------------------------

    def take_dirty(self) -> tuple[list[OeeWindow], list[DigitizationWindow]]:
        """What changed since the last call, to emit now."""
        oee = [w for start in sorted(self.dirty_windows) for w in self.rollups(start)]
        digitization = [w for hour in sorted(self.dirty_hours) for w in self.digitization(hour)]
        self.dirty_windows.clear()
        self.dirty_hours.clear()
        return oee, digitization

    def forget_before(self, horizon_ms: int) -> None:
        """Drop windows and hours that end before `horizon_ms`; not yet those changed since
        the last emit: they go out first, and are forgotten the next time."""
        self.forgotten_ms = max(self.forgotten_ms, horizon_ms)
        windows, hours = self.windows, self.hours
        for start in [s for s in windows if s + self.window_ms < horizon_ms]:
            if start not in self.dirty_windows:
                del windows[start]
        for hour in [h for h in hours if h + self.digitization_ms < horizon_ms]:
            if hour not in self.dirty_hours:
                del hours[hour]
