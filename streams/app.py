"""The Faust app: telemetry and births in; device OEE, roll-ups, digitization and dead
letters out. Only the wiring: topics, tables, agents, timers and hooks; the work is done by
two flows, each testable without Kafka.

- The device flow (streams/device_flow.py) reads iiot.registry and iiot.telemetry (same
  key, same partition count, so a device's birth and samples meet in one worker), keeps
  each device's state in changelogged tables and feeds the device windows that changed to
  an internal topic.
- The roll-up flow (streams/rollup_flow.py) reads that one-partition internal topic and
  adds the device windows up.

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
from typing import Any, NamedTuple

import faust
from faust.types import TP

from iiot import topics
from iiot.kafka_security import faust_credentials
from iiot.settings import Settings
from iiot.topics import Topic
from streams.batch import Batch, Batches, Outbox, send_all
from streams.device_flow import DeviceFlow
from streams.devices import Devices
from streams.positions import Positions
from streams.rollup_flow import RollupFlow
from streams.runtime import FAUST_SETTINGS

log = logging.getLogger("iiot.streams")
# Records per batch at most; a batch is also written on the emit timer (the checkpoint, as
# Quix Streams has one): each touched device's state is written once per batch, so bigger
# batches mean fewer changelog records, and the timer bounds what a batch adds to latency.
BATCH_MAX = 20_000


class DevicePath(NamedTuple):
    """The device agent's own work: a record into a batch, a batch written, windows emitted."""

    take: Callable[[Batch, faust.EventT], None]
    write: Callable[[Batch], Awaitable[None]]
    emit: Callable[[], Awaitable[None]]


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

    inputs = app.topic(
        topics.name(Topic.REGISTRY, settings),
        topics.name(Topic.TELEMETRY, settings),
        key_type=bytes,
        value_type=bytes,
    )
    oee_out = topic(Topic.OEE)
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
    # partition → its FutureGuard state at its last batch ends, for its next owner
    clock_table = app.Table("partition-clock", partitions=n, key_type=str, value_type=bytes)
    member_table = app.Table("rollup-members", partitions=1, key_type=str, value_type=bytes)
    alarm_table = app.Table("alarm-state", partitions=n, key_type=str, value_type=bytes)

    counters: defaultdict[str, int] = defaultdict(int)
    app.counters = counters  # type: ignore[attr-defined]
    states = Devices(
        settings,
        state_table=device_table,
        alarm_table=alarm_table,
        birth_table=birth_table,
        oee_topic=oee_out.get_topic_name(),
        alarms_out=topic(Topic.ALARMS),
        counters=counters,
    )
    device_flow = DeviceFlow(
        settings,
        states,
        held_table=held_table,
        clock_table=clock_table,
        feed=feed,
        deadletter_out=topic(Topic.DEADLETTER),
        counters=counters,
    )
    rollup_flow = RollupFlow(
        settings,
        member_table=member_table,
        oee_topic=oee_out.get_topic_name(),
        digitization_topic=topic(Topic.DIGITIZATION).get_topic_name(),
        counters=counters,
    )
    app.device_flow, app.rollup_flow = device_flow, rollup_flow  # type: ignore[attr-defined]

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

    # -- the device flow -----------------------------------------------------------------

    async def write_devices(batch: Batch) -> None:
        await send_all(app.producer, device_flow.write(batch))

    async def emit_device_windows() -> None:
        await send_or_stop(device_flow.emit(), "emitted device windows")

    # Which records the flows take, in offset order, each once (streams/positions.py).
    telemetry_topic = topics.name(Topic.TELEMETRY, settings)

    def reread(tps: list[TP]) -> None:
        device_flow.moved(tp.partition for tp in tps if tp.topic == telemetry_topic)

    registry_topic = topics.name(Topic.REGISTRY, settings)
    positions = Positions(
        app, [*inputs.topics, feed.get_topic_name()], reread, compacted=[registry_topic]
    )
    device_batches = Batches(write_devices, BATCH_MAX, lost, positions)

    @app.agent(inputs)
    async def devices(stream: faust.StreamT) -> None:
        positions.follow_seeks()  # agents start before the first assignment's seek
        await device_batches.run(stream, device_flow.take)

    app.timer(settings.stream_emit_interval_s)(emit_device_windows)
    # The device path as the worker runs it, for bench/stream_parts.py (no Kafka, no Faust).
    app.device_path = DevicePath(device_flow.take, write_devices, emit_device_windows)  # type: ignore[attr-defined]

    @held_table.on_recover
    async def rebuild_held() -> None:
        device_flow.held.rebuild()

    @device_table.on_recover
    async def re_emit_devices() -> None:
        states.recovered()

    # -- the roll-up flow ------------------------------------------------------------------

    async def write_members(batch: Batch) -> None:
        await send_all(app.producer, rollup_flow.write(batch))

    member_batches = Batches(write_members, BATCH_MAX, lost, positions)

    @app.agent(feed)
    async def rollups(stream: faust.StreamT) -> None:
        await member_batches.run(stream, rollup_flow.take)

    @member_table.on_recover
    async def rebuild_rollups() -> None:
        rollup_flow.recovered()

    @app.timer(settings.stream_emit_interval_s)
    async def emit_rollups() -> None:
        await send_or_stop(rollup_flow.emit(), "emitted roll-up windows")

    # -- both --------------------------------------------------------------------------------

    @app.timer(settings.stream_emit_interval_s)
    async def write_batches() -> None:
        await device_batches.flush()
        await member_batches.flush()
        await positions.check()

    @app.on_partitions_revoked.connect
    async def hand_on(_app: Any, revoked: set, **_kwargs: Any) -> None:
        """Write the open batches and wait for them before the partitions move on (see
        streams/batch.py); then drop the decoded copies: the tables are the truth."""
        positions.forget(revoked)  # first: nothing of theirs is taken after the flush
        await device_batches.flush()
        await member_batches.flush()
        await app.producer.flush()
        device_flow.revoked(tp.partition for tp in revoked)

    @app.on_partitions_assigned.connect
    async def take_over(_app: Any, assigned: set, **_kwargs: Any) -> None:
        device_flow.moved(tp.partition for tp in assigned)

    return app


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
