"""`iiot dashboards check`: do the built files hold together?

Unique uids, every panel and variable on the provisioned datasource, every referenced
variable defined (before the variables that use it), every query expandable by Grafana's
macros on both TimescaleDB settings, no SQL comments (Grafana versions strip them
differently), only documented views, and no password in the files. And what operators read:
every panel has a description; every percentage (unit percent or percentunit, of the panel
or of a field) has its min, max and colour bands (more steps than one, not Grafana's default,
sorted, within min–max); every state panel maps its values to texts and colours.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from dashboards.context import VIEWS
from dashboards.links import link_problems
from dashboards.macros import VARIABLE, MacroError, TimeRange, expand
from dashboards.provisioning import PASSWORD_ENV

Json = dict[str, object]
QUALIFIED_VIEW = re.compile(r"\b([a-z_][a-z0-9_]*)\.(v_[a-z_]+)\b")
RANGE = TimeRange(
    datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=6)
)


def referenced_variables(sql: str) -> set[str]:
    names = {m[1] or m[2] or m[4] for m in VARIABLE.finditer(sql)}
    return {n for n in names if not n.startswith("__")}


def queries(dashboard: Json) -> Iterator[tuple[str, Json]]:
    """(where, query) for every panel target, variable and annotation of a dashboard."""
    for panel in dashboard.get("panels", []):  # type: ignore[union-attr]
        for target in panel.get("targets", []):
            yield f"panel {panel.get('id')} {panel.get('title')!r}", target
    for variable in dashboard.get("templating", {}).get("list", []):  # type: ignore[union-attr]
        query = {"rawSql": variable.get("query", ""), "datasource": variable.get("datasource")}
        yield f"variable ${variable['name']}", query
    for annotation in dashboard.get("annotations", {}).get("list", []):  # type: ignore[union-attr]
        if "target" in annotation:
            target = {**annotation["target"], "datasource": annotation.get("datasource")}
            yield f"annotation {annotation.get('name')!r}", target


PERCENT_UNITS = ("percent", "percentunit")
STATE_PANELS = ("state-timeline", "status-history")
SCALE = {"unit", "min", "max", "thresholds"}
GRAFANA_DEFAULT_STEPS = [{"color": "green", "value": None}, {"color": "red", "value": 80}]


def _resolved(panel: Json) -> Iterator[tuple[str, Json]]:
    """(where, config) for the panel's defaults and each override of its scale on them."""
    field_config = panel.get("fieldConfig") or {}
    assert isinstance(field_config, dict)
    defaults: Json = field_config.get("defaults") or {}
    yield "", defaults
    for override in field_config.get("overrides") or []:
        changed = {p.get("id"): p.get("value") for p in override.get("properties", [])}
        if changed.keys() & SCALE:  # else what the defaults say holds, and is checked there
            where = f" field {override.get('matcher', {}).get('options')!r}"
            yield where, {**defaults, **changed}


def _scale_problems(config: Json) -> list[str]:
    """What a percentage's config lacks: min, max, its own sorted steps inside them."""
    low, high = config.get("min"), config.get("max")
    if not isinstance(low, int | float) or not isinstance(high, int | float) or low >= high:
        return [f"a percentage without min and max (min {low!r}, max {high!r})"]
    thresholds = config.get("thresholds")
    steps = thresholds.get("steps") if isinstance(thresholds, dict) else None
    if not isinstance(steps, list) or len(steps) < 2:
        return ["a percentage without thresholds (Grafana's default paints every value green)"]
    if steps == GRAFANA_DEFAULT_STEPS:
        return ["a percentage on Grafana's default thresholds (green, red from 80)"]
    values = [step.get("value") for step in steps[1:]]
    if steps[0].get("value") is not None or not all(isinstance(v, int | float) for v in values):
        return ["thresholds must start at −∞ (null) and then give numbers"]
    if values != sorted(values) or not all(low <= v <= high for v in values):
        return [f"thresholds {values} are not sorted within min {low} and max {high}"]
    return []


