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
import tempfile
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

import faust
import orjson

from iiot import topics
from iiot.contract import ContractError, decode, encode, letter_key
from iiot.kafka_security import faust_credentials
from iiot.messages import DeviceBirth
from iiot.oee import Parts, Reading, oee_window
from iiot.results import Alarm
from iiot.settings import Settings
from iiot.topics import Topic
from iiot.wire.oee_json import oee_window_json
from streams.alarms import AlarmRules, AlarmState
from streams.batch import Batch, Batches, Outbox, send_all
from streams.clock import PartitionClocks
from streams.device_state import DeviceConfig, DeviceState, Emitted, Outcome
from streams.held import HeldSamples
from streams.ingest import FutureGuard, Source, fast_reading, read_birth, read_sample
from streams.rollup_state import RollupState
from streams.runtime import FAUST_SETTINGS

log = logging.getLogger("iiot.streams")
T = TypeVar("T")

SWEEP_EVERY_MS = 5_000  # of event time, per partition: how often to look for silent devices
FED_WINDOWS = b"windows"  # key of a roll-up feed record holding device windows
FED_PER_RECORD = 2_000
# Records per batch at most; a batch is also written on the emit timer (the checkpoint, as
# Quix Streams has one): each touched device's state is written once per batch, so bigger
# batches mean fewer changelog records, and the timer bounds what a batch adds to latency.
BATCH_MAX = 20_000


