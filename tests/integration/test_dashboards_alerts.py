"""Every alert rule's SQL as Grafana runs it (as iiot_reader, on the views), on PostgreSQL
and the WASM TimescaleDB, and what it fires on known data: the query's rows become alert
instances (text columns are labels), reduced (last) and compared as the rule's threshold."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from dashboards.alerts import OEE_WINDOWS, provisioning
from dashboards.catalog import Json
from dashboards.context import Build
from dashboards.macros import TimeRange, expand
from iiot.settings import Settings
from sinks.migrate import migrate
from tests.integration import dashboard_data
from tests.integration.sink_support import fresh_schemas
from tests.integration.test_dashboards_sql import data, timescaledb

pytestmark = pytest.mark.integration
__all__ = ["data", "timescaledb"]  # the fixtures, shared with the panels' test
Labels = frozenset[tuple[str, str]]


def _rules(build: Build) -> dict[str, Json]:
    doc = provisioning(build)
    return {r["uid"]: r for g in doc["groups"] for r in g["rules"]}  # type: ignore[attr-defined]


def evaluate(
    conn: psycopg.Connection, rule: Json, *, timescaledb: bool = False
) -> dict[Labels, bool]:
    """Alert instances → firing, as Grafana's A (SQL) → B (reduce last) → C (threshold)."""
    query, reduce, threshold = rule["data"]  # type: ignore[misc]
    assert reduce["model"]["type"] == "reduce" and reduce["model"]["reducer"] == "last"
    evaluator = threshold["model"]["conditions"][0]["evaluator"]
    assert evaluator["type"] == "gt"
    now = datetime.now(UTC)
    span = TimeRange(now - timedelta(seconds=query["relativeTimeRange"]["from"]), now)
    sql = expand(query["model"]["rawSql"], span, interval_s=60, timescaledb=timescaledb)
    cursor = conn.execute(sql)  # type: ignore[arg-type]
    names = [c.name for c in cursor.description or []]
    instances = {}
    for row in cursor.fetchall():
        labels = frozenset((n, v) for n, v in zip(names, row, strict=True) if isinstance(v, str))
        (number,) = [v for v in row if isinstance(v, float)]  # one number per instance
        instances[labels] = number > evaluator["params"][0]
    return instances


def _firing(instances: dict[Labels, bool], **labels: str) -> bool | None:
    """Whether the one instance with these labels fires; None when there is none."""
    found = [fires for key, fires in instances.items() if set(labels.items()) <= key]
    assert len(found) <= 1
    return found[0] if found else None


@pytest.fixture
def schema(
    migrator: psycopg.Connection, writer: psycopg.Connection, pg_schema: str,
    settings: Settings, data: dashboard_data.Dataset,
) -> Iterator[str]:  # fmt: skip
    make: Callable[[str], str]
    for make in fresh_schemas(migrator, pg_schema):
        name = make("alerts")
        assert migrate(migrator, name, settings)[0] == "plain"
        dashboard_data.write(writer, name, data)  # everything arrived just now
        yield name


def _oee_windows(conn: psycopg.Connection, schema: str, line: str, oees: list[float]) -> None:
    """Line windows, oldest first, the newest ending a minute ago."""
    end = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    for n, oee in enumerate(reversed(oees)):
        start = end - timedelta(minutes=n + 1)
        conn.execute(
            f"INSERT INTO {schema}.oee (level, entity_id, window_start, window_end, revision, "
            "devices, samples, late_samples, run_s, idle_s, setup_s, down_s, planned_stop_s, "
            "unknown_s, planned_s, ideal_run_s, count_total, count_good, availability, "
            "performance, quality, oee, performance_suspect) VALUES ('line', %s, %s, %s, 1, "
            "1, 12, 0, 60, 0, 0, 0, 0, 0, 60, 60, 10, 10, 1, %s, 1, %s, false)",
            (line, start, start + timedelta(minutes=1), oee, oee),
        )


