"""The devices of a stream worker's partitions: each one's OEE state, alarm state and config
(from its birth), how an accepted reading changes them, and the windows it changed.

The tables are the truth; what is here are decoded copies (dropped on every rebalance) and
the windows changed since the last emit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import faust

from iiot.contract import decode, encode
from iiot.messages import DeviceBirth
from iiot.oee import Reading, oee_window
from iiot.results import Alarm
from iiot.settings import Settings
from iiot.wire.oee_json import oee_window_json
from streams.alarms import AlarmRules, AlarmState
from streams.batch import Batch, Outbox
from streams.device_state import DeviceConfig, DeviceState, Emitted, Outcome
from streams.feed import Fed

T = TypeVar("T")


class Decoded(Generic[T]):
    """Decoded copies of a table's values, so a sample costs no parsing of its device's state,
    birth or alarms. The table stays the truth: the copies are dropped on every rebalance."""

    def __init__(
        self, table: faust.Table[str, bytes], load: Callable[[bytes | None], T | None]
    ) -> None:
        self.table, self.load, self.copies = table, load, dict[str, T]()

    def __call__(self, key: str) -> T | None:
        value = self.copies.get(key)
        if value is None:
            value = self.load(self.table.get(key))
            if value is not None:
                self.copies[key] = value
        return value


class Devices:
    def __init__(
        self,
        settings: Settings,
        *,
        state_table: faust.Table[str, bytes],
        alarm_table: faust.Table[str, bytes],
        birth_table: faust.Table[str, bytes],
        oee_topic: str,
        alarms_out: faust.TopicT,
        counters: defaultdict[str, int],
    ) -> None:
        self.settings, self.counters = settings, counters
        self.state_table, self.alarm_table, self.birth_table = state_table, alarm_table, birth_table
        self.oee_topic, self.alarms_out = oee_topic, alarms_out
        self.window_ms = settings.oee_window_s * 1000
        self.rules = AlarmRules(
            down_after_s=settings.alarm_down_s,
            oee_low=settings.alarm_oee_low,
            oee_low_windows=settings.alarm_oee_low_windows,
            performance_high=settings.alarm_performance_high,
        )
        self.state_of = Decoded(
            state_table, lambda raw: DeviceState.loads(raw) if raw else DeviceState()
        )
        self.alarms_of = Decoded(
            alarm_table, lambda raw: AlarmState.loads(raw) if raw else AlarmState()
        )
        self.config_for = Decoded(
            birth_table, lambda raw: self.config_of(decode(DeviceBirth, raw)) if raw else None
        )
        self.dirty: defaultdict[str, set[int]] = defaultdict(set)  # windows not yet emitted
        self.partition_of: dict[str, int] = {}  # device → its partition (its key decides it)
        # device → (partition, max_gap_ms): the devices to watch for silence (offline)
        self.watched: dict[str, tuple[int, int]] = {}

    def config_of(self, birth: DeviceBirth) -> DeviceConfig:
        return DeviceConfig(
            window_ms=self.window_ms,
            max_gap_ms=round(birth.sample_interval_s * self.settings.max_gap_intervals * 1000),
            grace_ms=self.settings.grace_s * 1000,
            ideal_cycle_s=birth.ideal_cycle_s,
        )

    def register(
        self, batch: Batch, partition: int, birth: DeviceBirth, raw: bytes
    ) -> DeviceConfig:
        """A birth: the device's config, written with the batch."""
        device_id = birth.device_id
        batch.put(self.birth_table, partition, device_id, raw)
        config = self.config_for.copies[device_id] = self.config_of(birth)
        self.partition_of[device_id] = partition
        return config

    def apply(self, batch: Batch, config: DeviceConfig, device_id: str, reading: Reading) -> None:
        """An accepted reading into its device's state and alarms; final windows go out now."""
        state_of, counters = self.state_of, self.counters
        state = state_of.copies.get(device_id) or state_of(device_id)  # a call less, usually
        assert state is not None  # a device without state starts with an empty one
        try:
            outcome, changed, final = state.accept(reading, config)
        except Exception:
            # The table holds the state before this batch: redo the batch's earlier readings.
            state = state_of.load(self.state_table.get(device_id))
            assert state is not None
            state_of.copies[device_id] = state
            for earlier in batch.readings.get(device_id, []):
                state.accept(earlier, config)
            raise
        counters[outcome._value_] += 1  # `.value` is a Python property: a call per sample
        if outcome is Outcome.DUPLICATE:
            return
        batch.readings[device_id].append(reading)
        self.dirty[device_id].update(changed)
        self.watched[device_id] = (self.partition_of[device_id], config.max_gap_ms)
        alarms_of, rules = self.alarms_of, self.rules
        alarm_state = alarms_of.copies.get(device_id) or alarms_of(device_id)
        assert alarm_state is not None
        before = alarm_state.persistent()
        alarms = alarm_state.on_reading(
            device_id, reading.ts_ms, reading.state, rules, config.max_gap_ms
        )
        if not (alarms or final):  # the usual case of the rest, in short
            if alarm_state.down_since_ms != before[1]:
                batch.alarms.add(device_id)  # nothing else of `persistent()` moved
            return
        # Final windows leave the state now: emit them before the timer could miss them.
        for start, emitted in sorted(final.items()):
            self.dirty[device_id].discard(start)
            self.emit_window(batch.out, batch.feed, device_id, start, emitted)
            revision, late = emitted.revision, emitted.late_samples
            window = oee_window("device", device_id, start, emitted.parts,
                                revision=revision, late_samples=late)  # fmt: skip
            alarms += alarm_state.on_final_window(device_id, window, rules)
            end_ms = start + emitted.parts.window_ms
            alarms += alarm_state.on_counter_reset(device_id, emitted.parts.counter_resets, end_ms)
        self.note_alarms(batch, device_id, before, alarm_state, alarms)

    def note_alarms(
        self,
        batch: Batch,
        device_id: str,
        before: tuple[Any, ...],
        state: AlarmState,
        alarms: list[Alarm],
    ) -> None:
        if state.persistent() != before:  # the newest time alone is not worth a write
            batch.alarms.add(device_id)
        for alarm in alarms:
            batch.send(self.alarms_out, device_id.encode(), encode(alarm))
        self.counters["alarms"] += len(alarms)

    def sweep_silent(self, batch: Batch, partition: int, now_ms: int) -> None:
        """Offline alarms: the partition's devices silent beyond their max_gap at `now_ms`."""
        for device_id, (device_partition, max_gap_ms) in list(self.watched.items()):
            if device_partition != partition:
                continue
            state = self.alarms_of(device_id)
            assert state is not None
            before = state.persistent()
            alarms = state.on_silence(device_id, now_ms, max_gap_ms)
            if alarms:
                self.note_alarms(batch, device_id, before, state, alarms)

    def emit_window(
        self, out: Outbox, fed: Fed, device_id: str, start: int, emitted: Emitted
    ) -> None:
        """The window to iiot.oee, and to `fed`: the roll-ups get all of them in one record."""
        revision, late = emitted.revision, emitted.late_samples
        sent = oee_window_json("device", device_id, start, emitted.parts, revision, late)
        if sent is None:  # what the model may refuse: let it say why
            window = oee_window("device", device_id, start, emitted.parts, revision=revision,
                                late_samples=late)  # fmt: skip
            sent = window.key, encode(window)
        key, value = sent
        out.append((self.oee_topic, key.encode(), value, None))
        fed.append((key, [device_id, start, revision, late, emitted.parts.row()]))
        self.counters["device_windows_emitted"] += 1

    def changed_windows(self, out: Outbox, fed: Fed) -> None:
        """The windows changed since the last call (the emit timer's)."""
        pending = list(self.dirty.items())
        self.dirty.clear()
        for device_id, starts in pending:
            state = self.state_of(device_id)
            assert state is not None
            for start in sorted(starts):
                emitted = state.windows.get(start)
                if emitted is not None:  # else final, and emitted when it was dropped
                    self.emit_window(out, fed, device_id, start, emitted)

    def write(self, batch: Batch) -> None:
        """The batch's state: one changelog record per touched device."""
        for device_id in batch.readings:
            state = self.state_of.copies[device_id]
            batch.put(self.state_table, self.partition_of[device_id], device_id, state.dumps())
        for device_id in batch.alarms:
            alarm_state = self.alarms_of.copies[device_id]
            batch.put(
                self.alarm_table, self.partition_of[device_id], device_id, alarm_state.dumps()
            )

    def drop_copies(self) -> None:
        for decoded in (self.state_of, self.alarms_of, self.config_for):
            decoded.copies.clear()

    def recovered(self) -> None:
        """Every restored window is emitted again under its same revision."""
        for device_id, state_raw in self.state_table.items():
            self.dirty[device_id].update(DeviceState.loads(state_raw).windows)
