"""A device's raw values → the contract's reading: the state-code table, scaling, what is
left to the contract. Hand-computed cases."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from iiot.messages import Reading
from producers.adapters.assemble import reading, scaled
from producers.adapters.mapping import MAPPING, ModbusDevice, Scaled

TS = datetime(2026, 11, 26, 8, 0, 5, 123_456, tzinfo=UTC)


def press(**changes: object) -> ModbusDevice:
    fields: dict[str, object] = {
        "device_id": "qd-haier-p1-l2-press03",
        "state": {"address": 0},
        "state_codes": {
            1: "running",
            2: {"state": "down", "reason": "breakdown"},
            "EXECUTE": "running",
        },
        "count_total": {"address": 1, "type": "uint32"},
        "count_good": {"address": 3, "type": "uint32"},
        "ideal_cycle_s": 12.5,
        "metrics": {"hydraulic_bar": {"address": 5, "scale": 0.1, "offset": -10}},
    }
    fields.update(changes)
    return ModbusDevice.model_validate(fields)


def test_a_reading_of_the_contract_from_raw_values() -> None:
    values = {"state": 2, "count_total": 5321, "count_good": 5290.0, "metrics.hydraulic_bar": 1912}
    fields = reading(press(), values, TS)
    assert fields == {
        "device_id": "qd-haier-p1-l2-press03",
        "ts": "2026-11-26T08:00:05.123Z",
        "state": "down",
        "reason": "breakdown",
        "count_total": 5321,
        "count_good": 5290,
        "ideal_cycle_s": 12.5,
        "metrics": {"hydraulic_bar": 181.2},  # in decimal, as the device means it
    }
    Reading.model_validate_json(orjson.dumps(fields))  # a valid reading without seq


@pytest.mark.parametrize("code", [1, 1.0, "1", "EXECUTE"])
def test_a_code_is_the_same_code_as_number_float_or_text(code: object) -> None:
    fields = reading(press(), {"state": code, "count_total": 1, "count_good": 1}, TS)
    assert fields["state"] == "running"
    assert "reason" not in fields


def test_an_unmapped_code_is_left_for_the_contract_to_refuse() -> None:
    fields = reading(press(), {"state": 7, "count_total": 1, "count_good": 1}, TS)
    assert fields["state"] == "7"
    with pytest.raises(ValueError, match="state"):
        Reading.model_validate_json(orjson.dumps(fields))


def test_a_missing_value_is_left_out_not_invented() -> None:
    fields = reading(press(), {"state": 1}, TS)
    assert "count_total" not in fields and "metrics" not in fields


def test_a_scaled_counter_is_whole_parts() -> None:
    device = press(count_total={"address": 1, "scale": 0.5})
    assert reading(device, {"count_total": 3}, TS)["count_total"] == 2  # 1.5 → 2 (even)


def test_a_naive_time_is_utc() -> None:
    assert reading(press(), {}, TS.replace(tzinfo=None))["ts"] == "2026-11-26T08:00:05.123Z"


def test_a_file_with_a_birth_names_an_enterprise_given_once() -> None:
    enterprise = {"id": "qd-haier", "name": "Haier", "city": "qingdao",
                  "industry": "smart appliances", "cloud": True}  # fmt: skip
    birth = {"enterprise": "qd-haier", "plant_id": "p1", "line_id": "l2", "kind": "press",
             "key_process": True, "numerically_controlled": False,
             "ideal_cycle_s": 12.5}  # fmt: skip
    device = press(birth=birth, sample_interval_s=5).model_dump()
    document = {"protocol": "modbus", "connection": {"host": "plc"}, "enterprises": [enterprise],
                "devices": [device]}  # fmt: skip
    (born,) = MAPPING.validate_python(document).births()
    assert born.enterprise.name == "Haier" and born.sample_interval_s == 5
    document["enterprises"] = []
    with pytest.raises(ValueError, match="not among the file's enterprises"):
        MAPPING.validate_python(document)
    document["enterprises"], document["devices"] = [enterprise], [device, device]
    with pytest.raises(ValueError, match="mapped twice"):
        MAPPING.validate_python(document)


@pytest.mark.parametrize(("raw", "scale", "offset", "value"),
                         [(18120, 0.01, 0, 181.2), (-35, 0.1, 0, -3.5), (3, 0.1, 0.2, 0.5),
                          (4.8, 1, 0, 4.8), (1, 1e-3, 0, 0.001)])  # fmt: skip
def test_scaling_is_decimal(raw: float, scale: float, offset: float, value: float) -> None:
    assert scaled(raw, Scaled(scale=scale, offset=offset)) == value
