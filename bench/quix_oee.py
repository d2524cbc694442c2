"""Device OEE windows with Quix Streams, for bench/stream_worker.py: the same DeviceState logic as
`iiot stream`, in a stateful apply with Quix's RocksDB state; final windows to a topic. A
batch record (iiot/wire/sample_batch.py) is unpacked and each of its samples, checked by the
contract, goes through the same logic in the record's order; a bad one is skipped alone.

    python bench/quix_oee.py CONSUMER_GROUP STATE_DIR   (IIOT_TOPIC_PREFIX picks the topics)
"""

from __future__ import annotations

import sys

from quixstreams import Application

from iiot import topics
from iiot.contract import ContractError, decode, encode
from iiot.messages import DeviceBirth, Sample
from iiot.oee import Reading, oee_window
from iiot.settings import get_settings
from iiot.topics import Topic
from iiot.wire import sample_batch
from streams.device_state import DeviceConfig, DeviceState


def main(group: str, state_dir: str) -> None:
    settings = get_settings()
    app = Application(
        broker_address=settings.kafka_bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        commit_interval=0.5,  # fine-grained progress for the bench to watch
    )
    births: dict[str, DeviceConfig] = {}

    registry = app.dataframe(
        app.topic(topics.name(Topic.REGISTRY, settings), value_deserializer="bytes")
    )

    def register(value: bytes) -> None:
        birth = decode(DeviceBirth, value)
        births[birth.device_id] = DeviceConfig(
            window_ms=settings.oee_window_s * 1000,
            max_gap_ms=round(birth.sample_interval_s * settings.max_gap_intervals * 1000),
            grace_ms=settings.grace_s * 1000,
            ideal_cycle_s=birth.ideal_cycle_s,
        )

    registry.update(register)

    telemetry = app.dataframe(
        app.topic(topics.name(Topic.TELEMETRY, settings), value_deserializer="bytes")
    )

    def samples(value: bytes) -> list[Sample]:
        try:
            batch = sample_batch.unpack(value) if sample_batch.is_batch(value) else None
            if batch is None:
                return [decode(Sample, value)]
        except ContractError:
            return []
        good = []
        for element in batch.samples:
            try:
                good.append(sample_batch.sample_of(batch.device_id, element))
            except ContractError:
                continue
        return good

    def windows(value: bytes, state) -> list[bytes]:
        device, config, out = None, None, []
        for sample in samples(value):
            config = births.get(sample.device_id)
            if config is None:
                continue
            if device is None:  # one state read and write per record: a record is one device
                raw = state.get("s")
                device = DeviceState.loads(raw.encode()) if raw else DeviceState()
            _, _, final = device.accept(Reading.of(sample), config)
            out += [
                encode(oee_window("device", sample.device_id, start, e.parts, revision=e.revision))
                for start, e in sorted(final.items())
            ]
        if device is not None:
            state.set("s", device.dumps().decode())  # Quix state values are JSON
        return out

    out = app.topic(f"{settings.topic_prefix}bench.quix-oee", value_serializer="bytes")
    telemetry.apply(windows, stateful=True, expand=True).to_topic(out)
    app.run()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
