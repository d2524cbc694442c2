"""The bad-input campaign: over 10,000 bad records put between the good samples, and a few
valid but odd ones.

What is bad (one dead-letter row each, and never a telemetry row):
- not a Sample by the contract (iiot.contract.decode refuses it): invalid UTF-8 or JSON,
  not an object, wrong types, missing or unknown fields, NaN/Infinity, a number JSON cannot
  hold, ids outside their pattern (SQL-looking ones), strings over their length, a message
  over 64 KB, count_good above count_total, negative counters;
- keyed by something else than its device_id;
- a seq or counter of 2^63 or more: beyond what a bigint column and the state hold;
- a ts more than 5 minutes ahead of the newest event time of its partition (9999-12-31).

What is valid (lands in raw telemetry, no dead letter required): a falling counter (a reset,
docs/contract.md), a sample from 1970 (late: it lands and is counted late), a sample of a device
that never announced itself (held for its birth). These go to devices outside the fleet
("ghosts"), so the fleet's windows stay those of the run without the campaign.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from iiot import topics
from iiot.contract import ContractError, decode
from iiot.messages import Sample
from iiot.settings import Settings
from iiot.topics import Topic
from tests.faults.outcome import SampleKey, Source
from tests.faults.pipeline import START

BAD_RECORDS = 10_400
GENERATED = 2_500  # by hypothesis; the rest hand-made
OVERSIZE = 20  # rounds with 200 KB+ records (three each) among the hand-made ones
BIGINT = 2**63
FIELDS = ("v", "device_id", "ts", "seq", "state", "count_total", "count_good",
          "ideal_cycle_s", "product", "metrics")  # fmt: skip
AT = START + timedelta(minutes=30)  # inside the good stream's two hours
Record = tuple[bytes | None, bytes | None]  # key, value


def wire_ts(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def template(device_id: str, seq: int, at: datetime = AT) -> dict[str, Any]:
    """A valid sample, on a seq no real sample has (2^40 +): if a stage wrongly takes a bad
    record made of it, it shows as a row the baseline has not, not as a duplicate."""
    return {
        "v": 1, "device_id": device_id, "ts": wire_ts(at), "seq": 2**40 + seq,
        "state": "running", "count_total": 100, "count_good": 99, "ideal_cycle_s": 10.0,
        "product": "CAMPAIGN", "metrics": {"power_kw": 5.0},
    }  # fmt: skip


def is_bad(key: bytes | None, value: bytes | None) -> bool:
    """The definition above, of one record (the future check aside: made by hand)."""
    if value is None:
        return True
    try:
        sample = decode(Sample, value)
    except ContractError:
        return True
    too_big = max(sample.seq, sample.count_total, sample.count_good) >= BIGINT
    return too_big or key != sample.device_id.encode()


def _j(fields: dict[str, Any]) -> bytes:
    return orjson.dumps(fields, option=orjson.OPT_PASSTHROUGH_DATETIME)


def _raw(fields: dict[str, Any], name: str, literal: str) -> bytes:
    """`fields` as JSON with `name` spelled `literal` (what JSON encoders refuse to write)."""
    text = _j({**fields, name: "@@"}).decode()
    return text.replace('"@@"', literal).encode()


def hand_made(device_id: str, i: int) -> list[Record]:
    """One of each kind of bad record for a device (the key is the device's)."""
    t = template(device_id, i)
    key = device_id.encode()
    big = "x" * 210_000
    records: list[Record] = [
        (key, b'{"device_id": "\xff\xfe", "seq": 1}'),  # invalid UTF-8
        (key, _j(t).replace(b"CAMPAIGN", b"CAMP\xc3\x28IGN")),  # invalid UTF-8 in a string
        (key, _j(t)[:-7]),  # cut off
        (key, _j(t) + b"}"),  # trailing garbage
        (key, b""),
        (key, b"null"),
        (key, b"[]"),
        (key, b'"sample"'),
        (key, b"42"),
        (key, None),  # a tombstone
        (key, _raw(t, "count_total", "NaN")),
        (key, _raw(t, "ideal_cycle_s", "Infinity")),
        (key, _raw(t, "metrics", '{"power_kw": -Infinity}')),
        (key, _raw(t, "count_total", "1e999")),
        (key, _j({**t, "count_total": 2**64 - 1, "count_good": 0})),
        (key, _raw(t, "count_total", str(2**64))),
        (key, _j({**t, "seq": 2**63 - 1 + 1})),
        (key, _raw(t, "seq", "1" + "0" * 30)),
        (key, _j({**t, "count_good": BIGINT, "count_total": BIGINT})),
        (key, _j({**t, "ideal_cycle_s": 1e308})),
        (key, _j({**t, "count_total": "100"})),
        (key, _j({**t, "seq": 1.5})),
        (key, _j({**t, "state": "exploded"})),
        (key, _j({**t, "state": None})),
        (key, _j({**t, "metrics": [1, 2, 3]})),
        (key, _j({**t, "metrics": {"Power KW": 1.0}})),
        (key, _j({**t, "ts": 1_764_144_005.0})),
        (key, _j({**t, "ts": "2026-13-45T25:61:00.000Z"})),
        (key, _j({**t, "ts": "yesterday"})),
        (key, _j({**t, "v": 2})),
        (key, _j({**t, "count_good": 101})),
        (key, _j({**t, "count_total": -1})),
        (key, _j({**t, "evil": "1; DROP TABLE telemetry"})),
        (key, _j({k: v for k, v in t.items() if k != "state"})),
        (key, _j({**t, "device_id": device_id + "x"})),  # key mismatch
        (key, _j({**t, "product": "p" * 5_000})),
        (b"x'); DROP TABLE telemetry;--", _j({**t, "device_id": "x'); DROP TABLE telemetry;--"})),
        (b"1 OR 1=1", _j({**t, "device_id": "1 OR 1=1"})),
        (key, _j({**t, "device_id": "d" * 10_000})),
        (key, _j({**t, "ts": "9999-12-31T23:59:59.999Z"})),  # far in the future: bad
    ]
    if i < OVERSIZE:  # over-size records: 200 KB and more
        records += [
            (key, _j({**t, "product": big})),
            (key, _j({**t, "metrics": {f"m{n}": 1.0 for n in range(20_000)}})),
            (key, b"\x00" * 250_000),
        ]
    return records


def generated(device_ids: list[str], n: int) -> list[Record]:
    """Bad records hypothesis makes: a sample of a fleet device with one field given a value
    of any JSON type, dropped, or joined by an unknown one; only bad ones are kept."""
    anything = st.recursive(
        st.none() | st.booleans() | st.integers(-(2**80), 2**80)
        | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                    max_size=3),
        max_leaves=5,
    )  # fmt: skip
    mutation = st.tuples(
        st.sampled_from(device_ids),
        st.sampled_from(("replace", "drop", "add")),
        st.sampled_from(FIELDS),
        anything,
    )
    found: list[Record] = []

    @settings(max_examples=n * 3, database=None, derandomize=True, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), deadline=None)  # fmt: skip
    @given(mutation)
    def collect(m: tuple[str, str, str, Any]) -> None:
        device_id, how, name, value = m
        if len(found) >= n:
            return
        fields = template(device_id, len(found))
        if how == "replace":
            fields[name] = value
        elif how == "drop":
            fields.pop(name)
        else:
            fields[f"x_{name}"] = value
        # The standard encoder writes integers of any size, as JSON allows.
        raw = json.dumps(fields, ensure_ascii=False).encode("utf-8", "surrogatepass")
        if is_bad(device_id.encode(), raw):
            found.append((device_id.encode(), raw))

    collect()
    return found


