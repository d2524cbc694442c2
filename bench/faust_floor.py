"""Faust's own cost per record, for bench/stream_worker.py: a worker with the Faust settings
and event loop of `iiot stream` (streams/runtime.py) that reads telemetry through the same
batches (streams/batch.py) and does nothing with them, one-sample or batch records alike.

    python bench/faust_floor.py APP_ID   (IIOT_TOPIC_PREFIX picks the topic; APP_ID is the group)
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import faust

from iiot import topics
from iiot.kafka_security import faust_credentials
from iiot.settings import get_settings
from iiot.topics import Topic
from streams.app import BATCH_MAX
from streams.batch import Batch, Batches
from streams.runtime import FAUST_SETTINGS, use_uvloop


async def nothing(batch: Batch) -> None:
    return None


async def lost(error: BaseException, what: str) -> None:
    raise SystemExit(f"{what}: {error}")  # nothing is written, so nothing can be lost


def main(app_id: str) -> None:
    settings = get_settings()
    use_uvloop()  # as `iiot stream` does
    (Path(tempfile.gettempdir()) / "iiot-streams").mkdir(exist_ok=True)
    app = faust.App(
        app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=faust_credentials(settings),
        store="memory://",
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,
        web_enabled=False,
        **FAUST_SETTINGS,
        datadir=Path(tempfile.gettempdir()) / "iiot-streams" / app_id,  # as the worker's
    )
    telemetry = app.topic(topics.name(Topic.TELEMETRY, settings), key_type=bytes, value_type=bytes)
    batches = Batches(nothing, BATCH_MAX, lost)

    @app.agent(telemetry)
    async def read(stream: faust.StreamT) -> None:
        await batches.run(stream, lambda batch, event: None)

    @app.timer(settings.stream_emit_interval_s)
    async def write() -> None:
        await batches.flush()

    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    sys.argv, app_id = sys.argv[:1], sys.argv[1]
    main(app_id)