class DevicePath(NamedTuple):
    """The device agent's own work: a record into a batch, a batch written, windows emitted."""

    take: Callable[[Batch, faust.EventT], None]
    write: Callable[[Batch], Awaitable[None]]
    emit: Callable[[], Awaitable[None]]


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
    # Tables are in memory, yet Faust makes a data dir: not in the working directory.
    datadir = Path(tempfile.gettempdir()) / "iiot-streams" / f"{prefix}iiot-streams"
    datadir.parent.mkdir(exist_ok=True)
    app = faust.App(
        f"{prefix}iiot-streams",
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),  # SASL/TLS: iiot/kafka_security.py
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        topic_partitions=settings.telemetry_partitions,
        topic_replication_factor=1,  # unused: `iiot stream` makes all topics (internal_topics)
        producer_acks=-1,
        producer_compression_type="lz4",
        consumer_auto_offset_reset="earliest",
        # A worker that dies (SIGKILL, OOM) hands its partitions on after this, not 60 s.
        broker_session_timeout=settings.stream_session_timeout_s,
        broker_heartbeat_interval=max(settings.stream_session_timeout_s / 4, 1.0),
        producer_linger=0.005,
        # A batch writes hundreds of device states (KBs each) at once: with 16 KB producer
        # batches and one request in flight per partition, sends waited on round trips.
        producer_max_batch_size=512 * 1024,
        web_enabled=False,
        datadir=datadir,
        stream_wait_empty=False,  # records of an unwritten batch are not acked: see batch.py
        **FAUST_SETTINGS,  # streams/runtime.py: what Faust costs per record, trimmed
    )
    app.conf.table_cleanup_interval = 3600.0
    # Their debug records are made whatever the worker's level (~5% each): one per send.
    for chatty in ("aiokafka", "faust.topics"):
        logging.getLogger(chatty).setLevel(logging.WARNING)

    def topic(t: Topic, **kw: Any) -> faust.TopicT:
        return app.topic(topics.name(t, settings), key_type=bytes, value_type=bytes, **kw)

    registry_topic = topics.name(Topic.REGISTRY, settings)
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
    oee_topic, feed_topic = oee_out.get_topic_name(), feed.get_topic_name()
    n = settings.telemetry_partitions
    device_table = app.Table("device-state", partitions=n, key_type=str, value_type=bytes)
    birth_table = app.Table("births", partitions=n, key_type=str, value_type=bytes)
    held_table = app.Table("held-samples", partitions=n, key_type=str, value_type=bytes)
    # partition → its FutureGuard state at its last batch ends, for its next owner
    clock_table = app.Table("partition-clock", partitions=n, key_type=str, value_type=bytes)
    member_table = app.Table("rollup-members", partitions=1, key_type=str, value_type=bytes)
    alarm_table = app.Table("alarm-state", partitions=n, key_type=str, value_type=bytes)

    window_ms = settings.oee_window_s * 1000
    rollup = RollupState(
        window_ms, settings.digitization_window_s * 1000, settings.digitization_weights
    )
    future = FutureGuard(settings.future_tolerance_s * 1000, restored=lambda *at: clocks.at(*at))
    clocks = PartitionClocks(clock_table, future)
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

    def refuse(batch: Batch, source: Source, error: ContractError) -> None:
        counters[f"deadletter.{error.code}"] += 1
        batch.send(deadletter_out, letter_key(source.key) or b"", encode(source.refuse(error)))

    state_of = Decoded(device_table, lambda raw: DeviceState.loads(raw) if raw else DeviceState())
    alarms_of = Decoded(alarm_table, lambda raw: AlarmState.loads(raw) if raw else AlarmState())
    held = HeldSamples(held_table)
    config_for = Decoded(
        birth_table, lambda raw: config_of(decode(DeviceBirth, raw)) if raw else None
    )

    @app.on_partitions_revoked.connect
    async def hand_on(_app: Any, revoked: set, **_kwargs: Any) -> None:
        """Write the open batches and wait for them before the partitions move on (see
        streams/batch.py); then drop the decoded copies: the tables are the truth."""
        await device_batches.flush()
        await member_batches.flush()
        await app.producer.flush()
        for decoded in (state_of, alarms_of, config_for):
            decoded.copies.clear()
        moved(revoked)

    @app.on_partitions_assigned.connect
    async def take_over(_app: Any, assigned: set, **_kwargs: Any) -> None:
        moved(assigned)

    def moved(partitions: set) -> None:
        """Partitions revoked or assigned: their event time is what their changelog says
        where the stream resumes (streams/clock.py), not what this worker last saw."""
        numbers = {tp.partition for tp in partitions}
        future.forget(numbers)
        clocks.forget(numbers)
        for number in numbers:
            swept_ms.pop(number, None)

    async def lost(error: BaseException, what: str) -> None:
        """A send failed: nothing of it may be committed. Stop; the restart replays (and
        re-emits every window its recovered state holds)."""
        log.critical(
            "%s not written or not delivered (%s: %s): stopping the worker; it resumes "
            "from its last commit",
            what, type(error).__name__, error,
        )  # fmt: skip
        await app.crash(error)

    async def send_or_stop(out: Outbox, what: str) -> None:
        try:
            await send_all(app.producer, out)
        except Exception as exc:
            await lost(exc, what)
            raise

    def apply(batch: Batch, config: DeviceConfig, device_id: str, reading: Reading) -> None:
        state = state_of.copies.get(device_id) or state_of(device_id)  # a call less, usually
        try:
            outcome, changed, final = state.accept(reading, config)
        except Exception:
            # The table holds the state before this batch: redo the batch's earlier readings.
            state = state_of.copies[device_id] = state_of.load(device_table.get(device_id))
            for earlier in batch.readings.get(device_id, []):
                state.accept(earlier, config)
            raise
        counters[outcome._value_] += 1  # `.value` is a Python property: a call per sample
        if outcome is Outcome.DUPLICATE:
            return
        batch.readings[device_id].append(reading)
        dirty[device_id].update(changed)
        watched[device_id] = (partition_of[device_id], config.max_gap_ms)
        alarm_state = alarms_of.copies.get(device_id) or alarms_of(device_id)
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
            dirty[device_id].discard(start)
            emit_device_window(batch.out, batch.feed, device_id, start, emitted)
            revision, late = emitted.revision, emitted.late_samples
            window = oee_window("device", device_id, start, emitted.parts,
                                revision=revision, late_samples=late)  # fmt: skip
            alarms += alarm_state.on_final_window(device_id, window, rules)
            end_ms = start + emitted.parts.window_ms
            alarms += alarm_state.on_counter_reset(device_id, emitted.parts.counter_resets, end_ms)
        note_alarms(batch, device_id, before, alarm_state, alarms)

    def note_alarms(
        batch: Batch, device_id: str, before: tuple, state: AlarmState, alarms: list[Alarm]
    ) -> None:
        if state.persistent() != before:  # the newest time alone is not worth a write
            batch.alarms.add(device_id)
        for alarm in alarms:
            batch.send(alarms_out, device_id.encode(), encode(alarm))
        counters["alarms"] += len(alarms)

    def sweep_silent(batch: Batch, partition: int) -> None:
        """Offline alarms: devices of this partition silent beyond their max_gap (called
        every SWEEP_EVERY_MS of the partition's event time)."""
        now_ms = swept_ms[partition] = future.newest_ms[partition]
        expire_held(batch, partition, now_ms)
        for device_id, (device_partition, max_gap_ms) in list(watched.items()):
            if device_partition != partition:
                continue
            state = alarms_of(device_id)
            before = state.persistent()
            alarms = state.on_silence(device_id, now_ms, max_gap_ms)
            if alarms:
                note_alarms(batch, device_id, before, state, alarms)

    def emit_device_window(
        out: Outbox, fed: list, device_id: str, start: int, emitted: Emitted
    ) -> None:
        """The window to iiot.oee, and to `fed`: the roll-ups get all of them in one record."""
        revision, late = emitted.revision, emitted.late_samples
        sent = oee_window_json("device", device_id, start, emitted.parts, revision, late)
        if sent is None:  # what the model may refuse: let it say why
            window = oee_window("device", device_id, start, emitted.parts, revision=revision,
                                late_samples=late)  # fmt: skip
            sent = window.key, encode(window)
        key, value = sent
        out.append((oee_topic, key.encode(), value, None))
        fed.append((key, [device_id, start, revision, late, emitted.parts.row()]))
        counters["device_windows_emitted"] += 1

    def take(batch: Batch, event: faust.EventT) -> None:
        try:
            ingest(batch, event)
        except Exception as exc:  # a bug must not stop the pipeline: dead-letter, go on
            source = source_of(event)
            log.exception("record %s:%s:%s failed", source.topic, source.partition, source.offset)
            refuse(batch, source, ContractError("internal_error", f"{type(exc).__name__}: {exc}"))

    def source_of(event: faust.EventT) -> Source:
        """Where a record came from: made only for one that is refused, held or a birth."""
        message = event.message
        return Source(
            topic=topics.logical(message.topic, settings).value,
            partition=message.partition,
            offset=message.offset,
            key=event.key,
            value=event.value,
            timestamp_ms=round(message.timestamp * 1000) if message.timestamp else None,
        )

    async def write_devices(batch: Batch) -> None:
        """The batch's state, one changelog record per touched device, then its results."""
        for device_id in batch.readings:
            state = state_of.copies[device_id]
            batch.put(device_table, partition_of[device_id], device_id, state.dumps())
        for device_id in batch.alarms:
            alarm_state = alarms_of.copies[device_id]
            batch.put(alarm_table, partition_of[device_id], device_id, alarm_state.dumps())
        held.write(batch)
        clocks.write(batch)
        await send_all(app.producer, [*batch.out, *feed_record(batch.feed)])

    device_batches = Batches(write_devices, BATCH_MAX, lost)

    @app.agent(inputs)
    async def devices(stream: faust.StreamT) -> None:
        await device_batches.run(stream, take)

    def ingest(batch: Batch, event: faust.EventT) -> None:
        """One record from iiot.registry or iiot.telemetry."""
        message = event.message
        partition = message.partition
        try:
            if message.topic == registry_topic:
                source = source_of(event)
                register(batch, partition, read_birth(source), source.value or b"")
                return
            if partition not in future.resumed:  # its first record since it was assigned
                future.resume(partition, message.offset)
            batch.ends[partition] = message.offset + 1
            # Plainly valid samples skip pydantic; anything else is read (or refused) by it.
            read = fast_reading(event.key, event.value)
            if read is None:
                sample = read_sample(source_of(event))
                read = sample.device_id, Reading.of(sample)
            device_id, reading = read
            future.check(partition, reading.ts_ms)
        except ContractError as error:
            refuse(batch, source_of(event), error)
            return
        partition_of[device_id] = partition
        now_ms = future.newest_ms.get(partition)  # None until the partition's time is known
        if now_ms is not None and now_ms - swept_ms.get(partition, 0) >= SWEEP_EVERY_MS:
            sweep_silent(batch, partition)
        config = config_for.copies.get(device_id) or config_for(device_id)
        if config is None:
            hold(batch, event, device_id, reading)
            return
        apply(batch, config, device_id, reading)

    def register(batch: Batch, partition: int, birth: DeviceBirth, raw: bytes) -> None:
        device_id = birth.device_id
        batch.put(birth_table, partition, device_id, raw)
        config = config_for.copies[device_id] = config_of(birth)
        batch.send(feed, b"birth", raw)
        counters["births"] += 1
        released = held.release(batch, device_id)
        partition_of[device_id] = partition
        for _, reading in released.rows if released else ():  # validated when held
            apply(batch, config, device_id, reading)

    def hold(batch: Batch, event: faust.EventT, device_id: str, reading: Reading) -> None:
        """Keep samples that came before their device's birth (streams/held.py)."""
        message = event.message
        why_not = held.hold(batch, device_id, message.partition, message.offset, reading)
        if why_not:
            refuse(batch, source_of(event), unknown_device(device_id, why_not))
            return
        counters["held"] += 1

    def unknown_device(device_id: str, why: str) -> ContractError:
        return ContractError(
            "unknown_device",
            f"device_id: no DeviceBirth for {device_id!r} on iiot.registry, {why}: "
            "publish the birth first",
        )

    def expire_held(batch: Batch, partition: int, now_ms: int) -> None:
        """Held samples too old for a birth to come: one dead letter each, where it came
        from; the payload is the held reading, the original bytes are not kept."""
        for device_id, offset, reading in held.expire(batch, partition, now_ms):
            key = device_id.encode()
            value = orjson.dumps(dict(zip(Reading._fields, reading, strict=True)))
            source = Source(Topic.TELEMETRY.value, partition, offset, key, value, None)
            why = "held past its time (payload: the reading held, not the original record)"
            refuse(batch, source, unknown_device(device_id, why))

    async def emit_device_windows() -> None:
        pending = list(dirty.items())
        dirty.clear()
        out: Outbox = []
        fed: list = []
        for device_id, starts in pending:
            state = state_of(device_id)
            for start in sorted(starts):
                emitted = state.windows.get(start)
                if emitted is not None:  # else final, and emitted when it was dropped
                    emit_device_window(out, fed, device_id, start, emitted)
        await send_or_stop([*out, *feed_record(fed)], "emitted device windows")

    app.timer(settings.stream_emit_interval_s)(emit_device_windows)
    # The device path as the worker runs it, for bench/stream_parts.py (no Kafka, no Faust).
    app.device_path = DevicePath(take, write_devices, emit_device_windows)  # type: ignore[attr-defined]

    def feed_record(fed: list) -> Outbox:
        # One record of many device windows: a record each cost a send and, in the roll-ups'
        # agent, a whole Faust event; births go one by one (key b"birth"), before.
        # At most FED_PER_RECORD windows a record (~150 B each), well under Kafka's 1 MB.
        return [
            (feed_topic, FED_WINDOWS, orjson.dumps(fed[i : i + FED_PER_RECORD]), None)
            for i in range(0, len(fed), FED_PER_RECORD)
        ]

    @held_table.on_recover
    async def rebuild_held() -> None:
        held.rebuild()

    @device_table.on_recover
    async def re_emit_devices() -> None:
        for device_id, state_raw in device_table.items():
            dirty[device_id].update(DeviceState.loads(state_raw).windows)

    def take_member(batch: Batch, event: faust.EventT) -> None:
        if event.key == b"birth":
            birth = decode(DeviceBirth, event.value)
            batch.put(member_table, 0, f"birth:{birth.device_id}", event.value)
            rollup.on_birth(birth)
            return
        for key, member in orjson.loads(event.value):
            batch.members[f"window:{key}"] = member  # the newest only
            _add_member(rollup, member)
            counters["members"] += 1

    async def write_members(batch: Batch) -> None:
        for key, member in batch.members.items():
            batch.put(member_table, 0, key, orjson.dumps(member))
        if counters["members"] - forgot_at[0] >= 1_000:
            forgot_at[0] = counters["members"]
            horizon = rollup.newest_ms - 2 * (settings.grace_s * 1000) - rollup.digitization_ms
            forget(batch, horizon)
        await send_all(app.producer, batch.out)

    forgot_at = [0]  # members seen when old windows were last forgotten
    member_batches = Batches(write_members, BATCH_MAX, lost)

    @app.agent(feed)
    async def rollups(stream: faust.StreamT) -> None:
        await member_batches.run(stream, take_member)

    @app.timer(settings.stream_emit_interval_s)
    async def write_batches() -> None:
        await device_batches.flush()
        await member_batches.flush()

    def forget(batch: Batch, horizon_ms: int) -> None:
        rollup.forget_before(horizon_ms)
        for key in [k for k in member_table if k.startswith("window:")]:
            if _member_start(member_table[key]) + rollup.digitization_ms < horizon_ms:
                batch.drop(member_table, 0, key)

    @member_table.on_recover
    async def rebuild_rollups() -> None:
        for key, value in member_table.items():
            if key.startswith("birth:"):
                rollup.on_birth(decode(DeviceBirth, value))
        for key, value in member_table.items():
            if key.startswith("window:"):
                _add_member(rollup, orjson.loads(value))

    @app.timer(settings.stream_emit_interval_s)
    async def emit_rollups() -> None:
        oee, digitization = rollup.take_dirty()
        out: Outbox = [(oee_topic, w.key.encode(), encode(w), None) for w in oee]
        name = digitization_out.get_topic_name()
        out += [(name, w.key.encode(), encode(w), None) for w in digitization]
        await send_or_stop(out, "emitted roll-up windows")
        counters["rollups_emitted"] += len(oee)
        counters["digitization_emitted"] += len(digitization)

    return app


def _member_start(raw: bytes) -> int:
    return orjson.loads(raw)[1]


def _add_member(rollup: RollupState, member: list) -> None:
    device_id, start, revision, late, row = member
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
    # Faust's leader election topic: made here it gets the broker's replication factor, not
    # the topic_replication_factor Faust would give it (1, what one local broker allows).
    leader = f"{app.conf.id}-__assignor-__leader"
    return [*made, (feed.get_topic_name(), 1, {}), (leader, 1, {})]