def panel_problems(panel: Json) -> list[str]:
    """What an operator would miss in one panel: its description, its scale, its states."""
    where = f"panel {panel.get('id')} {panel.get('title')!r}"
    problems = []
    if not str(panel.get("description") or "").strip():
        problems.append(f"{where}: no description")
    for field, config in _resolved(panel):
        if config.get("unit") in PERCENT_UNITS:
            problems += [f"{where}{field}: {problem}" for problem in _scale_problems(config)]
    if panel.get("type") in STATE_PANELS:
        defaults = (panel.get("fieldConfig") or {}).get("defaults") or {}  # type: ignore[union-attr]
        coloured = [
            option for mapping in defaults.get("mappings") or []
            for option in (mapping.get("options") or {}).values()
            if isinstance(option, dict) and option.get("color")
        ]  # fmt: skip
        if not coloured:
            problems.append(f"{where}: a state panel without value mappings to texts and colours")
    return problems


def check_dashboard(dashboard: Json, datasource_uid: str) -> list[str]:
    problems: list[str] = []
    uid = dashboard.get("uid")
    ids = [p.get("id") for p in dashboard.get("panels", [])]  # type: ignore[union-attr]
    if len(ids) != len(set(ids)):
        problems.append(f"{uid}: panel ids repeat")
    defined: list[str] = []
    for variable in dashboard.get("templating", {}).get("list", []):  # type: ignore[union-attr]
        missing = referenced_variables(str(variable.get("query", ""))) - set(defined)
        if missing:
            problems.append(f"{uid}: variable ${variable['name']} uses undefined {sorted(missing)}")
        defined.append(variable["name"])
    for panel in dashboard.get("panels", []):  # type: ignore[union-attr]
        problems += [f"{uid} {problem}" for problem in panel_problems(panel)]
    for where, target in queries(dashboard):
        sql = str(target.get("rawSql", ""))
        source = target.get("datasource") or {}
        if not isinstance(source, dict) or source.get("uid") != datasource_uid:
            problems.append(f"{uid} {where}: datasource {source!r} is not {datasource_uid!r}")
        if not sql.strip():
            problems.append(f"{uid} {where}: no SQL")
        if "--" in sql or "/*" in sql:
            problems.append(f"{uid} {where}: SQL comments (Grafana versions differ on them)")
        missing = referenced_variables(sql) - set(defined)
        if missing:
            problems.append(f"{uid} {where}: undefined variables {sorted(missing)}")
        for _schema, view in QUALIFIED_VIEW.findall(sql):
            if view not in VIEWS:
                problems.append(f"{uid} {where}: {view} is not a documented view")
        for flag in (False, True):
            try:
                expand(sql, RANGE, interval_s=60, timescaledb=flag)
            except MacroError as exc:
                problems.append(f"{uid} {where}: {exc}")
    return problems


def check(out: Path) -> list[str]:
    """Problems found in a build directory; empty when it is good."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        sources = yaml.safe_load(
            (out / "provisioning" / "datasources" / "iiot.yaml").read_text(encoding="utf-8")
        )
        yaml.safe_load((out / "provisioning" / "dashboards" / "iiot.yaml").read_text("utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return [f"{out} is not a complete build ({exc}); run `iiot dashboards build`"]
    problems = []
    uids = {s["uid"] for s in sources.get("datasources", [])}
    for s in sources.get("datasources", []):
        if s.get("secureJsonData", {}).get("password") != "${" + PASSWORD_ENV + "}":
            problems.append(
                f"datasource {s.get('uid')}: the password must come from ${PASSWORD_ENV}"
            )
    if manifest["datasource_uid"] not in uids:
        problems.append(f"datasource {manifest['datasource_uid']} is not provisioned")
    seen: set[str] = set()
    built: dict[str, Json] = {}
    for entry in manifest["dashboards"]:
        try:
            dashboard = json.loads((out / entry["file"]).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{entry['file']}: {exc}")
            continue
        uid = dashboard.get("uid")
        if uid in seen or uid != entry["uid"]:
            problems.append(f"{entry['file']}: uid {uid!r} repeats or differs from the manifest")
        seen.add(uid)
        built[str(uid)] = dashboard
        problems += check_dashboard(dashboard, manifest["datasource_uid"])
    problems += link_problems(built)  # dashboards/links.py
    folder_uids = [f["uid"] for f in manifest["folders"]]
    if len(set(folder_uids) | seen) != len(folder_uids) + len(seen):
        problems.append("folder and dashboard uids overlap")
    problems += check_alerts(out, manifest["datasource_uid"])
    return problems


RULE_KEYS = ("uid", "title", "condition", "data", "for", "labels", "annotations",
             "noDataState", "execErrState")  # fmt: skip
NO_DATA_STATES = ("OK", "NoData", "Alerting", "KeepLast")
EXEC_ERR_STATES = ("OK", "Error", "Alerting", "KeepLast")


def check_alerts(out: Path, datasource_uid: str) -> list[str]:
    """The build's alerting file (dashboards/alerts.py) read back and checked."""
    path = out / "provisioning" / "alerting" / "iiot.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        return [f"{path}: {exc}; run `iiot dashboards build`"]
    return alert_problems(doc, datasource_uid)


