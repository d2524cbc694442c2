"""The line dashboard's downtime, MTBF/MTTR and TEEP panels: units, bands, names, order."""

from __future__ import annotations

from dashboards.catalog import Json, render_all
from dashboards.context import Build


def _panels() -> dict[str, Json]:
    dashboard = render_all(Build(language="en", oee_target=0.85))["iiot-line-device"]
    return {p["title"]: p for p in dashboard["panels"]}  # type: ignore[union-attr]


def _overrides(panel: Json) -> dict[str, dict[str, object]]:
    return {
        o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
        for o in panel["fieldConfig"]["overrides"]  # type: ignore[index]
    }


def test_teep_and_utilisation_on_their_own_bands_beside_oee() -> None:
    for level in ("Line", "Device"):
        panel = _panels()[f"{level} OEE and TEEP"]
        defaults = panel["fieldConfig"]["defaults"]  # type: ignore[index]
        assert defaults["unit"] == "percentunit" and defaults["max"] == 1
        overrides = _overrides(panel)
        assert overrides["oee"]["displayName"] == "OEE"
        for column, name in (("teep", "TEEP"), ("utilisation", "Utilisation")):
            steps = overrides[column]["thresholds"]["steps"]  # type: ignore[index]
            assert overrides[column]["displayName"] == name
            assert [s["value"] for s in steps] == [None, 0.4, 0.7]
            assert (overrides[column]["min"], overrides[column]["max"]) == (0, 1)


def test_mtbf_mttr_in_seconds_and_breakdowns_counted() -> None:
    panel = _panels()["Line MTBF and MTTR"]
    assert panel["fieldConfig"]["defaults"]["unit"] == "s"  # type: ignore[index]
    overrides = _overrides(panel)
    assert overrides["mtbf_s"]["displayName"] == "MTBF"
    assert overrides["breakdowns"] == {"displayName": "Breakdowns", "unit": "short"}


def test_pareto_sorted_by_lost_seconds_stacked_by_state() -> None:
    for level in ("Line", "Device"):
        panel = _panels()[f"{level} downtime by reason (Pareto)"]
        sql = panel["targets"][0]["rawSql"]  # type: ignore[index]
        assert "ORDER BY sum(s) DESC" in sql
        assert panel["options"]["xField"] == "reason"  # type: ignore[index]
        overrides = _overrides(panel)
        assert {"down_s", "idle_s", "setup_s", "reason"} <= overrides.keys()
        assert overrides["down_s"]["color"] == {"mode": "fixed", "fixedColor": "red"}
