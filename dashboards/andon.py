"""The Andon wallboard: one big tile per line of a plant — its state, its current shift's OEE
against the target, why it stands — readable from across the shop floor (kiosk mode, refresh
10 s).

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
    VariableOption,
)

from dashboards.context import Build
from dashboards.enterprise import ENTERPRISE_SQL
from dashboards.fields import REASONS, STATES, UNKNOWN_COLOUR
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
# The shift and the reason are text, not good or bad: dark grey under white letters.
TEXT_COLOUR = "#404040"
# `line` is multi-valued (the tiles repeat over it): Grafana quotes it in its sqlstring format.
LINE = "${line:sqlstring}"
TO = "$__timeTo()::timestamptz"  # the range's end: the tile's one instant
# The line's most urgent device (by URGENCY, then device id) and its newest sample's reason.
STATE = (
    "SELECT COALESCE(x.state, 'offline') AS state, "
    "CASE WHEN x.state <> 'running' THEN COALESCE(x.reason, 'unspecified') END AS reason "
    "FROM v_device d LEFT JOIN LATERAL (SELECT t.state, t.reason FROM v_telemetry t "
    f"WHERE t.device_id = d.device_id AND t.ts <= {TO} "
    f"AND t.ts > {TO} - d.sample_interval_s * 3 * INTERVAL '1 second' "
    "ORDER BY t.ts DESC, t.seq DESC LIMIT 1) x ON true "
    f"WHERE d.line_id IN ({LINE}) "
    f"ORDER BY array_position(ARRAY[{URGENT}], "
    "COALESCE(x.state, 'offline')), "
    "d.device_id LIMIT 1"
)
# The tile is one instant, the range's end (now on the wallboard): the state then, and the
# OEE of the shift running then, so far, as the line dashboard's current shift
# (shifts.current) adds its windows' parts. A plant without a shift calendar has no shifts:
# its line's OEE is that of the last hour, and says so where the shift's name would be.
CALENDAR = "EXISTS (SELECT 1 FROM v_plant_shift WHERE plant_id = '$plant')"
SHIFT_SO_FAR = (
    f"SELECT {OEE} AS oee, max(shift_name) AS shift FROM v_oee_shift "
    f"WHERE grain = 'window' AND level = 'line' AND entity_id IN ({LINE}) "
    # a shift is at most a day long: its windows started within the day before
    f"AND window_start > {TO} - INTERVAL '1 day' AND window_start < {TO} "
    f"AND shift_start <= {TO} AND shift_end > {TO} HAVING {CALENDAR}"
)
LAST_HOUR = t("最近 1 小时", "Last hour")


def tile_sql(build: Build) -> str:
    """state, oee, shift, reason: one row. Without GROUP BY each aggregate has its row, and
    HAVING keeps the one of the plant's kind (with or without a calendar)."""
    last_hour = (
        f"SELECT {OEE}, '{build.text(LAST_HOUR)}' FROM v_oee "
        f"WHERE level = 'line' AND entity_id IN ({LINE}) "
        f"AND window_start >= {TO} - INTERVAL '1 hour' AND window_start < {TO} "
        f"HAVING NOT {CALENDAR}"
    )
    return (
        f"SELECT s.state, o.oee, o.shift, s.reason FROM ({STATE}) s "
        f"CROSS JOIN ({SHIFT_SO_FAR} UNION ALL {last_hour}) o"
    )


TO_LINE = Link(t("产线详情", "Line details"), LINE_UID, {
    "enterprise": "${enterprise}", "plant": "${plant}", "line": "${line}",
})  # fmt: skip


def description(target: float) -> Text:
    return t(
        "每条产线一块：状态 = 其设备中最紧急的状态（停机 > 空闲 > 换型 > 离线 > 运行 > 计划停机），"
        "设备状态取最新样本，超过 3 个采样间隔无样本为离线；OEE 为当前班次（工厂当地时间，"
        "所选范围的结束时刻所在的班次，看板上即现在）到目前为止的产线 OEE，由各窗口累加的分量"
        "重新计算，班次刚开始、尚无窗口时为空；工厂没有班次日历时为最近 1 小时的 OEE，"
        f"班次处显示“最近 1 小时”。绿色 ≥ 目标 {target:.0%}，黄色 ≥ 60%；"
        "原因 = 该设备最新样本的原因代码。点击进入产线详情。",
        "One tile per line: state = the most urgent of its devices' states (down > idle > "
        "setup > offline > running > planned stop), a device's from its newest sample, offline "
        "after 3 sample intervals without one; OEE = the line's OEE in the current shift so "
        "far (the plant's local time; the shift running at the range's end, now on the "
        "wallboard), recomputed from its windows' added parts, empty until the shift's first "
        "window; a plant without a shift calendar shows the last hour's OEE, and 'Last hour' "
        f"where the shift's name would be. Green from the target {target:.0%}, amber from "
        "60 %; reason = that device's newest sample's reason code. Click for the line's details.",
    )


def tile(p: Panels) -> stat.Panel:
    """A line's tile, repeated for every line of the plant: four big values, one above
    the other, each on its colour (12 rows high: 48-point values keep their size)."""
    build = p.build
    panel = p.stat(t("产线", "Line"), tile_sql(build), band="oee", width=6,
                   description=description(build.oee_target))  # fmt: skip
    panel.title("${line}").repeat("line").repeat_direction("h").height(12)
    panel.graph_mode(BigValueGraphMode.NONE)
    panel.reduce_options(ReduceDataOptions().values(False).calcs(["lastNotNull"]).fields("/.*/"))
    panel.text_mode(BigValueTextMode.VALUE_AND_NAME).color_mode(BigValueColorMode.BACKGROUND)
    panel.orientation(VizOrientation.HORIZONTAL).no_value("—")
    panel.text(VizTextDisplayOptions().title_size(24).value_size(48))
    panel.mappings([p.mapping(LINE_STATES)])
    # The state's name on the tile is the line, big enough to read across the floor (the
    # panel's title is small); the other values keep their column names.
    panel.override_by_name("state", [DynamicConfigValue("displayName", "${line}")])
    for column in ("shift", "reason"):
        panel.override_by_name(column, [
            DynamicConfigValue("color", {"mode": "fixed", "fixedColor": TEXT_COLOUR}),
        ])  # fmt: skip
    reasons = {code: (name, TEXT_COLOUR) for code, (name, _) in REASONS.items()}
    panel.override_by_name("reason", [DynamicConfigValue("mappings", [p.mapping(reasons)])])
    link = {"title": build.text(TO_LINE.title), "url": TO_LINE.url()}
    for column in ("state", "oee", "shift", "reason"):
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