def alert_problems(doc: Json, datasource_uid: str) -> list[str]:
    """Grafana's alerting provisioning schema, as far as it can be checked offline: required
    keys, unique rule uids, every query on the datasource (reader SQL: no comments, documented
    views, macros expandable), expressions on `__expr__`, every condition and expression
    naming a refId of its rule, contact points the policy routes to."""
    if not isinstance(doc, dict) or doc.get("apiVersion") != 1:
        return ["alerting: not a provisioning file (apiVersion 1)"]
    problems: list[str] = []
    uids: list[str] = []
    for group in doc.get("groups") or []:  # type: ignore[union-attr]
        for key in ("orgId", "name", "folder", "interval", "rules"):
            if not group.get(key):
                problems.append(f"alert group {group.get('name')!r}: no {key}")
        for rule in group.get("rules") or []:
            uid = rule.get("uid")
            uids.append(uid)
            problems += [f"alert {uid}: {p}" for p in _rule_problems(rule, datasource_uid)]
    if not uids:
        problems.append("alerting: no rules")
    if len(uids) != len(set(uids)):
        problems.append(f"alerting: rule uids repeat ({sorted(map(str, uids))})")
    receivers = [r for c in doc.get("contactPoints") or [] for r in c.get("receivers") or []]  # type: ignore[union-attr]
    names = {c.get("name") for c in doc.get("contactPoints") or []}  # type: ignore[union-attr]
    if not receivers or not all(r.get("uid") and r.get("type") for r in receivers):
        problems.append("alerting: contact points need receivers with uid and type")
    for policy in doc.get("policies") or []:  # type: ignore[union-attr]
        routed = [policy.get("receiver")] + [r.get("receiver") for r in policy.get("routes") or []]
        if not set(routed) <= names:
            problems.append(f"alerting: the policy routes to {routed}, not all of {names}")
    return problems


def _rule_problems(rule: Json, datasource_uid: str) -> list[str]:
    problems = [f"no {key}" for key in RULE_KEYS if key not in rule]
    if rule.get("noDataState") not in NO_DATA_STATES:
        problems.append(f"noDataState {rule.get('noDataState')!r}")
    if rule.get("execErrState") not in EXEC_ERR_STATES:
        problems.append(f"execErrState {rule.get('execErrState')!r}")
    data = rule.get("data") or []
    assert isinstance(data, list)
    refs = [query.get("refId") for query in data]
    if len(refs) != len(set(refs)):
        problems.append(f"refIds repeat ({refs})")
    if rule.get("condition") not in refs:
        problems.append(f"condition {rule.get('condition')!r} is none of its refIds {refs}")
    for query in data:
        model = query.get("model") or {}
        where = f"query {query.get('refId')}"
        if model.get("refId") != query.get("refId"):
            problems.append(f"{where}: the model's refId is {model.get('refId')!r}")
        if query.get("datasourceUid") == "__expr__":
            if model.get("expression") not in refs:
                problems.append(f"{where}: expression {model.get('expression')!r} is no refId")
            continue
        if query.get("datasourceUid") != datasource_uid:
            problems.append(f"{where}: datasource {query.get('datasourceUid')!r}")
        if (model.get("datasource") or {}).get("uid") != datasource_uid:
            problems.append(f"{where}: the model's datasource is not {datasource_uid!r}")
        span = query.get("relativeTimeRange") or {}
        if not isinstance(span.get("from"), int) or span.get("from", 0) <= span.get("to", -1):
            problems.append(f"{where}: relativeTimeRange {span!r}")
        sql = str(model.get("rawSql") or "")
        if not sql.strip() or "--" in sql or "/*" in sql or "$" in sql.replace("$__", ""):
            problems.append(f"{where}: no SQL, SQL comments, or a $ Grafana would expand")
        for _schema, view in QUALIFIED_VIEW.findall(sql):
            if view not in VIEWS:
                problems.append(f"{where}: {view} is not a documented view")
        try:
            expand(sql, RANGE, interval_s=60, timescaledb=False)
        except MacroError as exc:
            problems.append(f"{where}: {exc}")
    return problems
