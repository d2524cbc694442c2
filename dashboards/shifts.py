"""OEE per shift (班次) and per day, and the current shift against the target.

Every panel reads v_oee_shift (migration 0013): each window in its plant's shift instance,
its parts added per instance and the ratios recomputed (sqlparts.RATIOS), never averaged.
Ranges longer than sqlparts.HOURLY_FROM_S read its hourly grain, as the OEE time series do;
the grain is a constant once Grafana's macros are expanded, so one branch is read.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, table

from dashboards.panels import Panels
from dashboards.sqlparts import HOURLY_FROM_S, OEE, RATIOS, SPAN
from dashboards.text import Text, t

GRAIN = f"CASE WHEN {SPAN} <= {HOURLY_FROM_S} THEN 'window' ELSE 'hour' END"
LINE = "level = 'line' AND entity_id = '$line'"
ENTERPRISE_PLANTS = (
    "level = 'plant' AND entity_id IN "
    "(SELECT DISTINCT plant_id FROM v_device WHERE enterprise_id = '$enterprise')"
)
IN_RANGE = f"grain = {GRAIN} AND $__timeFilter(window_start)"
# Good parts the planned time so far would have made at the target OEE, at the mean ideal
# cycle of the parts made: OEE = ideal run time × Q / planned time, and ideal run time =
# parts × ideal cycle, so good parts at target = target × planned / ideal cycle.
TARGET_GOOD = (
    "round(({target} * sum(planned_s) * sum(count_total) / NULLIF(sum(ideal_run_s), 0))"
    "::numeric)::float8"
)

SHIFTS_NOTE = t(
    "每个班次实例（工厂当地时间；夜班跨午夜，计入开始那天）的 OEE 与可用率·性能·质量，"
    "由该班次各窗口累加的分量重新计算，不是平均值；窗口按开始时间归入班次。只计所选范围内的"
    "窗口；超过 2 天的范围读小时汇总。颜色带同 OEE。",
    "OEE with availability, performance and quality per shift instance (the plant's local "
    "time; a night shift crossing midnight belongs to the day it starts), recomputed from "
    "the parts its windows add, never averaged; a window belongs to the shift its start falls "
    "in. Only windows in the range count; ranges over 2 days read the hourly roll-up. Colour "
    "bands as for OEE.",
)
DAYS_NOTE = t(
    "每个班次日（当地日期；夜班计入开始那天）的 OEE，由当天各班次窗口累加的分量重新计算。"
    "绿色 ≥ 目标，黄色 ≥ 60%。",
    "OEE per shift day (local date; a night shift counts on the day it starts), recomputed "
    "from the parts of that day's shift windows. Green from the target, amber from 60 %.",
)


def now_note(target: float) -> Text:
    return t(
        f"当前班次（工厂当地时间）到目前为止的 OEE 与合格品，对比目标 {target:.0%}："
        "按目标 OEE 与已生产零件的平均理想节拍，到目前的计划时间应产出的合格品数。"
        "不随所选范围变化；班次刚开始、尚无窗口时为空。",
        f"The current shift (the plant's local time) so far: OEE and good parts against the "
        f"target {target:.0%} — the good parts the planned time so far would have made at the "
        "target OEE, at the mean ideal cycle of the parts made. Independent of the range; "
        "empty until the shift's first window.",
    )


def per_shift(p: Panels, title: Text, scope: str, *, width: int = 12) -> table.Panel:
    """One row per plant and shift instance in the range, latest first."""
    return p.table(
        title,
        f"SELECT plant_id AS plant, shift_date::text AS shift_date, shift_name AS shift, "
        f"{RATIOS}, sum(count_good) AS good FROM v_oee_shift WHERE {scope} AND {IN_RANGE} "
        "GROUP BY plant_id, shift_date, shift_start, shift_name "
        "ORDER BY shift_start DESC, plant_id LIMIT 500",
        description=SHIFTS_NOTE,
        width=width,
    )


def per_day(p: Panels, title: Text, scope: str, *, width: int = 12) -> bargauge.Panel:
    """A bar per local shift day in the range, named by its date."""
    return p.bars(
        title,
        f"SELECT shift_date::text AS shift_date, {OEE} AS oee FROM v_oee_shift "
        f"WHERE {scope} AND {IN_RANGE} GROUP BY shift_date ORDER BY shift_date",
        band="oee",
        description=DAYS_NOTE,
        width=width,
    )


def current(p: Panels, title: Text, scope: str, *, width: int = 12) -> stat.Panel:
    """OEE, good parts and good parts at target so far in the shift running now. Without
    GROUP BY the query has its one row even before the shift's first window."""
    target = p.build.oee_target
    return p.stat(
        title,
        f"SELECT {OEE} AS oee, COALESCE(sum(count_good), 0) AS good, "
        f"{TARGET_GOOD.format(target=target)} AS target_good "
        f"FROM v_oee_shift WHERE grain = 'window' AND {scope} "
        # a shift is at most a day long: its windows started within the last day
        "AND window_start >= now() - INTERVAL '1 day' "
        "AND shift_start <= now() AND shift_end > now()",
        description=now_note(target),
        band="oee",
        width=width,
    )
