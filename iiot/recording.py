"""Recordings: Kafka records in a file, to replay an incident or a test run (docs/recording.md).

JSON Lines, gzip when the name ends in `.gz`; one record a line:

    {"topic":"iiot.telemetry","partition":3,"offset":17,"timestamp_ms":1764144005000,
     "key":"press-01","headers":[["trace","abc"]],"value":{"v":1,…}}

The topic is its logical name (without IIOT_TOPIC_PREFIX). A value is kept byte for byte:
as `value` (JSON) when it is JSON written compactly (what every producer here writes), else
as `value_raw` (its text) or, if not UTF-8, `value_b64`; none of the three is a null value
(a tombstone). A key or a header value that is not UTF-8 is `{"b64": "…"}`. A hand-written
`value` is published as compact JSON. kcat's `-J` envelope (`payload`, `ts`, flat
`headers`) is read too, so a recording made with kcat in the field replays (its topic names
lose their prefix).
"""

from __future__ import annotations

import base64
import gzip
import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from iiot.topics import Topic

Headers = tuple[tuple[str, bytes | None], ...]


@dataclass(frozen=True, slots=True)
class Recorded:
    """One Kafka record as a recording holds it."""

    topic: str  # logical name, without the prefix
    key: bytes | None
    value: bytes | None
    timestamp_ms: int | None = None
    headers: Headers = ()
    partition: int | None = None  # where it was recorded from; replays partition by key
    offset: int | None = None


class RecordingError(ValueError):
    """A line that is not a record: says which line and why."""

    def __init__(self, line: int, why: str) -> None:
        super().__init__(f"line {line}: {why}")
        self.line = line


def _text(raw: bytes) -> str | dict[str, str]:
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(raw).decode()}


def _bytes(text: Any, what: str) -> bytes | None:
    if text is None:
        return None
    if isinstance(text, str):
        return text.encode()
    if isinstance(text, dict) and set(text) == {"b64"} and isinstance(text["b64"], str):
        return base64.b64decode(text["b64"], validate=True)
    raise ValueError(f'{what} is a string, null or {{"b64": …}}, not {text!r}')


def to_line(record: Recorded) -> bytes:
    """The record as one line of a recording (with its newline)."""
    doc: dict[str, Any] = {"topic": record.topic}
    if record.partition is not None:
        doc["partition"] = record.partition
    if record.offset is not None:
        doc["offset"] = record.offset
    if record.timestamp_ms is not None:
        doc["timestamp_ms"] = record.timestamp_ms
    doc["key"] = None if record.key is None else _text(record.key)
    if record.headers:
        doc["headers"] = [[k, None if v is None else _text(v)] for k, v in record.headers]
    value = record.value
    if value is not None:
        parsed = compact_json(value)
        if parsed is not NOT_COMPACT:
            doc["value"] = parsed
        elif isinstance(text := _text(value), str):
            doc["value_raw"] = text
        else:
            doc["value_b64"] = text["b64"]
    return orjson.dumps(doc) + b"\n"


NOT_COMPACT = object()


def compact_json(value: bytes) -> Any:
    """The value parsed, if it is JSON written compactly (so written back the same bytes);
    else NOT_COMPACT: such a value is kept, and replayed, byte for byte."""
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return NOT_COMPACT
    return parsed if orjson.dumps(parsed) == value else NOT_COMPACT


