"""Device OEE windows with Quix Streams, for bench/stream_worker.py: the same DeviceState logic as
`iiot stream`, in a stateful apply with Quix's RocksDB state; final windows to a topic.

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

    def windows(value: bytes, state) -> list[bytes]:
        try:
            sample = decode(Sample, value)
        except ContractError:
            return []
        config = births.get(sample.device_id)
        if config is None:
            return []
        raw = state.get("s")
        device = DeviceState.loads(raw.encode()) if raw else DeviceState()
        _, _, final = device.accept(Reading.of(sample), config)
        state.set("s", device.dumps().decode())  # Quix state values are JSON
        return [
            encode(oee_window("device", sample.device_id, start, e.parts, revision=e.revision))
            for start, e in sorted(final.items())
        ]

    out = app.topic(f"{settings.topic_prefix}bench.quix-oee", value_serializer="bytes")
    telemetry.apply(windows, stateful=True, expand=True).to_topic(out)
    app.run()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
