"""The built dashboards hold together: unique uids, one datasource, defined variables,
documented views only, titles in the chosen language, and `iiot dashboards build | check`."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from dashboards.catalog import FOLDERS, render_all
from dashboards.check import check, check_dashboard, queries, referenced_variables
from dashboards.context import DATASOURCE_UID, Build, UnknownView
from dashboards.provisioning import Database, write
from iiot.types import ID_PATTERN

BUILDS = [Build(language=lang, timescaledb=ts) for lang in ("zh", "en", "both") for ts in (0, 1)]


@pytest.mark.parametrize("build", BUILDS, ids=lambda b: f"{b.language}-ts{int(b.timescaledb)}")
def test_dashboards_hold_together(build: Build) -> None:
    dashboards = render_all(build)
    uids = [d["uid"] for d in dashboards.values()] + [f.uid for f in FOLDERS]
    assert len(uids) == len(set(uids)) == 7
    for dashboard in dashboards.values():
        assert check_dashboard(dashboard, DATASOURCE_UID) == []
        defined = {v["name"] for v in dashboard["templating"]["list"]}  # type: ignore[index]
        for _where, target in queries(dashboard):
            assert target["datasource"]["uid"] == DATASOURCE_UID  # type: ignore[index]
            assert referenced_variables(str(target["rawSql"])) <= defined


def test_uids_and_panel_ids_are_stable_across_builds() -> None:
    def ids(build: Build) -> dict[str, list[object]]:
        return {u: [p["id"] for p in d["panels"]] for u, d in render_all(build).items()}  # type: ignore[union-attr]

    assert ids(Build(language="zh")) == ids(Build(language="en", timescaledb=True))
    assert set(ids(Build())) == {"iiot-province", "iiot-enterprise", "iiot-line-device",
                                 "iiot-andon", "iiot-pipeline"}  # fmt: skip


def test_titles_follow_the_language() -> None:
    zh, en = render_all(Build(language="zh")), render_all(Build(language="en"))
    assert zh["iiot-province"]["title"] == "工业互联网平台总览"
    assert en["iiot-province"]["title"] == "Industrial Internet Platform Overview"
    assert not any(
        re.search(r"[\u4e00-\u9fff]", str(p["title"])) for p in en["iiot-pipeline"]["panels"]
    )  # type: ignore[union-attr]
    both = render_all(Build())["iiot-enterprise"]["title"]
    assert both == "企业 · Enterprise"


def test_province_has_the_geomap_and_a_labelled_2017_reference() -> None:
    panels = render_all(Build(language="en"))["iiot-province"]["panels"]
    geomap = next(p for p in panels if p["type"] == "geomap")  # type: ignore[union-attr]
    assert geomap["options"]["layers"][0]["location"]["mode"] == "coords"
    assert "FROM iiot.v_city c LEFT JOIN" in geomap["targets"][0]["rawSql"]  # coordinates
    reference = next(p for p in panels if "55.2" in p["title"])  # type: ignore[union-attr]
    assert "different methodology" in reference["title"]
    assert "not directly comparable" in reference["description"]
    assert "(different method)" in reference["targets"][1]["rawSql"]


def test_chained_variables_only_keep_id_shaped_values() -> None:
    variables = render_all(Build())["iiot-line-device"]["templating"]["list"]  # type: ignore[index]
    assert [v["name"] for v in variables] == ["enterprise", "plant", "line", "device"]
    for before, variable in itertools.pairwise(variables):
        assert f"'${before['name']}'" in variable["query"]  # chained on the previous one
    pattern = re.compile(variables[0]["regex"].strip("/"))
    assert pattern.match("qd-haier-p1-l1-press01")
    for hostile in ("x' OR '1'='1", "a;DROP", "a b", "'", ""):
        assert not pattern.match(hostile)
    assert variables[0]["regex"] == "/" + ID_PATTERN + "/"


def test_only_documented_views_are_queried() -> None:
    assert "iiot.v_oee" in Build().sql("SELECT * FROM v_oee")
    with pytest.raises(UnknownView):
        Build().sql("SELECT * FROM v_secret")
    for dashboard in render_all(Build(schema="plant7")).values():
        for _where, target in queries(dashboard):
            sql = str(target["rawSql"])
            assert "FROM oee" not in sql
            assert " FROM " not in sql or re.search(r"plant7\.v_\w+", sql)


def test_build_writes_provisioning_that_check_accepts(tmp_path: Path) -> None:
    manifest = write(tmp_path, Build(timescaledb=True), Database.from_dsn(
        "postgresql://iiot_reader:secret@db.example:6543/plant"))  # fmt: skip
    source = yaml.safe_load((tmp_path / "provisioning/datasources/iiot.yaml").read_text())
    ds = source["datasources"][0]
    assert (ds["url"], ds["user"], ds["jsonData"]["database"]) == (
        "db.example:6543", "iiot_reader", "plant")  # fmt: skip
    assert ds["jsonData"]["timescaledb"] is True
    assert ds["secureJsonData"]["password"] == "${IIOT_READER_PASSWORD}"
    assert "secret" not in (tmp_path / "provisioning/datasources/iiot.yaml").read_text()
    providers = yaml.safe_load((tmp_path / "provisioning/dashboards/iiot.yaml").read_text())
    assert {p["folderUid"] for p in providers["providers"]} == {f.uid for f in FOLDERS}
    assert len(manifest["dashboards"]) == 5  # type: ignore[arg-type]
    assert check(tmp_path) == []


def test_check_finds_what_is_broken(tmp_path: Path) -> None:
    write(tmp_path, Build(), Database())
    path = tmp_path / "dashboards/operations/iiot-enterprise.json"
    dashboard = json.loads(path.read_text())
    dashboard["panels"][0]["targets"][0]["datasource"]["uid"] = "elsewhere"
    dashboard["panels"][1]["targets"][0]["rawSql"] += " AND x = '$nowhere' -- note"
    dashboard["panels"][2]["id"] = dashboard["panels"][3]["id"]
    path.write_text(json.dumps(dashboard))
    problems = "\n".join(check(tmp_path))
    for expected in ("'elsewhere'", "undefined variables ['nowhere']", "SQL comments",
                     "panel ids repeat"):  # fmt: skip
        assert expected in problems
    assert check(tmp_path / "missing")[0].endswith("run `iiot dashboards build`")


def test_cli_build_then_check(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "grafana"
    result = runner.invoke(app, ["dashboards", "build", "-o", str(out), "--language", "en",
                                 "--timescaledb", "--schema", "iiot"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["dashboards", "check", "-o", str(out)]).exit_code == 0
    bad = runner.invoke(app, ["dashboards", "build", "-o", str(out), "--language", "fr"])
    assert bad.exit_code == 2
