"""`iiot sink` with the real broker and the real PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest
from psycopg import sql

from dashboards.catalog import render_all
from dashboards.context import Build
from dashboards.macros import TimeRange, expand
from iiot.contract import encode
from iiot.messages import Sample
from iiot.results import OeeWindow
from iiot.settings import Settings
from iiot.topics import Topic
from sinks.sink_status import group_lag
from sinks.tables import ROUTES, TARGETS
from tests.conftest import SAMPLE
from tests.integration import sink_support as s

pytestmark = pytest.mark.integration


def everything() -> list[s.Record]:
    return [
        *s.births(4), *s.samples(4, 50), *s.oee_windows(), *s.digitization(), *s.alarms(),
    ]  # fmt: skip


def test_every_topic_lands_once_and_a_replay_changes_nothing(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    schema = sink_settings.pg_schema
    s.produce(sink_settings, everything())
    s.produce(sink_settings, s.samples(4, 10))  # resent samples: (device_id, seq) again
    s.drain(sink_settings, schema)
    first = s.snapshot(writer, schema)
    assert {table: len(rows) for table, rows in first.items()} == {
        "enterprise": 1, "device": 4, "plant_calendar": 1, "telemetry": 200, "oee": 2,
        "digitization": 1, "alarm": 2, "deadletter": 0,
    }  # fmt: skip
    revision, late = writer.execute(
        sql.SQL("SELECT revision, late_samples FROM {} ORDER BY window_start LIMIT 1").format(
            sql.Identifier(schema, "oee")
        )
    ).fetchone() or (None, None)
    assert (revision, late) == (1, 2)  # the correction won
    # The same Kafka data consumed again, by a new group from the start: identical tables.
    again = sink_settings.model_copy(update={"sink_group": "iiot-sink-replay"})
    s.drain(again, schema)
    assert s.snapshot(writer, schema) == first


def test_arrival_is_stamped_by_the_database_and_read_by_the_freshness_panel(
    sink_settings: Settings, writer: psycopg.Connection, reader: psycopg.Connection
) -> None:
    schema = sink_settings.pg_schema
    bad = (Topic.ALARMS, "qd-press00", b'{"v": 1, "device_id": "qd-press00"}')
    s.produce(sink_settings, [*everything(), bad])  # the bad one comes back as a dead letter
    before = _db_now(writer)
    s.drain(sink_settings, schema)
    after = _db_now(writer)
    for target in TARGETS:  # every row stamped, by the database's clock, during the drain
        query = sql.SQL("SELECT count(*), count(arrived_at), min(arrived_at), max(arrived_at) "
                        "FROM {}").format(sql.Identifier(schema, target.table))  # fmt: skip
        rows, stamped, first, last = writer.execute(query).fetchone() or (0, 0, None, None)
        assert rows == stamped > 0, target.table
        assert before <= first <= last <= after, target.table
    oee = sql.SQL("SELECT revision, arrived_at FROM {} ORDER BY window_start").format(
        sql.Identifier(schema, "oee")
    )
    (_, corrected), (_, untouched) = writer.execute(oee).fetchall()
    window = s.oee_windows()[1]
    newer = OeeWindow.model_validate({**orjson.loads(window[2]), "revision": 2}, strict=False)
    s.produce(sink_settings, [(Topic.OEE, newer.key, encode(newer))])
    # Everything again, by a new group: only the higher revision is a new arrival.
    s.drain(sink_settings.model_copy(update={"sink_group": "iiot-sink-again"}), schema)
    (revision, restamped), (_, still) = writer.execute(oee).fetchall()
    assert revision == 2 and restamped > corrected  # a replacing row arrived now
    assert still == untouched

    pipeline = render_all(Build(language="en", schema=schema))["iiot-pipeline"]
    panel = next(p for p in pipeline["panels"] if p["title"] == "Freshness per topic")  # type: ignore[union-attr]
    since = min(s.T0, datetime.now(UTC) - timedelta(hours=6))  # event times of T0 included
    query = expand(panel["targets"][0]["rawSql"], TimeRange(since, datetime.now(UTC)),
                   interval_s=60, timescaledb=False)  # fmt: skip
    ages = {topic: age_s for topic, _, age_s in reader.execute(query).fetchall()}
    assert set(ages) == {f"iiot.{t}" for t in ("registry", "telemetry", "oee", "digitization",
                                                "alarms", "deadletter")}  # fmt: skip
    for topic, age_s in ages.items():
        assert age_s is not None and 0 <= age_s < 120, topic  # recent, by arrival


def _db_now(conn: psycopg.Connection) -> datetime:
    row = conn.execute("SELECT clock_timestamp()").fetchone()
    assert row is not None
    return row[0]


def test_lower_revision_never_overwrites(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    windows = s.oee_windows()
    s.produce(sink_settings, [windows[1], windows[0]])  # revision 1, then a stale revision 0
    s.drain(sink_settings, sink_settings.pg_schema)
    rows = writer.execute(
        sql.SQL("SELECT revision FROM {}").format(sql.Identifier(sink_settings.pg_schema, "oee"))
    ).fetchall()
    assert rows == [(1,)]


def test_poison_row_and_bad_message_are_dead_lettered_the_rest_lands(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    schema = sink_settings.pg_schema
    # Valid by the contract, refused by PostgreSQL: text cannot hold a NUL character.
    poison = Sample.model_validate({**SAMPLE, "product": "DOOR\x00A"}, strict=False)
    records = [
        *s.births(2),
        *s.samples(2, 20),
        (Topic.TELEMETRY, poison.device_id, encode(poison)),
        (Topic.TELEMETRY, "qd-press00", b'{"v": 1, "device_id": "qd-press00"}'),
        *s.samples(2, 20, first_seq=20),
    ]
    s.produce(sink_settings, records)
    sink = s.drain(sink_settings, schema)
    assert s.count(writer, schema, "telemetry") == 80
    letters = writer.execute(
        sql.SQL("SELECT stage, code, topic, reason, payload FROM {} ORDER BY code").format(
            sql.Identifier(schema, "deadletter")
        )
    ).fetchall()
    # The undecodable sample is counted, and left to the stream worker to letter (it reads
    # every telemetry record, with the more specific reasons): one record, one letter.
    assert [(stage, code, topic) for stage, code, topic, _, _ in letters] == [
        ("sink", "db_rejected", "iiot.telemetry"),
    ]
    assert "telemetry" in letters[0][3]
    assert json.loads(letters[0][4])["product"] == "DOOR\x00A"  # the original, kept whole
    assert sink.stats.rejected == 1 and sink.stats.undecodable == 1


def test_sink_status_shows_lag_and_rows(
    sink_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    s.produce(sink_settings, s.births(2) + s.samples(2, 5))
    s.drain(sink_settings, sink_settings.pg_schema)
    s.produce(sink_settings, s.samples(2, 3, first_seq=5))  # not consumed yet: lag 6
    for field, value in (
        ("TOPIC_PREFIX", sink_settings.topic_prefix),
        ("PG_SCHEMA", sink_settings.pg_schema),
    ):
        monkeypatch.setenv(f"IIOT_{field}", value)
    from iiot.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["sink", "status"], terminal_width=200)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "iiot.telemetry" in x)
    assert [cell.strip() for cell in line.split("│")[1:5]] == ["iiot.telemetry", "10", "16", "6"]
    rows = next(x for x in result.output.splitlines() if "│ telemetry" in x)
    assert rows.split("│")[2].strip() == "10"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_stops_the_sink_process_cleanly_whichever_it_is(
    sink_settings: Settings, writer: psycopg.Connection, signum: signal.Signals
) -> None:
    """`iiot sink` stopped by Ctrl-C or by `docker stop`/Kubernetes (SIGTERM): it writes what
    it holds, commits the offsets and exits 0 (cli/signals.py)."""
    env = dict(os.environ, IIOT_TOPIC_PREFIX=sink_settings.topic_prefix)
    env |= {"IIOT_PG_SCHEMA": sink_settings.pg_schema, "IIOT_SINK_BATCH_S": "0.2"}
    records = s.births(2) + s.samples(2, 20)
    s.produce(sink_settings, records)
    command = [sys.executable, "-m", "cli", "sink", "--no-migrate"]
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        deadline = time.monotonic() + 60
        while s.count(writer, sink_settings.pg_schema, "telemetry") < 40:
            assert process.poll() is None, process.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the sink did not write the samples in 60 s"
            time.sleep(0.3)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err[-2000:]
    assert "Traceback" not in err  # the last line is the sink's own, not a dying one
    assert err.strip().splitlines()[-1].startswith(f"sink: {sink_settings.kafka_bootstrap} → ")
    lags = group_lag(sink_settings, tuple(ROUTES))
    assert {lag.topic: lag.lag for lag in lags if lag.newest} == {
        Topic.REGISTRY: 0,
        Topic.TELEMETRY: 0,
    }
