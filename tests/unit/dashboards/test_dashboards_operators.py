"""What operators read: bands at the OEE target, state colours, names in their language, a
description on every panel — and `iiot dashboards check` finding a panel without them."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from dashboards.catalog import Json, render_all
from dashboards.check import check, panel_problems
from dashboards.context import Build
from dashboards.provisioning import Database, write
from iiot.settings import Settings, get_settings

AMBER = "#EAB839"
RATIOS = ("oee", "availability", "performance", "quality")
PERCENT = ("percentunit",)


def _panels(build: Build) -> Iterator[Json]:
    for dashboard in render_all(build).values():
        yield from dashboard["panels"]  # type: ignore[misc]


def _panel(build: Build, uid: str, title: str) -> Json:
    panels = render_all(build)[uid]["panels"]
    return next(p for p in panels if p["title"] == title)  # type: ignore[union-attr]


def _steps(config: Json) -> list[tuple[object, str]]:
    return [(s["value"], s["color"]) for s in config["thresholds"]["steps"]]  # type: ignore[index]


def test_every_panel_is_described_scaled_and_passes_the_check() -> None:
    panels = list(_panels(Build(language="en")))
    assert len(panels) == 56
    assert all(panel_problems(p) == [] for p in panels)
    assert all(p["description"].strip() for p in panels)
    unitless = [p["title"] for p in panels if p["type"] not in ("state-timeline", "table")
                and not p["fieldConfig"]["defaults"].get("unit")]  # fmt: skip
    assert unitless == []


def test_ratio_panels_are_banded_at_the_target() -> None:
    build = Build(language="en", oee_target=0.85)
    banded = [p for p in _panels(build) if p["fieldConfig"]["defaults"].get("unit") in PERCENT]
    oee_like = [
        p for p in banded if re.search(r"\bOEE\b|availability", p["title"]) or p["type"] == "geomap"
    ]
    # 4 stats (2 with TEEP), 4 time series, line ranking, map; the current shift, days
    assert len(oee_like) == 12
    for panel in oee_like:
        defaults = panel["fieldConfig"]["defaults"]
        assert (defaults["min"], defaults["max"]) == (0, 1)
        assert _steps(defaults) == [(None, "red"), (0.6, AMBER), (0.85, "green")]
        if panel["type"] == "timeseries":  # the target as a dashed line over coloured areas
            assert defaults["custom"]["thresholdsStyle"] == {"mode": "dashed+area"}
    ratio_columns = {o["matcher"]["options"] for p in oee_like if p["type"] == "timeseries"
                     for o in p["fieldConfig"]["overrides"]}  # fmt: skip
    assert set(RATIOS) <= ratio_columns


def test_digitization_index_has_its_own_bands_on_0_to_100() -> None:
    build = Build(language="en")
    stat = _panel(build, "iiot-province", "Digitization index (proxy)")
    defaults = stat["fieldConfig"]["defaults"]
    assert (defaults["unit"], defaults["min"], defaults["max"]) == ("none", 0, 100)
    assert _steps(defaults) == [(None, "red"), (40, AMBER), (70, "green")]
    cloud = _panel(build, "iiot-province", "Enterprises in the cloud")["fieldConfig"]["defaults"]
    assert _steps(cloud) == [(None, "red"), (0.4, AMBER), (0.7, "green")]


def test_a_ratio_column_of_a_table_gets_the_bands_and_coloured_text() -> None:
    table = _panel(Build(language="zh"), "iiot-province", "OEE 最佳企业")
    oee = next(o for o in table["fieldConfig"]["overrides"] if o["matcher"]["options"] == "oee")
    properties = {p["id"]: p["value"] for p in oee["properties"]}
    assert properties["displayName"] == "OEE"
    assert (properties["unit"], properties["min"], properties["max"]) == ("percentunit", 0, 1)
    assert _steps(properties)[-1] == (get_settings().oee_target, "green")
    assert properties["custom.cellOptions"] == {"type": "color-text"}


@pytest.mark.parametrize(
    ("target", "steps"),
    [(0.9, [(None, "red"), (0.6, AMBER), (0.9, "green")]),
     (0.5, [(None, "red"), (0.5, "green")])],  # below the typical plant: no amber band
)  # fmt: skip
def test_bands_follow_the_target(target: float, steps: list[tuple[object, str]]) -> None:
    stat = _panel(Build(language="en", oee_target=target), "iiot-province",
                  "Province OEE (time-weighted)")  # fmt: skip
    assert _steps(stat["fieldConfig"]["defaults"]) == steps
    assert f"{target:.0%}" in stat["description"]


def test_the_target_is_read_from_the_settings_at_build_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IIOT_OEE_TARGET", "0.75")
    get_settings.cache_clear()
    try:
        assert Build().oee_target == 0.75
    finally:
        get_settings.cache_clear()
    assert Settings().oee_target == 0.75
    for wrong in ("0", "1.5"):
        monkeypatch.setenv("IIOT_OEE_TARGET", wrong)
        with pytest.raises(ValidationError, match="oee_target"):
            Settings()


@pytest.mark.parametrize(
    ("language", "texts"),
    [("zh", ["运行", "空闲", "换型", "停机", "计划停机"]),
     ("en", ["Running", "Idle", "Setup", "Down", "Planned stop"])],
)  # fmt: skip
def test_states_have_fixed_colours_and_texts(language: str, texts: list[str]) -> None:
    build = Build(language=language)  # type: ignore[arg-type]
    timeline = next(p for p in _panels(build) if p["type"] == "state-timeline")
    (mapping,) = timeline["fieldConfig"]["defaults"]["mappings"]
    options = mapping["options"]
    assert [options[s]["text"] for s in ("running", "idle", "setup", "down", "planned_stop")] \
        == texts  # fmt: skip
    assert [options[s]["color"] for s in ("running", "idle", "setup", "down")] == [
        "green", "yellow", "blue", "red"]  # fmt: skip
    seconds = next(p for p in _panels(build) if p["type"] == "barchart"
                   and "AS run_s" in p["targets"][0]["rawSql"])  # fmt: skip
    colours = {o["matcher"]["options"]: p["value"]["fixedColor"]
               for o in seconds["fieldConfig"]["overrides"] for p in o["properties"]
               if p["id"] == "color"}  # fmt: skip
    assert colours["run_s"] == "green" and colours["down_s"] == "red"
    assert colours["planned_stop_s"] == options["planned_stop"]["color"]


@pytest.mark.parametrize(("language", "name"), [("zh", "设备故障"), ("en", "Breakdown")])
def test_stop_reasons_are_named_wherever_a_reason_column_shows(language: str, name: str) -> None:
    """Every panel with a `reason` column maps the conventional codes to names."""
    build = Build(language=language)  # type: ignore[arg-type]
    with_reasons = [
        p for p in _panels(build) if re.search(r"\bAS reason\b", p["targets"][0]["rawSql"])
    ]
    assert len(with_reasons) >= 3  # the line's Pareto and reasons table, the Andon tile
    for panel in with_reasons:
        maps = [
            m
            for o in panel["fieldConfig"]["overrides"]
            if o["matcher"]["options"] == "reason"
            for prop in o["properties"]
            if prop["id"] == "mappings"
            for m in prop["value"]
        ]
        assert maps and maps[0]["options"]["breakdown"]["text"] == name, panel["title"]


def test_columns_are_named_in_the_language() -> None:
    def names(build: Build) -> dict[str, str]:
        return {o["matcher"]["options"]: p["value"] for panel in _panels(build)
                for o in panel["fieldConfig"]["overrides"] for p in o["properties"]
                if p["id"] == "displayName"}  # fmt: skip

    zh, en = names(Build(language="zh")), names(Build(language="en"))
    assert (zh["availability"], en["availability"]) == ("可用率", "Availability")
    assert (zh["down_s"], zh["enterprise_name"], zh["age_s"]) == ("停机", "企业", "距今")
    assert not any(re.fullmatch(r"[a-z_]+", name) for name in zh.values())  # no SQL names
    alarms = _panel(Build(language="zh"), "iiot-enterprise", "报警")
    kinds = next(o for o in alarms["fieldConfig"]["overrides"] if o["matcher"]["options"] == "kind")
    mapping = next(p["value"] for p in kinds["properties"] if p["id"] == "mappings")
    assert mapping[0]["options"]["down_too_long"]["text"] == "停机过久"


def test_bars_show_every_row() -> None:
    bars = [p for p in _panels(Build()) if p["type"] == "bargauge"]
    assert len(bars) == 5
    assert all(p["options"]["reduceOptions"]["values"] is True for p in bars)


def _percent_panel(panel: Json) -> Json:
    return panel["fieldConfig"]["defaults"]  # type: ignore[index,return-value]


BROKEN: list[tuple[str, Callable[[Json], None], str]] = [
    ("no description", lambda p: p.pop("description"), "no description"),
    ("no thresholds", lambda p: _percent_panel(p).pop("thresholds"), "without thresholds"),
    ("one step", lambda p: _percent_panel(p)["thresholds"].update(
        steps=[{"value": None, "color": "green"}]), "without thresholds"),
    ("Grafana's default", lambda p: _percent_panel(p)["thresholds"].update(
        steps=[{"color": "green", "value": None}, {"color": "red", "value": 80}]),
     "Grafana's default thresholds"),
    ("steps on the wrong scale", lambda p: _percent_panel(p)["thresholds"].update(
        steps=[{"value": None, "color": "red"}, {"value": 85, "color": "green"}]),
     "not sorted within min 0 and max 1"),
    ("no max", lambda p: _percent_panel(p).pop("max"), "without min and max"),
    ("no min", lambda p: _percent_panel(p).pop("min"), "without min and max"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "breaks", "finding"), BROKEN, ids=[c for c, _, _ in BROKEN])
def test_check_finds_a_percentage_panel_without_its_scale(
    case: str, breaks: Callable[[Json], None], finding: str
) -> None:
    panel = copy.deepcopy(_panel(Build(language="en"), "iiot-province",
                                 "Province OEE (time-weighted)"))  # fmt: skip
    breaks(panel)
    (problem,) = panel_problems(panel)
    assert problem.startswith("panel 4 'Province OEE (time-weighted)': ")
    assert finding in problem


def test_check_finds_a_percentage_field_and_a_state_panel_without_theirs() -> None:
    table = copy.deepcopy(_panel(Build(language="en"), "iiot-province", "Best enterprises by OEE"))
    oee = next(o for o in table["fieldConfig"]["overrides"] if o["matcher"]["options"] == "oee")
    kept = oee["properties"]
    oee["properties"] = [p for p in kept if p["id"] != "thresholds"]
    (problem,) = panel_problems(table)
    assert "field 'oee': a percentage without thresholds" in problem
    oee["properties"] = [p for p in kept if p["id"] not in ("min", "max")]
    (problem,) = panel_problems(table)
    assert "field 'oee': a percentage without min and max" in problem
    timeline = copy.deepcopy(next(p for p in _panels(Build()) if p["type"] == "state-timeline"))
    timeline["fieldConfig"]["defaults"].pop("mappings")
    (problem,) = panel_problems(timeline)
    assert problem.endswith("a state panel without value mappings to texts and colours")


def test_iiot_dashboards_check_reports_them(tmp_path: Path) -> None:
    write(tmp_path, Build(language="en"), Database())
    assert check(tmp_path) == []
    path = tmp_path / "dashboards/operations/iiot-line-device.json"
    dashboard = json.loads(path.read_text())
    dashboard["panels"][0]["fieldConfig"]["defaults"].pop("mappings")
    dashboard["panels"][1]["fieldConfig"]["defaults"].pop("thresholds")
    dashboard["panels"][2]["description"] = " "
    path.write_text(json.dumps(dashboard))
    assert check(tmp_path) == [
        "iiot-line-device panel 1 'Device state': a state panel without value mappings to "
        "texts and colours",
        "iiot-line-device panel 2 'Line OEE per window': a percentage without thresholds "
        "(Grafana's default paints every value green)",
        "iiot-line-device panel 3 'Device OEE per window': no description",
    ]
