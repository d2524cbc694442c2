"""Alert rules as code: Grafana's file provisioning, `provisioning/alerting/iiot.yaml`.

Each rule reads the views as `iiot_reader`, like the panels: one SQL query (A) whose text
columns become the alert's labels and whose one number is reduced (B, last) and compared
(C, threshold: fires when the number is above `above`). The stream's own alarms are read from
`v_alarm_open`, not recomputed. One contact point, a placeholder (an email to an address that
cannot exist), and a notification policy routing every rule's team to it.

No `$` in the SQL: Grafana expands `$VAR` from the environment in provisioning files (the
annotations excepted, which hold `{{ $labels.… }}` templates).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dashboards.catalog import OPERATIONS, PLATFORM, Folder, Json
from dashboards.context import Build
from dashboards.query import Sql
from dashboards.text import Text, t

EXPR = "__expr__"  # Grafana's server-side expressions
PATH = "provisioning/alerting/iiot.yaml"
ORG = 1
INTERVAL = "1m"  # every rule group is evaluated this often
CONTACT_POINT = "iiot-oee-team"
PLACEHOLDER_EMAIL = "oee-team@example.invalid"  # .invalid never resolves: replace it to be told
RUNBOOK = "docs/operations.md#what-to-watch"
OEE_WINDOWS = 5  # K: line windows in a row below IIOT_OEE_TARGET
OEE_LOOKBACK = "INTERVAL '30 minutes'"  # a line that stopped making windows stops firing
FRESHNESS_MAX_S = 300  # newest telemetry or OEE row older than this fires
DEAD_LETTER_WINDOW = "INTERVAL '5 minutes'"
NoData = Literal["OK", "NoData", "Alerting", "KeepLast"]
ExecErr = Literal["OK", "Error", "Alerting", "KeepLast"]


@dataclass(frozen=True)
class Rule:
    uid: str
    title: Text
    sql: str  # text columns are labels; exactly one number
    above: float  # fires while the number is above this
    for_: str
    severity: Literal["critical", "warning"]
    team: Literal["oee", "platform"]
    summary: Text
    description: Text
    no_data: NoData
    exec_err: ExecErr
    folder: Folder
    lookback_s: int = 600  # the query's relativeTimeRange (the SQL bounds its own time)


def _open_alarms(kind: str) -> str:
    return (
        "SELECT a.device_id, COALESCE(d.enterprise_id, 'unknown') AS enterprise_id, "
        "COALESCE(d.line_id, 'unknown') AS line_id, count(*)::float8 AS open_episodes "
        "FROM v_alarm_open a LEFT JOIN v_device d ON d.device_id = a.device_id "
        f"WHERE a.kind = '{kind}' GROUP BY 1, 2, 3"
    )


def _oee_below(target: float) -> str:
    return (
        f"SELECT entity_id AS line_id, count(*) FILTER (WHERE oee < {target:g})::float8 "
        "AS windows_below FROM (SELECT entity_id, oee, row_number() OVER "
        "(PARTITION BY entity_id ORDER BY window_start DESC) AS n FROM v_oee "
        "WHERE level = 'line' AND oee IS NOT NULL AND window_end <= now() "
        f"AND window_start > now() - {OEE_LOOKBACK}) AS w WHERE n <= {OEE_WINDOWS} "
        f"GROUP BY entity_id HAVING count(*) = {OEE_WINDOWS}"
    )


def _age(table: str, event_time: str) -> str:
    # No row within a day is as stale as a day; the event-time bound prunes partitions.
    return (
        "COALESCE(extract(epoch FROM now() - max(arrived_at))::float8, 86400) AS age_s "
        f"FROM {table} WHERE {event_time} > now() - INTERVAL '1 day'"
    )


FRESHNESS = (
    f"SELECT 'iiot.telemetry' AS topic, {_age('v_telemetry', 'ts')} "
    f"UNION ALL SELECT 'iiot.oee' AS topic, {_age('v_oee', 'window_start')}"
)
DEAD_LETTERS = (
    "SELECT count(*)::float8 AS dead_letters FROM v_deadletter "
    f"WHERE arrived_at > now() - {DEAD_LETTER_WINDOW}"
)


def rules(build: Build) -> list[Rule]:
    device = "{{ $labels.device_id }}"
    line = "{{ $labels.line_id }}"
    return [
        Rule(
            "iiot-alert-down-too-long", t("设备停机过久", "Device down too long"),
            _open_alarms("down_too_long"), 0, "1m", "critical", "oee",
            t(f"设备 {device} 停机过久", f"Device {device} is down too long"),
            t(f"{device}（产线 {line}）处于停机状态超过 IIOT_ALARM_DOWN_S，告警未消除。",
              f"{device} (line {line}) has been down longer than IIOT_ALARM_DOWN_S; "
              "the stream's down_too_long alarm is open."),
            "OK", "Error", OPERATIONS,
        ),
        Rule(
            "iiot-alert-offline", t("设备离线", "Device offline"),
            _open_alarms("offline"), 0, "5m", "warning", "oee",
            t(f"设备 {device} 离线", f"Device {device} is offline"),
            t(f"{device}（产线 {line}）超过 max_gap 未发送样本，离线告警未消除。",
              f"{device} (line {line}) sent no sample for longer than its max_gap; "
              "the stream's offline alarm is open."),
            "OK", "Error", OPERATIONS,
        ),
        Rule(
            "iiot-alert-oee-below-target",
            t("产线 OEE 低于目标", "Line OEE below target"),
            _oee_below(build.oee_target), OEE_WINDOWS - 1, "1m", "warning", "oee",
            t(f"产线 {line} 的 OEE 连续 {OEE_WINDOWS} 个窗口低于目标 {build.oee_target:g}",
              f"Line {line}: OEE below the target {build.oee_target:g} "
              f"for {OEE_WINDOWS} windows in a row"),
            t(f"产线 {line} 最近 {OEE_WINDOWS} 个有 OEE 的窗口均低于 IIOT_OEE_TARGET。",
              f"The last {OEE_WINDOWS} windows with an OEE of line {line} are all "
              "below IIOT_OEE_TARGET."),
            "OK", "Error", OPERATIONS,
        ),
        Rule(
            "iiot-alert-data-stale", t("数据不新鲜", "Data not fresh"),
            FRESHNESS, FRESHNESS_MAX_S, "1m", "critical", "platform",
            t("{{ $labels.topic }} 超过 5 分钟没有新数据落库",
              "{{ $labels.topic }}: no new row landed for over 5 minutes"),
            t("最新一行落库（arrived_at）距今超过 5 分钟：生产者、Kafka、流处理或落库环节停止了。",
              "The newest row landed (arrived_at) over 5 minutes ago: a producer, Kafka, the "
              "stream workers or the sink stopped."),
            "Alerting", "Alerting", PLATFORM,
        ),
        Rule(
            "iiot-alert-dead-letters", t("死信", "Dead letters"),
            DEAD_LETTERS, 0, "0s", "warning", "platform",
            t("最近 5 分钟有死信", "Dead letters in the last 5 minutes"),
            t("最近 5 分钟有记录被拒绝（死信）；原因见数据管道健康仪表板。",
              "Records were rejected (dead letters) in the last 5 minutes; the Pipeline "
              "health dashboard shows their reasons."),
            "Alerting", "Alerting", PLATFORM,
        ),
    ]  # fmt: skip


def _expression(ref: str, model: Json) -> Json:
    return {
        "refId": ref,
        "relativeTimeRange": {"from": 0, "to": 0},
        "datasourceUid": EXPR,
        "model": {"refId": ref, "datasource": {"type": EXPR, "uid": EXPR}, **model},
    }


def _above(rule: Rule) -> list[Json]:
    return [{"evaluator": {"type": "gt", "params": [rule.above]}}]


def rule_json(rule: Rule, build: Build) -> Json:
    query = Sql(build.datasource_uid, build.sql(rule.sql)).table().ref("A").build().to_json()
    return {
        "uid": rule.uid,
        "title": build.text(rule.title),
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": rule.lookback_s, "to": 0},
                "datasourceUid": build.datasource_uid,
                "model": {**query, "intervalMs": 60_000, "maxDataPoints": 43_200},
            },
            _expression("B", {"type": "reduce", "expression": "A", "reducer": "last"}),
            _expression("C", {"type": "threshold", "expression": "B", "conditions": _above(rule)}),
        ],
        "noDataState": rule.no_data,
        "execErrState": rule.exec_err,
        "for": rule.for_,
        "labels": {"severity": rule.severity, "team": rule.team},
        "annotations": {
            "summary": build.text(rule.summary),
            "description": build.text(rule.description),
            "runbook_url": RUNBOOK,
        },
        "isPaused": False,
    }


def provisioning(build: Build) -> Json:
    """The whole alerting file: rule groups (one per folder), contact point, policy."""
    groups = []
    for folder in (OPERATIONS, PLATFORM):
        group = [rule_json(r, build) for r in rules(build) if r.folder == folder]
        groups.append({"orgId": ORG, "name": f"{folder.uid}-alerts",
                       "folder": build.text(folder.title), "interval": INTERVAL,
                       "rules": group})  # fmt: skip
    teams = sorted({r.team for r in rules(build)})
    return {
        "apiVersion": 1,
        "groups": groups,
        "contactPoints": [
            {
                "orgId": ORG,
                "name": CONTACT_POINT,
                "receivers": [
                    {
                        "uid": f"{CONTACT_POINT}-email",
                        "type": "email",
                        "settings": {"addresses": PLACEHOLDER_EMAIL, "singleEmail": True},
                        "disableResolveMessage": False,
                    }
                ],
            }
        ],
        "policies": [
            {
                "orgId": ORG,
                "receiver": CONTACT_POINT,
                "group_by": ["grafana_folder", "alertname"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "4h",
                "routes": [
                    {"receiver": CONTACT_POINT, "object_matchers": [["team", "=", team]]}
                    for team in teams
                ],
            }
        ],
    }