def from_line(line: bytes, number: int = 0, prefix: str = "") -> Recorded:
    """A line of a recording, ours or kcat's `-J` (its topic loses `prefix`)."""
    try:
        doc = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise RecordingError(number, f"not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise RecordingError(number, "not a JSON object")
    try:
        return _kcat(doc, prefix) if "payload" in doc else _ours(doc)
    except (KeyError, TypeError, ValueError) as exc:
        why = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
        raise RecordingError(number, why) from None


def _ours(doc: dict[str, Any]) -> Recorded:
    topic = doc["topic"]
    if not isinstance(topic, str) or not topic:
        raise ValueError(f"topic is a name, not {topic!r}")
    values = [k for k in ("value", "value_raw", "value_b64") if k in doc]
    if len(values) > 1:
        raise ValueError(f"one of value, value_raw, value_b64, not {' and '.join(values)}")
    value: bytes | None = None
    if "value" in doc:
        value = orjson.dumps(doc["value"])
    elif "value_raw" in doc:
        value = _bytes(doc["value_raw"], "value_raw")
    elif "value_b64" in doc:
        value = _bytes({"b64": doc["value_b64"]}, "value_b64")
    headers = doc.get("headers") or []
    if not isinstance(headers, list) or not all(
        isinstance(h, list) and len(h) == 2 and isinstance(h[0], str) for h in headers
    ):
        raise ValueError("headers are a list of [name, value] pairs")
    return Recorded(
        topic=topic,
        key=_bytes(doc.get("key"), "key"),
        value=value,
        timestamp_ms=_int(doc.get("timestamp_ms"), "timestamp_ms"),
        headers=tuple((name, _bytes(v, f"header {name}")) for name, v in headers),
        partition=_int(doc.get("partition"), "partition"),
        offset=_int(doc.get("offset"), "offset"),
    )


def _kcat(doc: dict[str, Any], prefix: str) -> Recorded:
    """kcat -J: {"topic","partition","offset","tstype","ts","broker","headers":[k,v,…],
    "key","payload"}; its key and payload are text (kcat prints the bytes as they are)."""
    topic = doc["topic"]
    if not isinstance(topic, str) or not topic:
        raise ValueError(f"topic is a name, not {topic!r}")
    flat = doc.get("headers") or []
    if not isinstance(flat, list) or len(flat) % 2:
        raise ValueError("kcat headers are a flat list of names and values")
    payload = doc["payload"]
    return Recorded(
        topic=_logical(topic, prefix),
        key=_bytes(doc.get("key"), "key"),
        value=_bytes(payload, "payload"),
        timestamp_ms=_int(doc.get("ts"), "ts"),
        headers=tuple(
            (str(flat[i]), _bytes(flat[i + 1], "header")) for i in range(0, len(flat), 2)
        ),
        partition=_int(doc.get("partition"), "partition"),
        offset=_int(doc.get("offset"), "offset"),
    )


# The pipeline's topics: a kcat recording of `<any prefix>iiot.telemetry` replays as such.
_LOGICAL = tuple(topic.value for topic in Topic)


def _logical(topic: str, prefix: str) -> str:
    if prefix:
        return topic.removeprefix(prefix)
    return next((name for name in _LOGICAL if topic.endswith(name)), topic)


def _int(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} is an integer, not {value!r}")
    return value


def _open(path: Path, mode: str) -> IO[bytes]:
    if str(path).endswith(".gz"):
        return gzip.open(path, mode + "b")  # type: ignore[return-value]
    return open(path, mode + "b")  # the caller closes it


def open_lines(path: Path) -> IO[bytes]:
    """A recording's (or any JSON Lines file's) lines: `-` is stdin; gzip is read as such,
    by its name or, on stdin, by its first bytes."""
    if str(path) != "-":
        return _open(path, "r")
    stdin = sys.stdin.buffer
    if isinstance(stdin, io.BufferedReader) and stdin.peek(2)[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=stdin)  # type: ignore[return-value]
    return stdin


def read(
    path: Path, *, prefix: str = "", skip_bad: bool = False, bad: list[RecordingError] | None = None
) -> Iterator[Recorded]:
    """The records of a recording (`-`: stdin, gzip or not), in file order. A bad line raises
    RecordingError with its number, or, with `skip_bad`, is left out (and put in `bad`).
    Empty lines are allowed."""
    stream = open_lines(path)
    try:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                yield from_line(line, number, prefix)
            except RecordingError as exc:
                if not skip_bad:
                    raise
                if bad is not None:
                    bad.append(exc)
    finally:
        if str(path) != "-":
            stream.close()  # stdin stays open


class Writer:
    """Writes a recording line by line; closed, the file is whole (gzip's end written)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stream = sys.stdout.buffer if str(path) == "-" else _open(path, "w")

    def write(self, record: Recorded) -> None:
        self.stream.write(to_line(record))

    def flush(self) -> None:
        """What is written so far, readable by another process (gzip: a sync point)."""
        self.stream.flush()

    def close(self) -> None:
        self.stream.flush()
        if str(self.path) != "-":
            self.stream.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
