"""The Andon wallboard: one big tile per line of a plant — its state, its OEE against the
target, why it stands — readable from across the shop floor (kiosk mode, refresh 10 s).

A line's state is the most urgent state among its devices (`URGENCY`): one machine down
stops a line, so the line shows down. A device's state is that of its newest sample while
the sample holds (docs/kpi.md: at most `max_gap` = 3 × its sample interval); after that the
device is offline, as the stream's `offline` alarm has it.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as d
from grafana_foundation_sdk.builders import stat
from grafana_foundation_sdk.builders.common import ReduceDataOptions, VizTextDisplayOptions
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    BigValueTextMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DynamicConfigValue,
    ValueMap,
    ValueMappingResult,
    VariableOption,
)

from dashboards.context import Build
from dashboards.enterprise import ENTERPRISE_SQL
from dashboards.fields import STATES, UNKNOWN_COLOUR
from dashboards.line_device import UID as LINE_UID
from dashboards.panels import Link, Panels
from dashboards.sqlparts import OEE
from dashboards.text import Text, t

UID = "iiot-andon"
TITLE = t("安灯看板", "Andon wallboard")
# Most urgent first: a stop needs someone now; idle (starved, blocked, a micro-stop) before
# setup, which people are already at; offline (no sample within max_gap) before running, since
# nobody knows; a planned stop needs nobody.
URGENCY = ("down", "idle", "setup", "offline", "running", "planned_stop")
URGENT = ", ".join(f"'{state}'" for state in URGENCY)  # as an SQL array's items
LINE_STATES = {**STATES, "offline": (t("离线", "Offline"), UNKNOWN_COLOUR)}
REASON_COLOUR = "#404040"  # a reason is text, not good or bad: dark grey under white letters
# `line` is multi-valued (the tiles repeat over it): Grafana quotes it in its sqlstring format.
LINE = "${line:sqlstring}"
# The line's most urgent device (by URGENCY, then device id) and its newest sample's reason;
# the line's OEE over the range (the last hour by default) from its windows' added parts.
TILE = (
    "SELECT s.state, o.oee, s.reason FROM (SELECT COALESCE(x.state, 'offline') AS state, "
    "CASE WHEN x.state <> 'running' THEN COALESCE(x.reason, 'unspecified') END AS reason "
    "FROM v_device d LEFT JOIN LATERAL (SELECT t.state, t.reason FROM v_telemetry t "
    "WHERE t.device_id = d.device_id AND t.ts <= $__timeTo()::timestamptz "
    "AND t.ts > $__timeTo()::timestamptz - d.sample_interval_s * 3 * INTERVAL '1 second' "
    "ORDER BY t.ts DESC, t.seq DESC LIMIT 1) x ON true "
    f"WHERE d.line_id IN ({LINE}) "
    f"ORDER BY array_position(ARRAY[{URGENT}], "
    "COALESCE(x.state, 'offline')), "
    "d.device_id LIMIT 1) s "
    f"CROSS JOIN (SELECT {OEE} AS oee FROM v_oee WHERE level = 'line' AND entity_id IN ({LINE}) "
    "AND $__timeFilter(window_start)) o"
)
TO_LINE = Link(t("产线详情", "Line details"), LINE_UID, {
    "enterprise": "${enterprise}", "plant": "${plant}", "line": "${line}",
})  # fmt: skip


def description(target: float) -> Text:
    return t(
        "每条产线一块：状态 = 其设备中最紧急的状态（停机 > 空闲 > 换型 > 离线 > 运行 > 计划停机），"
        "设备状态取最新样本，超过 3 个采样间隔无样本为离线；OEE 为所选时间范围（默认最近 1 小时）"
        f"的产线 OEE，绿色 ≥ 目标 {target:.0%}，黄色 ≥ 60%；原因 = 该设备最新样本的原因代码。"
        "点击进入产线详情。",
        "One tile per line: state = the most urgent of its devices' states (down > idle > "
        "setup > offline > running > planned stop), a device's from its newest sample, offline "
        "after 3 sample intervals without one; OEE = the line's OEE over the range (the last "
        f"hour by default), green from the target {target:.0%}, amber from 60 %; reason = that "
        "device's newest sample's reason code. Click for the line's details.",
    )


def _texts(build: Build, values: dict[str, tuple[Text, str]]) -> ValueMap:
    return ValueMap({
        code: ValueMappingResult(build.text(text), colour, index=i)
        for i, (code, (text, colour)) in enumerate(values.items())
    })  # fmt: skip


def tile(p: Panels) -> stat.Panel:
    """A line's tile, repeated for every line of the plant: three big values, one above
    the other, each on its colour."""
    build = p.build
    panel = p.stat(t("产线", "Line"), TILE, band="oee", width=6,
                   description=description(build.oee_target))  # fmt: skip
    panel.title("${line}").repeat("line").repeat_direction("h").height(10)
    panel.graph_mode(BigValueGraphMode.NONE)
    panel.reduce_options(ReduceDataOptions().values(False).calcs(["lastNotNull"]).fields("/.*/"))
    panel.text_mode(BigValueTextMode.VALUE_AND_NAME).color_mode(BigValueColorMode.BACKGROUND)
    panel.orientation(VizOrientation.HORIZONTAL).no_value("—")
    panel.text(VizTextDisplayOptions().title_size(24).value_size(48))
    panel.mappings([_texts(build, LINE_STATES)])
    # The state's name on the tile is the line, big enough to read across the floor (the
    # panel's title is small); the other values keep their column names.
    panel.override_by_name("state", [DynamicConfigValue("displayName", "${line}")])
    panel.override_by_name("reason", [
        DynamicConfigValue("color", {"mode": "fixed", "fixedColor": REASON_COLOUR}),
    ])  # fmt: skip
    link = {"title": build.text(TO_LINE.title), "url": TO_LINE.url()}
    for column in ("state", "oee", "reason"):
        panel.override_by_name(column, [DynamicConfigValue("links", [link])])
    return panel


def dashboard(build: Build) -> d.Dashboard:
    p = Panels(build)
    lines = (
        p.variable("line", t("产线", "Line"),
                   "SELECT DISTINCT line_id FROM v_device WHERE plant_id = '$plant' ORDER BY 1")
        .multi(True).include_all(True)
        .current(VariableOption(selected=True, text="All", value="$__all"))
    )  # fmt: skip
    return (
        p.dashboard(TITLE, UID, ["andon", "line"], since="now-1h", refresh="10s")
        .with_variable(p.variable("enterprise", t("企业", "Enterprise"), ENTERPRISE_SQL))
        .with_variable(p.variable(
            "plant", t("工厂", "Plant"),
            "SELECT DISTINCT plant_id FROM v_device WHERE enterprise_id = '$enterprise' ORDER BY 1",
        ))
        .with_variable(lines)
        .with_panel(tile(p))
    )  # fmt: skip
