"""2. Enterprise: how one enterprise produces, where its time goes, how digitized it is."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as d

from dashboards import losses, notes, shifts
from dashboards.context import Build
from dashboards.panels import Link, Panels
from dashboards.sqlparts import LOSSES, OEE, RATIOS, oee_by_range
from dashboards.text import t

UID = "iiot-enterprise"
TITLE = t("企业", "Enterprise")
ENTERPRISE_SQL = "SELECT enterprise_id FROM v_enterprise ORDER BY 1"
PROVINCE_UID = "iiot-province"
LINE_UID = "iiot-line-device"
TO_LINE = Link(t("产线详情", "Line details"), LINE_UID, {
    "enterprise": "${enterprise}", "plant": "${__data.fields.plant}",
    "line": "${__data.fields.line}",
})  # fmt: skip
OF_ENTERPRISE = "level = 'enterprise' AND entity_id = '$enterprise' AND $__timeFilter({time})"
# The enterprise's lines only, so a long range reads their hours, not every line's.
OF_LINES = (
    "level = 'line' AND entity_id IN (SELECT line_id FROM v_device "
    "WHERE enterprise_id = '$enterprise') AND $__timeFilter({time})"
)


def dashboard(build: Build) -> d.Dashboard:
    p = Panels(build)
    bucket = "SELECT $__timeGroupAlias(window_start, $__interval), "
    over_range, of_lines = oee_by_range(OF_ENTERPRISE), oee_by_range(OF_LINES)
    return (
        p.dashboard(TITLE, UID, ["enterprise"], links=(
            Link(t("↑ 全省总览", "↑ Province overview"), PROVINCE_UID),
        ))
        .with_variable(p.variable("enterprise", t("企业", "Enterprise"), ENTERPRISE_SQL))
        .with_panel(p.stat(t("OEE（时间加权）", "OEE (time-weighted)"),
                           f"SELECT {OEE} AS oee FROM {over_range}",
                           band="oee", width=6, description=notes.oee(build.oee_target)))
        .with_panel(p.stat(
            t("未消除报警", "Open alarms"),
            "SELECT count(*) AS open_alarms FROM v_alarm_open a JOIN v_device d "
            "USING (device_id) WHERE d.enterprise_id = '$enterprise'", width=6,
            description=t("本企业设备已触发、尚未消除的报警（不限时间范围）。",
                          "Alarms of the enterprise's devices raised and not yet cleared "
                          "(regardless of the range)."),
        ))
        .with_panel(p.stat(
            t("数字化指数", "Digitization index"),
            "SELECT index FROM v_digitization WHERE enterprise_id = '$enterprise' "
            "AND $__timeFilter(window_start) ORDER BY window_start DESC LIMIT 1", width=6,
            band="index", description=notes.INDEX,
        ))
        .with_panel(p.stat(
            t("设备", "Devices"),
            "SELECT count(*) AS devices FROM v_device WHERE enterprise_id = '$enterprise'",
            width=6, description=t("本企业在注册表中的设备数。",
                                   "The enterprise's devices in the registry."),
        ))
        .with_panel(p.timeseries(
            t("OEE 与可用率·性能·质量", "OEE with availability, performance, quality"),
            f"{bucket}{RATIOS} FROM {over_range} GROUP BY 1 ORDER BY 1",
            band="oee", description=notes.APQ,
        ))
        .with_panel(p.timeseries(
            t("损失（秒）：停机、换型、空闲、计划停止、未知",
              "Losses (s): down, setup, idle, planned stop, unknown"),
            f"{bucket}{LOSSES} FROM {over_range} GROUP BY 1 ORDER BY 1",
            unit="s", bars=True, stacked=True, description=notes.LOSSES,
        ))
        .with_panel(losses.waterfall(
            p, t("损失瀑布：六大损失", "Loss waterfall: the six big losses"),
            OF_ENTERPRISE, width=24,
        ))
        .with_panel(p.bars(
            t("产线排名（OEE）", "Lines ranked by OEE"),
            f"SELECT l.plant_id AS plant, entity_id AS line, {OEE} AS oee FROM {of_lines} "
            "JOIN (SELECT DISTINCT plant_id, line_id FROM v_device "
            "WHERE enterprise_id = '$enterprise') l ON l.line_id = entity_id "
            "GROUP BY 1, 2 ORDER BY 3 DESC NULLS LAST",
            band="oee", width=12, description=notes.oee(build.oee_target),
            links={"oee": TO_LINE},
        ))
        .with_panel(p.timeseries(
            t("数字化分项", "Digitization components"),
            "SELECT window_start AS time, connectivity, completeness, key_process_nc, "
            "oee_coverage, cloud::int::float8 AS cloud FROM v_digitization "
            "WHERE enterprise_id = '$enterprise' AND $__timeFilter(window_start) ORDER BY 1",
            band="share", description=notes.COMPONENTS,
        ))
        .with_panel(shifts.per_shift(p, t("各工厂每班 OEE", "Plant OEE per shift"),
                                     shifts.ENTERPRISE_PLANTS, width=24))
        .with_panel(p.table(
            t("报警", "Alarms"),
            "SELECT a.ts AS time, a.device_id, a.kind, a.status, a.value, a.threshold, "
            "a.message FROM v_alarm a JOIN v_device d USING (device_id) "
            "WHERE d.enterprise_id = '$enterprise' AND $__timeFilter(a.ts) "
            "ORDER BY a.ts DESC LIMIT 500",
            width=24, description=notes.ALARMS,
        ))
    )  # fmt: skip
