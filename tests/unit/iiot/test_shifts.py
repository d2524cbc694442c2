"""Shift calendars in the contract (iiot/shifts.py, DeviceBirth.shift_calendar), in registry
files (`plants`) and in the simulator's births."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from iiot.contract import ContractError, decode, encode
from iiot.messages import DeviceBirth
from iiot.registry_file import LocatedError, document, load
from iiot.shifts import PlantShifts
from simulators import Simulation, SimulationOptions, registry_export
from simulators.calendar import ShiftCalendar
from tests.conftest import BIRTH


def _shift(id_: str, start: str, end: str) -> dict[str, str]:
    return {"id": id_, "name": id_.title(), "start": start, "end": end}


THREE = [_shift("early", "06:00", "14:00"), _shift("middle", "14:00", "22:00"),
         _shift("night", "22:00", "06:00")]  # fmt: skip


def _birth(calendar: Any) -> bytes:
    return json.dumps({**BIRTH, "shift_calendar": calendar}, ensure_ascii=False).encode()


def test_a_birth_may_carry_its_plants_calendar_and_time_zone_defaults_to_china() -> None:
    birth = decode(DeviceBirth, _birth({"shifts": THREE}))
    assert birth.shift_calendar is not None
    assert birth.shift_calendar.time_zone == "Asia/Shanghai"
    assert [s.minutes() for s in birth.shift_calendar.shifts] == [480, 480, 480]
    assert decode(DeviceBirth, encode(birth)) == birth


def test_a_birth_without_a_calendar_is_written_as_before() -> None:
    birth = decode(DeviceBirth, json.dumps(BIRTH).encode())
    assert birth.shift_calendar is None
    assert b"shift_calendar" not in encode(birth)
    assert json.loads(encode(birth)) == BIRTH


@pytest.mark.parametrize(
    ("shifts", "zone"),
    [
        (THREE, "Europe/Berlin"),
        ([_shift("all_day", "00:00", "00:00")], "UTC"),  # end = start: 24 hours
        ([_shift("day", "06:00", "18:00"), _shift("night", "18:00", "06:00")], "Asia/Shanghai"),
        ([_shift("late", "23:30", "07:30"), _shift("early", "07:30", "15:30")], "Asia/Urumqi"),
    ],
    ids=["other-zone", "one-24h-shift", "two-12h-shifts", "half-hours"],
)
def test_calendars_that_fit_in_a_day(shifts: list[dict[str, str]], zone: str) -> None:
    assert PlantShifts.model_validate({"time_zone": zone, "shifts": shifts}).shifts


@pytest.mark.parametrize(
    ("calendar", "reason"),
    [
        ({"shifts": [_shift("early", "06:00", "14:00"), _shift("late", "13:00", "21:00")]},
         "shift_calendar.shifts: shifts early and late overlap"),
        ({"shifts": [_shift("night", "22:00", "06:00"), _shift("early", "05:00", "13:00")]},
         "shift_calendar.shifts: shifts night and early overlap"),  # across midnight
        ({"shifts": [_shift("all_day", "06:00", "06:00"), _shift("b", "07:00", "08:00")]},
         "shift_calendar.shifts: the shifts add up to 1500 minutes, more than a day"),
        ({"shifts": [_shift("a", "06:00", "07:00"), _shift("a", "08:00", "09:00")]},
         "shift_calendar.shifts: shift ids must differ (got a, a)"),
        ({"shifts": []}, "shift_calendar.shifts: List should have at least 1 item"),
        ({"shifts": [_shift("early", "6:00", "14:00")]},
         "shift_calendar.shifts.0.start: String should match pattern"),
        ({"shifts": [_shift("early", "06:00", "24:00")]},
         "shift_calendar.shifts.0.end: String should match pattern"),
        ({"shifts": [_shift("Early", "06:00", "14:00")]},
         "shift_calendar.shifts.0.id: String should match pattern"),
        ({"time_zone": "China/Qingdao", "shifts": THREE},
         "shift_calendar.time_zone: must be an IANA time zone name such as Asia/Shanghai"),
        ({"time_zone": "Asia/Shanghai"}, "shift_calendar.shifts: Field required"),
    ],
    ids=["overlap", "overlap-across-midnight", "more-than-a-day", "same-id", "no-shifts",
         "bad-clock", "hour-24", "id-not-snake-case", "unknown-zone", "no-shifts-field"],
)  # fmt: skip
def test_a_calendar_that_does_not_fit_is_refused_in_one_line(
    calendar: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ContractError) as caught:
        decode(DeviceBirth, _birth(calendar))
    assert caught.value.code == "invalid_field"
    assert caught.value.reason.startswith(reason)


def test_the_simulators_births_carry_their_plants_calendar() -> None:
    births = Simulation(SimulationOptions(devices=60, seed=3)).births()
    by_plant: dict[str, set[str]] = {}
    for birth in births:
        assert birth.shift_calendar in (ShiftCalendar(2).published(), ShiftCalendar(3).published())
        by_plant.setdefault(birth.plant_id, set()).add(birth.shift_calendar.model_dump_json())
    assert all(len(calendars) == 1 for calendars in by_plant.values())  # one per plant
    sizes = {len(b.shift_calendar.shifts) for b in births if b.shift_calendar}
    assert sizes == {2, 3}
    assert Simulation(SimulationOptions(devices=60, seed=3)).births() == births  # deterministic
    night = ShiftCalendar(3).published().shifts[2]
    assert (night.id, night.name, night.start, night.end) == ("night", "夜班", "22:00", "06:00")


def test_a_registry_file_gives_each_plants_calendar_once(tmp_path: Path) -> None:
    simulation = Simulation(SimulationOptions(devices=30, seed=4))
    path = tmp_path / "registry.yaml"
    path.write_text(registry_export(simulation, "yaml"), encoding="utf-8")
    assert load(path) == simulation.births()
    doc = document(simulation.births())
    plants = {b.plant_id for b in simulation.births()}
    assert sorted(p["id"] for p in doc["plants"]) == sorted(plants)
    assert all("shift_calendar" not in b for b in doc["births"])


def test_a_registry_file_without_plants_gives_births_without_calendars(tmp_path: Path) -> None:
    birth = DeviceBirth.model_validate(BIRTH, strict=False)
    doc = document([birth])
    assert "plants" not in doc
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert load(path) == [birth]


def test_document_refuses_a_plant_with_two_calendars() -> None:
    one = DeviceBirth.model_validate({**BIRTH, "shift_calendar": {"shifts": THREE}}, strict=False)
    other = one.model_copy(update={"device_id": "other", "shift_calendar": None})
    with pytest.raises(ValueError, match="plant 'qd-haier-p1' has two shift calendars"):
        document([one, other])


def test_a_registry_files_plant_mistakes_name_their_line(tmp_path: Path) -> None:
    birth = DeviceBirth.model_validate({**BIRTH, "shift_calendar": {"shifts": THREE}}, strict=False)
    doc = document([birth])
    twice = {**doc, "plants": doc["plants"] * 2}
    path = tmp_path / "twice.json"
    path.write_text(json.dumps(twice, indent=1, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(LocatedError, match=r"plants\.1\.id: plant 'qd-haier-p1' is given twice"):
        load(path)
    inline = {**doc, "births": [{**doc["births"][0], "shift_calendar": {"shifts": THREE}}]}
    path.write_text(json.dumps(inline, indent=1, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(LocatedError, match=r"births\.0\.shift_calendar: Input should be None"):
        load(path)
