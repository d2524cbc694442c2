"""The recording format (iiot/recording.py): every record comes back byte for byte, kcat's
envelope is read, and a bad line is named by its number."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from iiot.recording import Recorded, RecordingError, Writer, from_line, read, to_line

SAMPLE = b'{"v":1,"device_id":"press-01","ts":"2026-11-26T08:00:05.000Z","seq":17}'


def test_a_compact_json_value_is_kept_as_json() -> None:
    line = to_line(Recorded("iiot.telemetry", b"press-01", SAMPLE, 1764144005000, (), 3, 17))
    assert orjson.loads(line) == {
        "topic": "iiot.telemetry",
        "partition": 3,
        "offset": 17,
        "timestamp_ms": 1764144005000,
        "key": "press-01",
        "value": orjson.loads(SAMPLE),
    }


@pytest.mark.parametrize(
    ("value", "field", "kept"),
    [
        (b'{"v": 1}', "value_raw", '{"v": 1}'),  # JSON, not compact: its bytes kept
        (b'{"a":1,"a":2}', "value_raw", '{"a":1,"a":2}'),  # a duplicate key would be lost
        (b"{not json", "value_raw", "{not json"),
        (b"\xff\xfe", "value_b64", "//4="),
        (b"NaN", "value_raw", "NaN"),
    ],
)
def test_any_other_value_is_kept_byte_for_byte(value: bytes, field: str, kept: str) -> None:
    record = Recorded("iiot.telemetry", b"k", value)
    doc = orjson.loads(to_line(record))
    assert doc[field] == kept
    assert from_line(to_line(record)) == record


def test_a_tombstone_has_no_value_and_null_is_json() -> None:
    assert "value" not in orjson.loads(to_line(Recorded("iiot.registry", b"k", None)))
    assert orjson.loads(to_line(Recorded("t", b"k", b"null")))["value"] is None
    assert from_line(b'{"topic":"t","key":"k"}').value is None


def test_a_hand_written_value_is_published_compact() -> None:
    line = b'{"topic": "iiot.telemetry", "key": "press-01", "value": {"v": 1, "seq": 2}}'
    assert from_line(line).value == b'{"v":1,"seq":2}'


def test_kcats_envelope_is_read_and_loses_the_prefix() -> None:
    line = orjson.dumps(
        {
            "topic": "plant7.iiot.telemetry",
            "partition": 2,
            "offset": 40,
            "tstype": "create",
            "ts": 1764144005000,
            "broker": 1,
            "headers": ["trace", "abc", "empty", None],
            "key": "press-01",
            "payload": SAMPLE.decode(),
        }
    )
    assert from_line(line, 1, prefix="plant7.") == Recorded(
        "iiot.telemetry",
        b"press-01",
        SAMPLE,
        1764144005000,
        (("trace", b"abc"), ("empty", None)),
        2,
        40,
    )
    assert from_line(line).topic == "iiot.telemetry"  # any prefix, before a known topic


@pytest.mark.parametrize(
    ("line", "why"),
    [
        (b"{oops", "line 4: not JSON"),
        (b"[1, 2]", "line 4: not a JSON object"),
        (b'{"key":"k"}', "line 4: no 'topic'"),
        (b'{"topic":"t","value":1,"value_raw":"1"}', "line 4: one of value, value_raw"),
        (b'{"topic":"t","timestamp_ms":"soon"}', "line 4: timestamp_ms is an integer"),
        (b'{"topic":"t","headers":[["a"]]}', "line 4: headers are a list of [name, value]"),
        (b'{"topic":"t","key":5}', "line 4: key is a string, null or"),
    ],
)
def test_a_bad_line_says_which_and_why(line: bytes, why: str) -> None:
    with pytest.raises(RecordingError) as caught:
        from_line(line, 4)
    assert str(caught.value).startswith(why)
    assert caught.value.line == 4


@pytest.mark.parametrize("name", ["run.jsonl", "run.jsonl.gz"])
def test_a_file_written_is_read_back_and_bad_lines_can_be_skipped(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    records = [Recorded("iiot.telemetry", b"d", SAMPLE, i) for i in range(3)]
    with Writer(path) as writer:
        for record in records:
            writer.write(record)
    assert list(read(path)) == records
    if name.endswith(".gz"):
        assert gzip.decompress(path.read_bytes()).count(b"\n") == 3
        return
    path.write_bytes(path.read_bytes() + b"\n{bad\n" + to_line(records[0]))
    with pytest.raises(RecordingError, match="line 5"):
        list(read(path))
    bad: list[RecordingError] = []
    assert list(read(path, skip_bad=True, bad=bad)) == [*records, records[0]]
    assert [e.line for e in bad] == [5]


texts = st.binary(max_size=40)


@given(
    key=st.none() | texts,
    value=st.none() | texts | st.just(SAMPLE),
    headers=st.lists(st.tuples(st.text(max_size=8), st.none() | texts), max_size=3),
    timestamp=st.none() | st.integers(0, 2**62),
)
def test_every_record_comes_back_as_it_was(
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes | None]],
    timestamp: int | None,
) -> None:
    record = Recorded("iiot.telemetry", key, value, timestamp, tuple(headers))
    assert from_line(to_line(record)) == record
