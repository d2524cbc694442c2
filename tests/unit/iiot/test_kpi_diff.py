"""KPI rows against the expected ones (iiot/kpi_diff.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from iiot.kpi_diff import Difference, compare

AT = "2026-11-26T08:00:00.000Z"


def oee(level: str = "device", entity: str = "press-01", **columns: object) -> dict:
    return {"table": "oee", "level": level, "entity_id": entity, "window_start": AT} | columns


def test_the_named_columns_are_compared_within_the_tolerance() -> None:
    actual = [oee(oee=0.5, samples=6, availability=None, extra=1)]
    assert compare([oee(oee=0.5000004, samples=6, availability=None)], actual) == []
    assert compare([oee(oee=0.51)], actual) == [
        Difference("oee:device", f"device press-01 {AT}", "oee", 0.51, 0.5)
    ]
    assert compare([oee(availability=0.0)], actual)[0].actual is None


def test_times_from_the_database_compare_as_the_messages_write_them() -> None:
    at = datetime(2026, 11, 26, 8, tzinfo=UTC)
    actual = [{"table": "oee", "level": "device", "entity_id": "press-01", "window_start": at,
               "window_end": datetime(2026, 11, 26, 8, 1, tzinfo=UTC)}]  # fmt: skip
    assert compare([oee(window_end="2026-11-26T08:01:00.000Z")], actual) == []


def test_a_missing_or_extra_window_of_a_covered_level_is_a_difference() -> None:
    actual = [oee(entity="press-02"), oee(level="line", entity="l1")]
    found = compare([oee()], actual)
    assert [(d.key, d.expected, d.actual) for d in found] == [
        (f"device press-01 {AT}", "present", "missing"),
        (f"device press-02 {AT}", "absent", "present"),
    ]  # the line is not covered by the expected rows: not compared


def test_dead_letters_are_counted_by_key_and_code() -> None:
    letter = {"table": "deadletter", "key": "press-01", "code": "invalid_json"}
    assert compare([letter], [letter | {"reason": "…"}]) == []
    assert compare([letter, letter], [letter]) == [
        Difference("deadletter", "press-01 invalid_json", "count", 2, 1)
    ]
    assert compare([], [letter]) == []  # no letters expected: not compared
