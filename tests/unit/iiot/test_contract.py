"""The message contract: valid examples pass, each invalid one fails naming its field."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from iiot.contract import ContractError, dead_letter, decode, encode
from iiot.messages import DeviceBirth, Sample
from iiot.results import Alarm, DigitizationWindow, OeeWindow
from iiot.types import MAX_MESSAGE_BYTES, MAX_METRICS, METRIC_PATTERN, REASON_CODES


def raw(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def test_design_example_sample_round_trips_byte_for_byte(sample: dict[str, Any]) -> None:
    message = decode(Sample, raw(sample))
    assert message.ts == datetime(2026, 11, 26, 8, 0, 5, tzinfo=UTC)
    assert json.loads(encode(message)) == sample | {"reason": None}  # running: no reason
    assert encode(decode(Sample, encode(message))) == encode(message)


def test_optional_fields_may_be_left_out(sample: dict[str, Any]) -> None:
    for field in ("ideal_cycle_s", "product", "metrics", "v"):
        del sample[field]
    message = decode(Sample, raw(sample))
    assert message.ideal_cycle_s is None and message.metrics == {} and message.v == 1


@pytest.mark.parametrize("reason", [*REASON_CODES, "spindle_overheat", "r" * 64, None])
def test_a_reason_code_conventional_or_not_is_kept(sample: dict[str, Any], reason: str) -> None:
    sample |= {"state": "down", "reason": reason}
    message = decode(Sample, raw(sample))
    assert message.reason == reason
    assert json.loads(encode(message))["reason"] == reason


def test_the_conventional_reason_codes_are_codes_and_documented() -> None:
    contract = (Path(__file__).parents[3] / "docs" / "contract.md").read_text()
    for code in REASON_CODES:
        assert re.fullmatch(METRIC_PATTERN, code) and f"| `{code}` |" in contract


def test_timestamps_are_normalised_to_utc_milliseconds(sample: dict[str, Any]) -> None:
    sample["ts"] = "2026-11-26T16:00:05.123456+08:00"
    message = decode(Sample, raw(sample))
    assert json.loads(encode(message))["ts"] == "2026-11-26T08:00:05.123Z"


@pytest.mark.parametrize(
    ("change", "code", "expected"),
    [
        ({"count_good": 6000}, "invalid_field", "count_good: must not exceed count_total (5321)"),
        ({"ts": "2026-11-26T08:00:05"}, "invalid_field", "ts: Input should have timezone info"),
        ({"ts": "yesterday"}, "invalid_field", "ts: Input should be a valid datetime"),
        ({"seq": -1}, "invalid_field", "seq: Input should be greater than or equal to 0"),
        ({"seq": "5"}, "invalid_field", "seq: Input should be a valid integer (got '5')"),
        ({"seq": 2**63}, "invalid_field", "seq: Input should be less than or equal to 922337"),
        ({"count_total": 5321.0}, "invalid_field", "count_total: Input should be a valid integer"),
        ({"count_total": -3, "count_good": 0}, "invalid_field", "count_total: Input should be"),
        ({"state": "broken"}, "invalid_field", "state: Input should be 'running', 'idle'"),
        ({"device_id": "a:b"}, "invalid_field", "device_id: String should match pattern"),
        ({"device_id": "x" * 129}, "invalid_field", "device_id: String should have at most 128"),
        ({"device_id": ""}, "invalid_field", "device_id: String should have at least 1"),
        ({"metrics": {"Power": 1.0}}, "invalid_field", "metrics.Power.[key]: String should match"),
        ({"metrics": {"power_kw": "6.8"}}, "invalid_field", "metrics.power_kw: Input should be"),
        ({"ideal_cycle_s": 0}, "invalid_field", "ideal_cycle_s: Input should be greater than 0"),
        ({"count_god": 3}, "invalid_field", "count_god: Extra inputs are not permitted"),
        ({"v": 2}, "unsupported_version", "v: Input should be 1 (got 2)"),
        ({"reason": "Break Down"}, "invalid_field",
         "reason: String should match pattern '^[a-z][a-z0-9_]{0,63}$' (got 'Break Down')"),
        ({"reason": ""}, "invalid_field", "reason: String should match pattern"),
        ({"reason": "r" * 65}, "invalid_field", "reason: String should match pattern"),
        ({"reason": "no-material"}, "invalid_field", "reason: String should match pattern"),
        ({"reason": 3}, "invalid_field", "reason: Input should be a valid string (got 3)"),
    ],
)  # fmt: skip
def test_invalid_sample_names_the_field(
    sample: dict[str, Any], change: dict[str, Any], code: str, expected: str
) -> None:
    sample.update(change)
    with pytest.raises(ContractError) as caught:
        decode(Sample, raw(sample))
    assert caught.value.code == code
    assert expected in caught.value.reason
    assert "\n" not in caught.value.reason


def test_missing_fields_are_all_named_on_one_line(sample: dict[str, Any]) -> None:
    del sample["ts"], sample["state"]
    with pytest.raises(ContractError) as caught:
        decode(Sample, raw(sample))
    assert caught.value.reason == "ts: Field required; state: Field required"


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused(number: str) -> None:
    text = (
        '{"device_id": "d1", "ts": "2026-11-26T08:00:05Z", "seq": 1, "state": "idle", '
        f'"count_total": 1, "count_good": 1, "metrics": {{"temp_c": {number}}}}}'
    )
    with pytest.raises(ContractError) as caught:
        decode(Sample, text.encode())
    assert caught.value.reason.startswith("metrics.temp_c: Input should be a finite number")


@pytest.mark.parametrize(
    ("payload", "code", "expected"),
    [
        (b'{"v": 1, "device_id": ', "invalid_json", "message: Invalid JSON: EOF while parsing"),
        (b"\xff\xfe not utf-8", "invalid_json", "message: Invalid JSON"),
        (b"[1, 2]", "not_an_object", "message: Input should be an object"),
        (b"x" * (MAX_MESSAGE_BYTES + 1), "too_large", f"the limit is {MAX_MESSAGE_BYTES}"),
    ],
)
def test_unparseable_payloads(payload: bytes, code: str, expected: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode(Sample, payload)
    assert caught.value.code == code
    assert expected in caught.value.reason


def test_number_of_metrics_is_bounded(sample: dict[str, Any]) -> None:
    sample["metrics"] = {f"m{i}": float(i) for i in range(MAX_METRICS + 1)}
    with pytest.raises(ContractError, match="metrics: Dictionary should have at most 64 items"):
        decode(Sample, raw(sample))


def test_device_birth(birth: dict[str, Any]) -> None:
    message = decode(DeviceBirth, raw(birth))
    assert message.enterprise.city == "qingdao"
    assert json.loads(encode(message)) == birth
    birth["enterprise"]["cloud"] = "yes"
    birth["sample_interval_s"] = 0
    with pytest.raises(ContractError) as caught:
        decode(DeviceBirth, raw(birth))
    assert caught.value.reason == (
        "enterprise.cloud: Input should be a valid boolean (got 'yes'); "
        "sample_interval_s: Input should be greater than 0 (got 0)"
    )


def test_oee_window_of_the_worked_example(oee_window: dict[str, Any]) -> None:
    message = decode(OeeWindow, raw(oee_window))
    assert message.key == "device:qd-haier-p1-l2-press03:2026-11-26T08:00:00.000Z"
    assert json.loads(encode(message)) == oee_window


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"down_s": 10.0}, "state seconds add up to 55, not devices × window = 60"),
        ({"planned_s": 60.0}, "planned_s is 60, not window − planned_stop − unknown = 45"),
        ({"window_end": "2026-11-26T08:00:00.000Z"}, "window_end must be after window_start"),
        ({"availability": 1.5}, "availability: Input should be less than or equal to 1"),
        ({"level": "workshop"}, "level: Input should be 'device', 'line'"),
        ({"devices": 0}, "devices: Input should be greater than or equal to 1"),
    ],
)
def test_oee_window_parts_must_add_up(
    oee_window: dict[str, Any], change: dict[str, Any], expected: str
) -> None:
    oee_window.update(change)
    with pytest.raises(ContractError) as caught:
        decode(OeeWindow, raw(oee_window))
    assert expected in caught.value.reason


def test_roll_up_window_counts_seconds_of_every_device(oee_window: dict[str, Any]) -> None:
    doubled = {k: v * 2 for k, v in oee_window.items() if k.endswith("_s")}
    oee_window.update(doubled, devices=2, level="line", entity_id="qd-haier-p1-l2")
    assert decode(OeeWindow, raw(oee_window)).planned_s == 90.0


def test_digitization_window_and_alarm() -> None:
    window = {
        "enterprise_id": "qd-haier",
        "window_start": "2026-11-26T08:00:00Z",
        "window_end": "2026-11-26T09:00:00Z",
        "revision": 3,
        "devices_registered": 10,
        "devices_reporting": 9,
        "samples_received": 6000,
        "samples_expected": 7200.0,
        "key_process_devices": 4,
        "key_process_nc_reporting": 3,
        "devices_with_oee": 9,
        "cloud": True,
        "connectivity": 0.9,
        "completeness": 6000 / 7200,
        "key_process_nc": 0.75,
        "oee_coverage": 0.9,
        "index": 86.4,
    }
    assert decode(DigitizationWindow, raw(window)).key == "qd-haier:2026-11-26T08:00:00.000Z"
    window["devices_reporting"] = 11
    with pytest.raises(ContractError, match="devices_reporting must not exceed"):
        decode(DigitizationWindow, raw(window))

    alarm = {
        "device_id": "qd-haier-p1-l2-press03",
        "kind": "down_too_long",
        "status": "raised",
        "ts": "2026-11-26T08:10:00Z",
        "raised_at": "2026-11-26T08:10:00Z",
        "value": 600.0,
        "threshold": 300.0,
        "message": "down for 10 min",
    }
    assert decode(Alarm, raw(alarm)).status == "raised"
    alarm["ts"] = "2026-11-26T08:00:00Z"
    with pytest.raises(ContractError, match="ts must not be before raised_at"):
        decode(Alarm, raw(alarm))


def test_dead_letter_keeps_the_payload_whatever_its_bytes() -> None:
    error = ContractError("invalid_json", "message: Invalid JSON")
    text = dead_letter("streams.ingest", error, b'{"v": 1', topic="iiot.telemetry", offset=7)
    assert text.payload == '{"v": 1' and text.payload_b64 is None and text.offset == 7
    binary = dead_letter("streams.ingest", error, b"\xff\x00", key=b"dev-1")
    assert binary.payload is None and binary.payload_b64 == "/wA=" and binary.key == "dev-1"
    assert decode(type(binary), encode(binary)) == binary
