"""A sample's `reason` (docs/contract.md, "Reasons") lands in telemetry's `reason` column,
with the real broker and the real PostgreSQL: alone or in a batch record, by the fast path
or pydantic's, and NULL where the sample has none."""

from __future__ import annotations

import orjson
import psycopg
import pytest
from psycopg import sql

from iiot.settings import Settings
from iiot.topics import Topic
from iiot.wire.sample_batch import pack
from tests.integration import sink_support as s

pytestmark = pytest.mark.integration

# seq → (state, reason): running without one, each stop with its cause, one stop unexplained.
STATES = {
    0: ("running", None), 1: ("down", "breakdown"), 2: ("down", "breakdown"),
    3: ("setup", "changeover"), 4: ("idle", "no_material"), 5: ("idle", "micro_stop"),
    6: ("idle", None), 7: ("planned_stop", "planned_maintenance"), 8: ("running", None),
}  # fmt: skip


def with_reasons(records: list[s.Record]) -> list[bytes]:
    """The samples of one device (seq 0–8) with the states and reasons above; seq 2 and 5
    spelt for pydantic's path (an integer metric), seq 6 without the field at all."""
    out = []
    for _, _, value in records:
        fields = orjson.loads(value)
        state, reason = STATES[fields["seq"]]
        fields |= {"state": state, "reason": reason}
        if fields["seq"] in (2, 5):
            fields["metrics"] = {"power_kw": 3}
        if reason is None and fields["seq"] == 6:
            del fields["reason"]
        out.append(orjson.dumps(fields))
    return out


def landed(conn: psycopg.Connection, schema: str, device_id: str) -> dict[int, tuple[str, str]]:
    query = sql.SQL("SELECT seq, state, reason FROM {} WHERE device_id = %s").format(
        sql.Identifier(schema, "v_telemetry")
    )
    return {seq: (state, reason) for seq, state, reason in conn.execute(query, (device_id,))}


def test_reasons_land_alone_and_batched_and_a_bad_code_lands_nothing(
    sink_settings: Settings, writer: psycopg.Connection
) -> None:
    schema = sink_settings.pg_schema
    alone = with_reasons([r for r in s.samples(2, 9) if r[1] == "qd-press00"])
    batched = with_reasons([r for r in s.samples(2, 9) if r[1] == "qd-press01"])
    bad = orjson.loads(alone[1]) | {"seq": 9, "reason": "Break Down"}  # not a code
    s.produce(
        sink_settings,
        [
            *((Topic.TELEMETRY, "qd-press00", value) for value in alone),
            (Topic.TELEMETRY, "qd-press00", orjson.dumps(bad)),
            (Topic.TELEMETRY, "qd-press01", pack("qd-press01", batched)),
        ],
    )
    sink = s.drain(sink_settings, schema)
    assert landed(writer, schema, "qd-press00") == STATES  # seq 9 refused: the stream letters it
    assert landed(writer, schema, "qd-press01") == STATES
    assert sink.stats.undecodable == 1