def test_alarm_and_oee_rules_fire_on_known_data(
    migrator: psycopg.Connection, reader: psycopg.Connection, schema: str,
    data: dashboard_data.Dataset,
) -> None:  # fmt: skip
    rules = _rules(Build(schema=schema, language="en", oee_target=0.85))
    _first, second, third = (b.device_id for b in data.births[:3])
    # The run's alarms: `first` down_too_long raised and cleared, `second` offline open.
    assert evaluate(reader, rules["iiot-alert-down-too-long"]) == {}  # noData → OK
    offline = evaluate(reader, rules["iiot-alert-offline"])
    assert offline == {frozenset(_labels(data, second).items()): True}
    at = datetime.now(UTC) - timedelta(minutes=7)
    migrator.execute(
        f"INSERT INTO {schema}.alarm (device_id, kind, raised_at, status, ts, value, threshold, "
        "message) VALUES (%s, 'down_too_long', %s, 'raised', %s, 420, 300, 'down for 7 min')",
        (third, at, at),
    )
    down = evaluate(reader, rules["iiot-alert-down-too-long"])
    assert down == {frozenset(_labels(data, third).items()): True}

    _oee_windows(migrator, schema, "t-line-low", [0.5] * OEE_WINDOWS)
    _oee_windows(migrator, schema, "t-line-recovered", [0.5] * (OEE_WINDOWS - 1) + [0.9])
    _oee_windows(migrator, schema, "t-line-short", [0.5] * (OEE_WINDOWS - 1))
    _oee_windows(migrator, schema, "t-line-older-low", [0.5] * OEE_WINDOWS + [0.86])
    oee = evaluate(reader, rules["iiot-alert-oee-below-target"])
    assert _firing(oee, line_id="t-line-low") is True
    assert _firing(oee, line_id="t-line-recovered") is False
    assert _firing(oee, line_id="t-line-short") is None  # fewer than K windows: no instance
    assert _firing(oee, line_id="t-line-older-low") is False


def _labels(data: dashboard_data.Dataset, device: str) -> dict[str, str]:
    birth = next(b for b in data.births if b.device_id == device)
    return {"device_id": device, "enterprise_id": birth.enterprise.id, "line_id": birth.line_id}


def test_pipeline_health_rules_fire_on_old_arrivals_and_new_dead_letters(
    migrator: psycopg.Connection, reader: psycopg.Connection, schema: str
) -> None:
    rules = _rules(Build(schema=schema))
    stale, letters = rules["iiot-alert-data-stale"], rules["iiot-alert-dead-letters"]
    fresh = evaluate(reader, stale)
    assert _firing(fresh, topic="iiot.telemetry") is False
    assert _firing(fresh, topic="iiot.oee") is False
    assert evaluate(reader, letters) == {frozenset(): True}  # 3 letters arrived just now

    migrator.execute(f"UPDATE {schema}.telemetry SET arrived_at = now() - INTERVAL '10 minutes'")
    migrator.execute(f"UPDATE {schema}.deadletter SET arrived_at = now() - INTERVAL '10 minutes'")
    old = evaluate(reader, stale)
    assert _firing(old, topic="iiot.telemetry") is True
    assert _firing(old, topic="iiot.oee") is False
    assert evaluate(reader, letters) == {frozenset(): False}

    migrator.execute(f"DELETE FROM {schema}.oee")
    assert _firing(evaluate(reader, stale), topic="iiot.oee") is True  # none in a day: stale


def test_every_rule_runs_on_timescaledb(timescaledb: tuple[psycopg.Connection, str]) -> None:
    conn, schema = timescaledb
    rules = _rules(Build(schema=schema, timescaledb=True))
    results = {uid: evaluate(conn, rule, timescaledb=True) for uid, rule in rules.items()}
    assert len(results) == 5
    assert _firing(results["iiot-alert-data-stale"], topic="iiot.telemetry") is False
    assert results["iiot-alert-dead-letters"] == {frozenset(): True}
    assert any(results["iiot-alert-offline"].values())
