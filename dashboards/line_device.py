"""3. Line and device: the shop floor — states, counts, process values, OEE per window."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as d

from dashboards import notes
from dashboards.context import Build
from dashboards.enterprise import ENTERPRISE_SQL
from dashboards.enterprise import UID as ENTERPRISE_UID
from dashboards.panels import Link, Panels
from dashboards.text import t

UID = "iiot-line-device"
TITLE = t("产线与设备", "Line and device")
PER_WINDOW = (
    "SELECT window_start AS time, oee, availability, performance, quality FROM v_oee "
    "WHERE level = '{level}' AND entity_id = '${level}' AND $__timeFilter(window_start) "
    "ORDER BY 1"
)
UP = Link(t("↑ 企业", "↑ Enterprise"), ENTERPRISE_UID, {"enterprise": "${enterprise}"})
TO_DEVICE = Link(t("设备详情", "Device details"), UID, {
    "enterprise": "${enterprise}", "plant": "${plant}", "line": "${line}",
    "device": "${__data.fields.device}",
})  # fmt: skip
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
            "SELECT ts AS time, state FROM v_telemetry WHERE device_id = '$device' "
            "AND $__timeFilter(ts) ORDER BY 1", description=notes.STATE,
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
            "sum(count_total - count_good) AS scrap FROM v_oee WHERE level = 'device' "
            "AND entity_id = '$device' AND $__timeFilter(window_start) GROUP BY 1 ORDER BY 1",
            unit="short", bars=True, stacked=True,
            description=t("每个时间段的合格品与废品（计数器增量）。",
                          "Good parts and scrap per interval (counter deltas)."),
        ))
        .with_panel(p.timeseries(
            t("工艺参数", "Process metrics"),
            "SELECT $__timeGroupAlias(ts, $__interval), metric, avg(value) AS value "
            "FROM v_telemetry_metric WHERE device_id = '$device' AND $__timeFilter(ts) "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            description=t("设备上报的工艺参数，每段取平均；每条曲线以参数名命名，单位见参数名。",
                          "The device's process metrics, averaged per interval; each line is "
                          "named by its metric, whose name carries its unit."),
        ))
        .with_panel(p.stacked_bars(
            t("产线设备的状态时间（秒）", "State seconds per device of the line"),
            "SELECT entity_id AS device, sum(run_s) AS run_s, sum(idle_s) AS idle_s, "
            "sum(setup_s) AS setup_s, sum(down_s) AS down_s, sum(planned_stop_s) AS "
            "planned_stop_s, sum(unknown_s) AS unknown_s FROM v_oee WHERE level = 'device' "
            "AND entity_id IN (SELECT device_id FROM v_device WHERE line_id = '$line') "
            "AND $__timeFilter(window_start) GROUP BY 1 ORDER BY 1",
            unit="s", x="device", description=notes.LOSSES, links={"*": TO_DEVICE},
        ))
        .with_panel(p.table(t("产线报警", "Alarms of the line"), LINE_ALARMS,
                            description=notes.ALARMS))
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