def ghosts() -> list[Record]:
    """Valid samples of devices that never announce themselves: an ordinary one, one from
    1970, and a falling counter (a reset), each on its own ghost device."""
    records: list[Record] = []
    for g in range(20):
        device_id = "DROP-TABLE-telemetry" if g == 0 else f"campaign-ghost-{g:02d}"
        first = template(device_id, 0) | {"seq": g * 10, "count_total": 500, "count_good": 400}
        past = first | {"seq": g * 10 + 1, "ts": "1970-01-01T00:00:01.000Z"}
        reset = first | {"seq": g * 10 + 2, "ts": wire_ts(AT + timedelta(seconds=5)),
                         "count_total": 3, "count_good": 3}  # fmt: skip
        records += [(device_id.encode(), orjson.dumps(s)) for s in (first, past, reset)]
    return records


def ghost_keys() -> set[SampleKey]:
    keys = set()
    for _, value in ghosts():
        s = orjson.loads(value or b"{}")
        ts = datetime.fromisoformat(s["ts"].replace("Z", "+00:00"))
        keys.add((s["device_id"], s["seq"], ts.isoformat()))
    return keys


def campaign(device_ids: list[str]) -> list[tuple[bool, Record]]:
    """(bad?, record) in a fixed shuffled order: the kinds mixed from the start."""
    bad = generated(device_ids, GENERATED)
    i = 0
    while len(bad) < BAD_RECORDS:
        bad += hand_made(device_ids[i % len(device_ids)], i)
        i += 1
    mixed = [(True, r) for r in bad] + [(False, r) for r in ghosts()]
    random.Random(12).shuffle(mixed)
    return mixed


