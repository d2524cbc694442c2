"""3. Line and device: the shop floor — states, counts, process values, OEE per window."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as d

from dashboards import losses, notes, shifts
from dashboards.context import Build
from dashboards.enterprise import ENTERPRISE_SQL
from dashboards.enterprise import UID as ENTERPRISE_UID
from dashboards.panels import Link, Panels
from dashboards.sqlparts import LONG_RANGE, RATIOS, SHORT_RANGE, metrics_by_range, oee_by_range
from dashboards.text import t

UID = "iiot-line-device"
TITLE = t("产线与设备", "Line and device")
# Long ranges read the hourly or daily roll-ups (sqlparts.oee_by_range): `{level}` is filled
# in per panel, `{time}` by the source.
OF_LEVEL = oee_by_range("level = '{level}' AND entity_id = '${level}' AND $__timeFilter({time})")
OF_LINE_DEVICES = oee_by_range(
    "level = 'device' AND entity_id IN (SELECT device_id FROM v_device WHERE line_id = '$line') "
    "AND $__timeFilter({time})"
)
OF_DEVICE = "device_id = '$device' AND $__timeFilter({time})"
PER_WINDOW = (
    f"SELECT $__timeGroupAlias(window_start, $__interval), {RATIOS} FROM {OF_LEVEL} "
    "GROUP BY 1 ORDER BY 1"
)
# The device's samples where its state changes, and the last: the timeline draws each state
# until the next row, so it looks the same with a row an episode, not a sample (30 days of a
# device at 5 s: 518,400 samples).
STATE_CHANGES = (
    "SELECT ts AS time, state FROM (SELECT ts, state, lag(state) OVER w AS before, "
    "lead(ts) OVER w AS next FROM v_telemetry WHERE device_id = '$device' "
    "AND $__timeFilter(ts) WINDOW w AS (ORDER BY ts, seq)) AS s "
    "WHERE before IS DISTINCT FROM state OR next IS NULL ORDER BY 1"
)
UP = Link(t("↑ 企业", "↑ Enterprise"), ENTERPRISE_UID, {"enterprise": "${enterprise}"})
TO_DEVICE = Link(t("设备详情", "Device details"), UID, {
    "enterprise": "${enterprise}", "plant": "${plant}", "line": "${line}",
    "device": "${__data.fields.device}",
})  # fmt: skip
# Downtime by reason, MTBF, MTTR (docs/kpi.md, "Downtime, MTBF, MTTR and TEEP"): the
# intervals of v_state_interval that overlap the range, cut at its edges — computed here with
# LEAD/LAG over the range's samples (7× faster for a line's day than the view's per-row
# lookups, docs/schema.md); tests/integration/test_downtime.py checks both give the same.
# The 3 hours before the range are read for intervals under way (max_gap ≤ 3 × 3600 s). An
# episode counts where it starts, or once if it is in progress at the range's start.
# Ranges over 2 days read the whole hours of the stored roll-up instead (v_state_rollup,
# migration 0015), the same rules cut at the hours: the same numbers on hour-aligned ranges.
CAUSE = "CASE WHEN state <> 'running' THEN COALESCE(reason, 'unspecified') END"
INTERVALS = (
    "(SELECT cause, st, (ts < $__timeFrom()::timestamptz OR pt IS NULL OR pt < ts - gap "
    "OR ps <> st OR pc IS DISTINCT FROM cause)::int AS episodes, "
    "extract(epoch FROM LEAST(nt, ts + gap, $__timeTo()::timestamptz) "
    "- GREATEST(ts, $__timeFrom()::timestamptz))::float8 AS s "
    f"FROM (SELECT ts, state AS st, {CAUSE} AS cause, "
    "sample_interval_s * 3 * INTERVAL '1 second' AS gap, lead(ts) OVER w AS nt, "
    f"lag(ts) OVER w AS pt, lag(state) OVER w AS ps, lag({CAUSE}) OVER w AS pc "
    "FROM v_telemetry JOIN v_device USING (device_id) WHERE {scope} "
    "AND ts >= $__timeFrom()::timestamptz - INTERVAL '3 hours' "
    f"AND ts < $__timeTo()::timestamptz AND {SHORT_RANGE} "
    "WINDOW w AS (PARTITION BY device_id ORDER BY ts, seq)) AS x "
    "WHERE LEAST(nt, ts + gap) > $__timeFrom()::timestamptz "
    "UNION ALL SELECT reason, state, episodes + (ongoing "
    "AND bucket < $__timeFrom()::timestamptz + INTERVAL '1 hour')::int, seconds "
    "FROM v_state_rollup WHERE {scope} AND bucket >= $__timeFrom()::timestamptz "
    f"AND bucket + INTERVAL '1 hour' <= $__timeTo()::timestamptz AND {LONG_RANGE}) AS i"
)
LINE_SCOPE, DEVICE_SCOPE = "line_id = '$line'", "device_id = '$device'"
OF_LINE = "level = 'line' AND entity_id = '$line' AND $__timeFilter({time})"
LOST = "st IN ('down', 'idle', 'setup')"
PARETO = (
    "SELECT cause AS reason, sum(s) FILTER (WHERE st = 'down') AS down_s, "
    "sum(s) FILTER (WHERE st = 'idle') AS idle_s, "
    "sum(s) FILTER (WHERE st = 'setup') AS setup_s "
    f"FROM {INTERVALS} WHERE {LOST} GROUP BY cause ORDER BY sum(s) DESC, cause"
)
REASONS = (
    "SELECT cause AS reason, sum(s) AS lost_s, sum(episodes) AS episodes, "
    "sum(s) / NULLIF(sum(episodes), 0) AS mean_s "
    f"FROM {INTERVALS} WHERE {LOST} GROUP BY cause ORDER BY sum(s) DESC, cause"
)
BREAKDOWNS = "COALESCE(sum(episodes) FILTER (WHERE st = 'down'), 0)"
MTBF_MTTR = (
    f"SELECT sum(s) FILTER (WHERE st = 'running') / NULLIF({BREAKDOWNS}, 0) AS mtbf_s, "
    f"sum(s) FILTER (WHERE st = 'down') / NULLIF({BREAKDOWNS}, 0) AS mttr_s, "
    f"{BREAKDOWNS} AS breakdowns FROM {INTERVALS}"
)
# TEEP = OEE × planned / calendar time = ideal run time × Q / calendar time, from added parts.
QUALITY = "COALESCE(sum(count_good)::float8 / NULLIF(sum(count_total), 0), 0)"
CALENDAR = "NULLIF(sum(planned_s + planned_stop_s + unknown_s), 0)"
TEEP = (
    f"SELECT sum(ideal_run_s) * {QUALITY} / NULLIF(sum(planned_s), 0) AS oee, "
    f"sum(planned_s) / {CALENDAR} AS utilisation, "
    f"sum(ideal_run_s) * {QUALITY} / {CALENDAR} AS teep FROM {OF_LEVEL}"
)
LINE_ALARMS = (
    "SELECT ts AS time, kind || ' ' || status || ': ' || message AS text, kind AS tags "
    "FROM v_alarm WHERE device_id IN (SELECT device_id FROM v_device WHERE line_id = '$line') "
    "AND $__timeFilter(ts) ORDER BY 1"
)


def dashboard(build: Build) -> d.Dashboard:
    p = Panels(build)
    return (
        p.dashboard(TITLE, UID, ["line", "device"], since="now-6h", refresh="30s", links=(UP,))
        .with_variable(p.variable("enterprise", t("企业", "Enterprise"), ENTERPRISE_SQL))
        .with_variable(p.variable(
            "plant", t("工厂", "Plant"),
            "SELECT DISTINCT plant_id FROM v_device WHERE enterprise_id = '$enterprise' ORDER BY 1",
        ))
        .with_variable(p.variable(
            "line", t("产线", "Line"),
            "SELECT DISTINCT line_id FROM v_device WHERE plant_id = '$plant' ORDER BY 1",
        ))
        .with_variable(p.variable(
            "device", t("设备", "Device"),
            "SELECT device_id FROM v_device WHERE line_id = '$line' ORDER BY 1",
        ))
        .with_panel(p.state_timeline(
            t("设备状态", "Device state"),
            STATE_CHANGES, description=notes.STATE,
        ))
        .with_panel(p.timeseries(t("产线 OEE（每窗口）", "Line OEE per window"),
                                 PER_WINDOW.format(level="line"), band="oee",
                                 description=notes.APQ))
        .with_panel(p.timeseries(t("设备 OEE（每窗口）", "Device OEE per window"),
                                 PER_WINDOW.format(level="device"), band="oee",
                                 description=notes.APQ))
        .with_panel(p.timeseries(
            t("产量与废品", "Parts and scrap"),
            "SELECT $__timeGroupAlias(window_start, $__interval), sum(count_good) AS good, "
            "sum(count_total - count_good) AS scrap FROM "
            f"{OF_LEVEL.replace('{level}', 'device')} GROUP BY 1 ORDER BY 1",
            unit="short", bars=True, stacked=True,
            description=t("每个时间段的合格品与废品（计数器增量）。",
                          "Good parts and scrap per interval (counter deltas)."),
        ))
        .with_panel(p.timeseries(
            t("工艺参数", "Process metrics"),
            "SELECT $__timeGroupAlias(ts, $__interval), metric, sum(value_sum) / sum(samples) "
            "AS value FROM "
            f"{metrics_by_range(OF_DEVICE)} "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            description=t("设备上报的工艺参数，每段取平均；每条曲线以参数名命名，单位见参数名。",
                          "The device's process metrics, averaged per interval; each line is "
                          "named by its metric, whose name carries its unit."),
        ))
        .with_panel(p.stacked_bars(
            t("产线设备的状态时间（秒）", "State seconds per device of the line"),
            "SELECT entity_id AS device, sum(run_s) AS run_s, sum(idle_s) AS idle_s, "
            "sum(setup_s) AS setup_s, sum(down_s) AS down_s, sum(planned_stop_s) AS "
            "planned_stop_s, sum(unknown_s) AS unknown_s FROM "
            f"{OF_LINE_DEVICES} GROUP BY 1 ORDER BY 1",
            unit="s", x="device", description=notes.LOSSES, links={"*": TO_DEVICE},
        ))
        .with_panel(p.table(t("产线报警", "Alarms of the line"), LINE_ALARMS,
                            description=notes.ALARMS))
        .with_panel(p.stat(t("产线 OEE 与 TEEP", "Line OEE and TEEP"),
                           TEEP.replace("{level}", "line"), band="oee", description=notes.TEEP,
                           width=6))
        .with_panel(p.stat(t("设备 OEE 与 TEEP", "Device OEE and TEEP"),
                           TEEP.replace("{level}", "device"), band="oee",
                           description=notes.TEEP, width=6))
        .with_panel(p.stat(t("产线 MTBF 与 MTTR", "Line MTBF and MTTR"),
                           MTBF_MTTR.format(scope=LINE_SCOPE), unit="s",
                           description=notes.MTBF_MTTR, width=6))
        .with_panel(p.stat(t("设备 MTBF 与 MTTR", "Device MTBF and MTTR"),
                           MTBF_MTTR.format(scope=DEVICE_SCOPE), unit="s",
                           description=notes.MTBF_MTTR, width=6))
        .with_panel(p.stacked_bars(t("产线停机原因（帕累托）", "Line downtime by reason (Pareto)"),
                                   PARETO.format(scope=LINE_SCOPE), unit="s", x="reason",
                                   description=notes.DOWNTIME))
        .with_panel(p.stacked_bars(t("设备停机原因（帕累托）",
                                     "Device downtime by reason (Pareto)"),
                                   PARETO.format(scope=DEVICE_SCOPE), unit="s", x="reason",
                                   description=notes.DOWNTIME))
        .with_panel(p.table(t("产线停机原因：时间与次数",
                              "Line downtime by reason: time and episodes"),
                            REASONS.format(scope=LINE_SCOPE), description=notes.DOWNTIME_TABLE))
        .with_panel(losses.waterfall(p, t("产线损失瀑布：六大损失",
                                          "Line loss waterfall: the six big losses"), OF_LINE))
        .with_panel(shifts.current(p, t("当前班次：产线 OEE 与合格品对比目标",
                                        "Current shift: line OEE and good parts vs target"),
                                   shifts.LINE))
        .with_panel(shifts.per_day(p, t("产线每日 OEE（班次日）", "Line OEE per day (shift days)"),
                                   shifts.LINE))
        .with_panel(shifts.per_shift(p, t("产线每班 OEE", "Line OEE per shift"), shifts.LINE,
                                     width=24))
    )  # fmt: skip


def annotations(build: Build) -> list[dict[str, object]]:
    """Alarm edges of the line as annotations (the SDK's builder has no SQL target)."""
    return [{
        "name": build.text(t("报警", "Alarms")),
        "enable": True,
        "iconColor": "red",
        "datasource": Panels(build).ds.to_json(),
        "target": {"refId": "Anno", "rawSql": build.sql(LINE_ALARMS), "format": "table",
                   "rawQuery": True, "editorMode": "code"},
    }]  # fmt: skip
