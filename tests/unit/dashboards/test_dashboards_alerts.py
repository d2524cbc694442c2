"""Alert rules as code: the built alerting file is Grafana's provisioning schema as far as
it can be checked offline, follows the build's language and datasource, and `iiot dashboards
check` refuses a broken one."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from dashboards import alerts
from dashboards.check import alert_problems, check
from dashboards.context import DATASOURCE_UID, Build
from dashboards.provisioning import Database, write

Json = dict[str, object]


def _built(tmp_path: Path, build: Build) -> Json:
    write(tmp_path, build, Database())
    doc = yaml.safe_load((tmp_path / alerts.PATH).read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def _rules(doc: Json) -> list[Json]:
    return [rule for group in doc["groups"] for rule in group["rules"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("language", ["zh", "en", "both"])
def test_the_alerting_file_holds_together(tmp_path: Path, language: str) -> None:
    doc = _built(tmp_path, Build(language=language))  # type: ignore[arg-type]
    assert alert_problems(doc, DATASOURCE_UID) == []
    assert check(tmp_path) == []
    rules = _rules(doc)
    assert {r["uid"] for r in rules} == {
        "iiot-alert-down-too-long", "iiot-alert-offline", "iiot-alert-oee-below-target",
        "iiot-alert-data-stale", "iiot-alert-dead-letters",
    }  # fmt: skip
    for rule in rules:
        refs = [q["refId"] for q in rule["data"]]  # type: ignore[attr-defined]
        assert rule["condition"] in refs and len(set(refs)) == len(refs)
        query, *expressions = rule["data"]  # type: ignore[misc]
        assert query["datasourceUid"] == DATASOURCE_UID
        assert query["model"]["format"] == "table"
        assert re.search(r"\biiot\.v_[a-z_]+\b", query["model"]["rawSql"])
        assert "$" not in query["model"]["rawSql"]  # Grafana would expand it from the env
        assert [e["datasourceUid"] for e in expressions] == ["__expr__", "__expr__"]
        assert rule["labels"]["severity"] in ("critical", "warning")  # type: ignore[index]
        assert rule["labels"]["team"] in ("oee", "platform")  # type: ignore[index]
        notes = rule["annotations"]
        assert set(notes) == {"summary", "description", "runbook_url"}  # type: ignore[arg-type]
        assert notes["runbook_url"].startswith("docs/operations.md#")  # type: ignore[index]
        chinese = any(re.search(r"[\u4e00-\u9fff]", str(v)) for v in notes.values())  # type: ignore[attr-defined]
        assert chinese == (language != "en")
    manifest_rules = yaml.safe_load((tmp_path / "manifest.json").read_text())["alerts"]["rules"]
    assert sorted(manifest_rules) == sorted(r["uid"] for r in rules)


def test_contact_point_is_a_placeholder_the_policy_routes_every_team_to(tmp_path: Path) -> None:
    doc = _built(tmp_path, Build(language="en"))
    (point,) = doc["contactPoints"]  # type: ignore[misc]
    (receiver,) = point["receivers"]
    assert receiver["type"] == "email"
    assert receiver["settings"]["addresses"].endswith(".invalid")
    (policy,) = doc["policies"]  # type: ignore[misc]
    assert policy["receiver"] == point["name"]
    teams = {r["labels"]["team"] for r in _rules(doc)}  # type: ignore[index]
    assert {m[0][2] for m in (r["object_matchers"] for r in policy["routes"])} == teams


def test_oee_rule_reads_the_target_and_k_windows() -> None:
    (rule,) = [r for r in alerts.rules(Build(oee_target=0.7)) if "oee" in r.uid]
    assert "oee < 0.7)" in rule.sql and f"n <= {alerts.OEE_WINDOWS}" in rule.sql
    assert rule.above == alerts.OEE_WINDOWS - 1  # fires when all K windows are below


def test_datasource_uid_and_schema_follow_the_build(tmp_path: Path) -> None:
    doc = _built(tmp_path, Build(schema="plant7", datasource_uid="other-pg"))
    for rule in _rules(doc):
        query = rule["data"][0]  # type: ignore[index]
        assert query["datasourceUid"] == "other-pg"
        assert (
            "plant7.v_" in query["model"]["rawSql"] and " iiot.v_" not in query["model"]["rawSql"]
        )
    assert alert_problems(doc, "other-pg") == []
    assert alert_problems(doc, DATASOURCE_UID) != []


def _broken(doc: Json, change: str) -> Json:
    doc = copy.deepcopy(doc)
    rules = _rules(doc)
    if change == "uid":
        rules[1]["uid"] = rules[0]["uid"]
    elif change == "datasource":
        rules[0]["data"][0]["datasourceUid"] = "elsewhere"  # type: ignore[index]
    elif change == "condition":
        rules[0]["condition"] = "Z"
    elif change == "expression":
        rules[0]["data"][2]["model"]["expression"] = "Q"  # type: ignore[index]
    elif change == "key":
        del rules[0]["for"]
    elif change == "view":
        rules[0]["data"][0]["model"]["rawSql"] = "SELECT 1 FROM iiot.alarm"  # type: ignore[index]
        rules[1]["data"][0]["model"]["rawSql"] = "SELECT 1 FROM iiot.v_secret"  # type: ignore[index]
    elif change == "state":
        rules[0]["noDataState"] = "Sometimes"
    return doc


@pytest.mark.parametrize(
    "change", ["uid", "datasource", "condition", "expression", "key", "view", "state"]
)
def test_check_refuses_a_broken_alerting_file(tmp_path: Path, change: str) -> None:
    doc = _broken(_built(tmp_path, Build(language="en")), change)
    (tmp_path / alerts.PATH).write_text(yaml.safe_dump(doc), encoding="utf-8")
    problems = check(tmp_path)
    assert problems, change
    assert all("alert" in p for p in problems)


def test_build_writes_the_alerting_file_and_check_needs_it(tmp_path: Path) -> None:
    out = tmp_path / "grafana"
    result = CliRunner().invoke(app, ["dashboards", "build", "-o", str(out), "--language", "zh"])
    assert result.exit_code == 0, result.output
    assert (out / alerts.PATH).is_file()
    assert CliRunner().invoke(app, ["dashboards", "check", "-o", str(out)]).exit_code == 0
    (out / alerts.PATH).unlink()
    result = CliRunner().invoke(app, ["dashboards", "check", "-o", str(out)])
    assert result.exit_code == 1 and "alerting" in result.output