@dataclass
class Injector:
    """Publishes the campaign to the run's telemetry topic and notes where each record sat."""

    settings: Settings
    bad: set[Source] = field(default_factory=set)
    valid: set[Source] = field(default_factory=set)
    failed: int = 0

    def __post_init__(self) -> None:
        self.topic = topics.name(Topic.TELEMETRY, self.settings)
        self.producer = Producer({
            "bootstrap.servers": self.settings.kafka_bootstrap, "acks": "all",
            "enable.idempotence": True, "message.max.bytes": 1_000_000, "linger.ms": 20,
            # As the pipeline's producers (producers/kafka_client.py): a device's bad records
            # go to its own partition, between its good samples.
            "partitioner": "murmur2_random",
        })  # fmt: skip

    def send(self, chunk: Iterator[tuple[bool, Record]] | list[tuple[bool, Record]]) -> None:
        for bad, (key, value) in chunk:
            self.producer.produce(self.topic, value, key, on_delivery=self._noted(bad))
            self.producer.poll(0)

    def _noted(self, bad: bool):  # type: ignore[no-untyped-def]
        def delivered(err, msg) -> None:  # type: ignore[no-untyped-def]
            if err is not None:
                self.failed += 1
                return
            source = (Topic.TELEMETRY.value, msg.partition(), msg.offset())
            (self.bad if bad else self.valid).add(source)

        return delivered

    def close(self) -> int:
        return self.producer.flush(60)

    def wait_for_good_samples(self, at_least: int = 100, timeout_s: float = 60.0) -> None:
        """Until every partition with devices holds good samples (24 devices may leave one
        empty): the campaign comes between them, never first (a partition's first sample
        is what its future guard measures from)."""
        consumer = Consumer({"bootstrap.servers": self.settings.kafka_bootstrap,
                             "group.id": "faults-campaign-probe"})  # fmt: skip
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                try:
                    meta = consumer.list_topics(self.topic, timeout=10).topics[self.topic]
                    parts = [TopicPartition(self.topic, p) for p in meta.partitions]
                    highs = [consumer.get_watermark_offsets(tp, timeout=10)[1] for tp in parts]
                except KafkaException:  # a leader not known yet on a busy broker: ask again
                    time.sleep(0.5)
                    continue
                if sum(highs) >= 20 * at_least and all(h == 0 or h >= at_least for h in highs):
                    return
                time.sleep(0.5)
        finally:
            consumer.close()
        raise TimeoutError(f"no {at_least} good samples in every partition of {self.topic}")
