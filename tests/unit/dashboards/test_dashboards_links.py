"""Drill-down links: province → enterprise → line → device and back up, each keeping the
time range and setting the next level's variables; `iiot dashboards check` finds a link to a
dashboard or variable that is not built."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboards.catalog import Json, render_all
from dashboards.check import check
from dashboards.context import Build
from dashboards.links import link_problems, links
from dashboards.provisioning import Database, write

BUILDS = [Build(language=lang, timescaledb=ts) for lang in ("zh", "en", "both") for ts in (0, 1)]


def _urls(dashboard: Json) -> set[str]:
    return {str(link["url"]) for _, link in links(dashboard)}


@pytest.mark.parametrize("build", BUILDS, ids=lambda b: f"{b.language}-ts{int(b.timescaledb)}")
def test_built_links_resolve(build: Build) -> None:
    dashboards = render_all(build)
    assert link_problems(dashboards) == []
    assert sum(len(_urls(d)) for d in dashboards.values()) >= 6


def test_the_drill_down_chain() -> None:
    d = render_all(Build())
    time = "${__url_time_range}"
    assert (  # a row of the best/worst enterprises → that enterprise
        f"/d/iiot-enterprise?var-enterprise=${{__data.fields.enterprise_id}}&{time}"
        in _urls(d["iiot-province"])
    )
    assert (  # a bar of the lines ranked → that line, its plant and the enterprise
        "/d/iiot-line-device?var-enterprise=${enterprise}&var-plant=${__data.fields.plant}"
        f"&var-line=${{__data.fields.line}}&{time}" in _urls(d["iiot-enterprise"])
    )
    assert (  # a device's bar of the line's state seconds → that device
        "/d/iiot-line-device?var-enterprise=${enterprise}&var-plant=${plant}&var-line=${line}"
        f"&var-device=${{__data.fields.device}}&{time}" in _urls(d["iiot-line-device"])
    )
    up = {uid: [(link["url"], link["keepTime"]) for link in d[uid]["links"]]  # type: ignore[union-attr]
          for uid in ("iiot-enterprise", "iiot-line-device")}  # fmt: skip
    assert up == {
        "iiot-enterprise": [("/d/iiot-province?", True)],
        "iiot-line-device": [("/d/iiot-enterprise?var-enterprise=${enterprise}", True)],
    }


def test_a_broken_link_is_a_clear_finding() -> None:
    dashboards = render_all(Build())
    province, enterprise = dashboards["iiot-province"], dashboards["iiot-enterprise"]
    province["links"][0]["url"] = "/d/iiot-enterprize?"  # type: ignore[index]
    enterprise["links"][0]["keepTime"] = False  # type: ignore[index]
    line = dashboards["iiot-line-device"]
    for panel in line["panels"]:  # type: ignore[union-attr]
        for override in panel["fieldConfig"]["overrides"]:
            for prop in override["properties"]:
                if prop["id"] == "links":
                    prop["value"][0]["url"] = prop["value"][0]["url"].replace("var-line", "var-ln")
    problems = link_problems(dashboards)
    assert problems == [
        "iiot-province dashboard link '↓ 企业 · ↓ Enterprise': links to 'iiot-enterprize', "
        "which is not built",
        "iiot-enterprise dashboard link '↑ 全省总览 · ↑ Province overview': drops the time range",
        "iiot-line-device panel 6 '产线设备的状态时间（秒） · State seconds per device of the "
        "line' data link '设备详情 · Device details': iiot-line-device has no variable ['ln']",
    ]


def test_check_reports_a_link_to_a_dashboard_not_built(tmp_path: Path) -> None:
    write(tmp_path, Build(), Database())
    assert check(tmp_path) == []
    (tmp_path / "dashboards/operations/iiot-enterprise.json").unlink()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["dashboards"] = [e for e in manifest["dashboards"] if e["uid"] != "iiot-enterprise"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    problems = check(tmp_path)
    assert any("links to 'iiot-enterprise', which is not built" in p for p in problems)
