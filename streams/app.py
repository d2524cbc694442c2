"""The Faust app: telemetry and births in; device OEE, roll-ups, digitization and dead
letters out.

Two agents:
- `devices` reads iiot.registry and iiot.telemetry (same key, same partition count, so a
  device's birth and samples meet in one worker), keeps each device's state in a
  changelogged table and feeds the device windows that changed to an internal topic.
- `rollups` reads that one-partition internal topic and adds the device windows up.

Results are emitted by timers from what changed since the last tick (never by Faust's
window-close callback). All state lives in changelogged tables, so a worker killed and
restarted, or a partition moved to another worker, carries on with the same numbers; after
a recovery every restored window is emitted again under its same revision.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import faust
import orjson

from iiot import topics
from iiot.contract import ContractError, decode, encode
from iiot.messages import DeviceBirth, Sample
from iiot.oee import Parts, Reading, oee_window
from iiot.results import Alarm, OeeWindow
from iiot.settings import Settings
from iiot.topics import Topic
from streams.alarms import AlarmRules, AlarmState
from streams.device_state import DeviceConfig, DeviceState, Emitted, Outcome
from streams.ingest import FutureGuard, Source, read_birth, read_sample
from streams.rollup_state import RollupState

log = logging.getLogger("iiot.streams")
T = TypeVar("T")

SWEEP_EVERY_MS = 5_000  # of event time, per partition: how often to look for silent devices
MAX_HELD_PER_DEVICE = 1_000  # samples waiting for their device's birth


class Decoded(Generic[T]):
    """Decoded copies of a table's values, so a sample costs no parsing of its device's state,
    birth or alarms. The table stays the truth: the copies are dropped on every rebalance."""

    def __init__(self, table: faust.Table, load: Callable[[bytes | None], T | None]) -> None:
        self.table, self.load, self.copies = table, load, dict[str, T]()

    def __call__(self, key: str) -> T | None:
        value = self.copies.get(key)
        if value is None:
            value = self.load(self.table.get(key))
            if value is not None:
                self.copies[key] = value
        return value


def create_app(settings: Settings) -> faust.App:
    prefix = settings.topic_prefix
    app = faust.App(
        f"{prefix}iiot-streams",
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.telemetry_partitions,
        topic_replication_factor=1,
        producer_acks=-1,
        producer_compression_type="lz4",
        consumer_auto_offset_reset="earliest",
        # A worker that dies (SIGKILL, OOM) hands its partitions on after this, not 60 s.
        broker_session_timeout=settings.stream_session_timeout_s,
        broker_heartbeat_interval=max(settings.stream_session_timeout_s / 4, 1.0),
        producer_linger=0.005,
        web_enabled=False,
    )
    app.conf.table_cleanup_interval = 3600.0
    logging.getLogger("aiokafka").setLevel(logging.WARNING)  # its debug records cost ~5%

    def topic(t: Topic, **kw: Any) -> faust.TopicT:
        return app.topic(topics.name(t, settings), key_type=bytes, value_type=bytes, **kw)

    inputs = app.topic(
        topics.name(Topic.REGISTRY, settings),
        topics.name(Topic.TELEMETRY, settings),
        key_type=bytes,
        value_type=bytes,
    )
    oee_out = topic(Topic.OEE)
    digitization_out = topic(Topic.DIGITIZATION)
    alarms_out = topic(Topic.ALARMS)
    deadletter_out = topic(Topic.DEADLETTER)
    feed = app.topic(
        f"{prefix}iiot.streams.rollup-feed",
        key_type=bytes,
        value_type=bytes,
        partitions=1,
        internal=True,
    )

    app.rollup_feed = feed  # type: ignore[attr-defined]
    n = settings.telemetry_partitions
    device_table = app.Table("device-state", partitions=n, key_type=str, value_type=bytes)
    birth_table = app.Table("births", partitions=n, key_type=str, value_type=bytes)
    held_table = app.Table("held-samples", partitions=n, key_type=str, value_type=bytes)
    member_table = app.Table("rollup-members", partitions=1, key_type=str, value_type=bytes)
    alarm_table = app.Table("alarm-state", partitions=n, key_type=str, value_type=bytes)

    window_ms = settings.oee_window_s * 1000
    rollup = RollupState(
        window_ms, settings.digitization_window_s * 1000, settings.digitization_weights
    )
    future = FutureGuard(settings.future_tolerance_s * 1000)
    dirty: dict[str, set[int]] = defaultdict(set)  # device → windows changed, not yet emitted
    counters: defaultdict[str, int] = defaultdict(int)
    rules = AlarmRules(
        down_after_s=settings.alarm_down_s,
        oee_low=settings.alarm_oee_low,
        oee_low_windows=settings.alarm_oee_low_windows,
        performance_high=settings.alarm_performance_high,
    )
    partition_of: dict[str, int] = {}  # device → its partition (its key decides it)
    watched: dict[str, tuple[int, int]] = {}  # device → (partition, max_gap_ms), for offline
    swept_ms: dict[int, int] = {}
    app.counters = counters  # type: ignore[attr-defined]

    def config_of(birth: DeviceBirth) -> DeviceConfig:
        return DeviceConfig(
            window_ms=window_ms,
            max_gap_ms=round(birth.sample_interval_s * settings.max_gap_intervals * 1000),
            grace_ms=settings.grace_s * 1000,
            ideal_cycle_s=birth.ideal_cycle_s,
        )

    async def refuse(source: Source, error: ContractError) -> None:
        counters[f"deadletter.{error.code}"] += 1
        await deadletter_out.send(key=source.key, value=encode(source.refuse(error)))

    state_of = Decoded(device_table, lambda raw: DeviceState.loads(raw) if raw else DeviceState())
    alarms_of = Decoded(alarm_table, lambda raw: AlarmState.loads(raw) if raw else AlarmState())
    config_for = Decoded(
        birth_table, lambda raw: config_of(decode(DeviceBirth, raw)) if raw else None
    )

    @app.on_partitions_revoked.connect
    async def drop_copies(*_args: Any, **_kwargs: Any) -> None:
        for decoded in (state_of, alarms_of, config_for):
            decoded.copies.clear()

    async def apply(config: DeviceConfig, sample: Sample) -> None:
        device_id = sample.device_id
        state = state_of(device_id)
        reading = Reading.of(sample)
        try:
            outcome, changed, final = state.accept(reading, config)
        except Exception:
            state_of.copies.pop(device_id, None)  # the table holds the state before this sample
            raise
        counters[outcome.value] += 1
        if outcome is Outcome.DUPLICATE:
            return
        device_table[device_id] = state.dumps()
        dirty[device_id].update(changed)
        watched[device_id] = (partition_of[device_id], config.max_gap_ms)
        alarm_state = alarms_of(device_id)
        before = alarm_state.persistent()
        alarms = alarm_state.on_reading(device_id, reading.ts_ms, reading.state, rules)
        # Final windows leave the state now: emit them before the timer could miss them.
        for start, emitted in sorted(final.items()):
            dirty[device_id].discard(start)
            window = await emit_device_window(device_id, start, emitted)
            alarms += alarm_state.on_final_window(device_id, window, rules)
            end_ms = start + emitted.parts.window_ms
            alarms += alarm_state.on_counter_reset(device_id, emitted.parts.counter_resets, end_ms)
        await save_alarms(device_id, before, alarm_state, alarms)

    async def save_alarms(
        device_id: str, before: tuple, state: AlarmState, alarms: list[Alarm]
    ) -> None:
        if state.persistent() != before:  # the newest time alone is not worth a write
            alarm_table[device_id] = state.dumps()
        for alarm in alarms:
            await alarms_out.send(key=device_id.encode(), value=encode(alarm))
        counters["alarms"] += len(alarms)

    async def sweep_silent(partition: int) -> None:
        """Offline alarms: devices of this partition silent beyond their max_gap."""
        now_ms = future.newest_ms[partition]
        if now_ms - swept_ms.get(partition, 0) < SWEEP_EVERY_MS:
            return
        swept_ms[partition] = now_ms
        for device_id, (device_partition, max_gap_ms) in list(watched.items()):
            if device_partition != partition:
                continue
            state = alarms_of(device_id)
            before = state.persistent()
            alarms = state.on_silence(device_id, now_ms, max_gap_ms)
            if alarms:
                await save_alarms(device_id, before, state, alarms)

    async def emit_device_window(device_id: str, start: int, emitted: Emitted) -> OeeWindow:
        window = oee_window(
            "device",
            device_id,
            start,
            emitted.parts,
            revision=emitted.revision,
            late_samples=emitted.late_samples,
        )
        await oee_out.send(key=window.key.encode(), value=encode(window))
        member = [device_id, start, emitted.revision, emitted.late_samples, emitted.parts.row()]
        await feed.send(key=window.key.encode(), value=orjson.dumps(member))
        counters["device_windows_emitted"] += 1
        return window

    @app.agent(inputs)
    async def devices(stream: faust.StreamT) -> None:
        async for event in stream.events():
            message = event.message
            source = Source(
                topic=topics.logical(message.topic, settings).value,
                partition=message.partition,
                offset=message.offset,
                key=event.key,
                value=event.value,
                timestamp_ms=round(message.timestamp * 1000) if message.timestamp else None,
            )
            try:
                await ingest(source)
            except Exception as exc:  # a bug must not stop the pipeline: dead-letter, go on
                log.exception(
                    "record %s:%s:%s failed", source.topic, source.partition, source.offset
                )
                await refuse(
                    source, ContractError("internal_error", f"{type(exc).__name__}: {exc}")
                )

    async def ingest(source: Source) -> None:
        """One record from iiot.registry or iiot.telemetry."""
        try:
            if source.topic == Topic.REGISTRY:
                await register(read_birth(source), source.value or b"")
                return
            sample = read_sample(source)
            future.check(source.partition, sample)
        except ContractError as error:
            await refuse(source, error)
            return
        partition_of[sample.device_id] = source.partition
        await sweep_silent(source.partition)
        config = config_for(sample.device_id)
        if config is None:
            await hold(source, sample.device_id)
            return
        await apply(config, sample)

    async def register(birth: DeviceBirth, raw: bytes) -> None:
        birth_table[birth.device_id] = raw
        config = config_for.copies[birth.device_id] = config_of(birth)
        await feed.send(key=b"birth", value=raw)
        counters["births"] += 1
        held = held_table.pop(birth.device_id, None)
        for held_raw in orjson.loads(held) if held else []:
            await apply(config, decode(Sample, held_raw))  # validated when it was held

    async def hold(source: Source, device_id: str) -> None:
        """Keep samples that came before their device's birth (a startup race), bounded."""
        held = orjson.loads(held_table.get(device_id) or b"[]")
        if len(held) >= MAX_HELD_PER_DEVICE:
            await refuse(
                source,
                ContractError(
                    "unknown_device",
                    f"device_id: no DeviceBirth for {device_id!r} on iiot.registry after "
                    f"{MAX_HELD_PER_DEVICE} samples: publish the birth first",
                ),
            )
            return
        held.append((source.value or b"").decode())
        held_table[device_id] = orjson.dumps(held)
        counters["held"] += 1

    @app.timer(settings.stream_emit_interval_s)
    async def emit_device_windows() -> None:
        pending = list(dirty.items())
        dirty.clear()
        for device_id, starts in pending:
            state = state_of(device_id)
            for start in sorted(starts):
                emitted = state.windows.get(start)
                if emitted is not None:  # else final, and emitted when it was dropped
                    await emit_device_window(device_id, start, emitted)

    @device_table.on_recover
    async def re_emit_devices() -> None:
        for device_id, state_raw in device_table.items():
            dirty[device_id].update(DeviceState.loads(state_raw).windows)

    @app.agent(feed)
    async def rollups(stream: faust.StreamT) -> None:
        async for event in stream.events():
            if event.key == b"birth":
                birth = decode(DeviceBirth, event.value)
                member_table[f"birth:{birth.device_id}"] = event.value
                rollup.on_birth(birth)
                continue
            member_table[f"window:{event.key.decode()}"] = event.value
            _add_member(rollup, event.value)
            horizon = rollup.newest_ms - 2 * (settings.grace_s * 1000) - rollup.digitization_ms
            if counters["members"] % 1_000 == 0:
                forget(horizon)
            counters["members"] += 1

    def forget(horizon_ms: int) -> None:
        rollup.forget_before(horizon_ms)
        for key in [k for k in member_table if k.startswith("window:")]:
            if _member_start(member_table[key]) + rollup.digitization_ms < horizon_ms:
                del member_table[key]

    @member_table.on_recover
    async def rebuild_rollups() -> None:
        for key, value in member_table.items():
            if key.startswith("birth:"):
                rollup.on_birth(decode(DeviceBirth, value))
        for key, value in member_table.items():
            if key.startswith("window:"):
                _add_member(rollup, value)

    @app.timer(settings.stream_emit_interval_s)
    async def emit_rollups() -> None:
        oee, digitization = rollup.take_dirty()
        for window in oee:
            await oee_out.send(key=window.key.encode(), value=encode(window))
        for window in digitization:
            await digitization_out.send(key=window.key.encode(), value=encode(window))
        counters["rollups_emitted"] += len(oee)
        counters["digitization_emitted"] += len(digitization)

    return app


def _member_start(raw: bytes) -> int:
    return orjson.loads(raw)[1]


def _add_member(rollup: RollupState, raw: bytes) -> None:
    device_id, start, revision, late, row = orjson.loads(raw)
    rollup.on_device_window(device_id, start, Parts(*row), revision, late)


def internal_topics(app: faust.App) -> list[tuple[str, int, dict[str, str]]]:
    """(name, partitions, config) of the topics Faust would create itself at start-up.

    Created before the worker starts: a topic Faust creates while its consumer is already
    subscribing can be "ignored as missing" for the whole run, leaving an agent idle.
    """
    compact = {"cleanup.policy": "compact"}
    made = [
        (table.changelog_topic.get_topic_name(), table.partitions, compact)
        for table in app.tables.values()
    ]
    feed = app.rollup_feed  # type: ignore[attr-defined]
    return [*made, (feed.get_topic_name(), 1, {})]
