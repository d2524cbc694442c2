"""The loss waterfall: planned time down to fully productive time, as iiot/losses.py draws it.

Grafana has no waterfall panel. Each step is a row of a horizontal stacked bar chart: an
invisible `base_s` segment (where the bar starts) under the visible one, so a loss floats at
the level it takes off; totals stand on zero. The SQL computes the steps of
`iiot.losses.loss_waterfall` from the parts summed over the range (hours or days on long
ranges, `sqlparts.oee_by_range`); tests/integration/test_losses_andon.py checks they agree.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart
from grafana_foundation_sdk.models.dashboard import DynamicConfigValue

from dashboards.context import Build
from dashboards.panels import Panels
from dashboards.sqlparts import oee_by_range
from dashboards.text import Text, t
from iiot.losses import STEP_KEYS

# Each step's label names the six big losses (Nakajima) it holds; the quality step holds two
# that our counters cannot tell apart (docs/kpi.md, "Losses").
STEPS: dict[str, Text] = {
    "planned": t("计划时间", "Planned time"),
    "down": t("停机：设备故障", "Down: breakdowns"),
    "setup": t("换型：换型与调整", "Setup: setup and adjustments"),
    "idle": t("空闲：空转与短暂停机", "Idle: idling and minor stops"),
    "run": t("运行时间", "Run time"),
    "speed": t("速度损失：速度降低", "Speed: reduced speed"),
    "quality": t("质量损失：工序缺陷与开机损耗", "Quality: defects and start-up rejects"),
    "fully_productive": t("完全有效生产时间", "Fully productive time"),
}
# Which column draws a step: totals, or the loss of availability, performance or quality.
KINDS = {"planned": "time_s", "down": "availability_loss_s", "setup": "availability_loss_s",
         "idle": "availability_loss_s", "run": "time_s", "speed": "performance_loss_s",
         "quality": "quality_loss_s", "fully_productive": "time_s"}  # fmt: skip
COLOURS = {"time_s": "blue", "availability_loss_s": "red", "performance_loss_s": "orange",
           "quality_loss_s": "yellow"}  # fmt: skip
# The parts over the range, clamped as loss_waterfall clamps them: ideal run time at most run
# time (P ≤ 1), quality 0 when no part was made.
SUMS = (
    "SELECT sum(planned_s) AS planned, sum(down_s) AS down, sum(setup_s) AS setup, "
    "sum(idle_s) AS idle, sum(run_s) AS run, LEAST(sum(ideal_run_s), sum(run_s)) AS ideal, "
    "COALESCE(LEAST(sum(count_good), sum(count_total))::float8 / NULLIF(sum(count_total), 0), 0) "
    "AS q "
    "FROM {source}"
)
# (seconds, start) of each step, as loss_waterfall computes them.
BARS = {
    "planned": ("planned", "0"),
    "down": ("down", "run + idle + setup"),
    "setup": ("setup", "run + idle"),
    "idle": ("idle", "run"),
    "run": ("run", "0"),
    "speed": ("run - ideal", "ideal"),
    "quality": ("ideal - ideal * q", "ideal * q"),
    "fully_productive": ("ideal * q", "0"),
}


def waterfall_sql(build: Build, where: str) -> str:
    """The eight steps in order, labelled in the build's language, over the OEE windows that
    `where` selects (`{time}` standing for the source's time column); no rows without any."""
    assert tuple(BARS) == tuple(STEPS) == STEP_KEYS
    labels = {key: build.text(text).replace("'", "''") for key, text in STEPS.items()}
    rows = ", ".join(
        f"({n}, '{labels[key]}', '{KINDS[key]}', ({BARS[key][1]})::float8, "
        f"({BARS[key][0]})::float8)"
        for n, key in enumerate(STEP_KEYS)
    )
    columns = ", ".join(
        f"CASE WHEN kind = '{column}' THEN seconds END AS {column}" for column in COLOURS
    )
    return (
        f"SELECT step, base_s, {columns} FROM ({SUMS.format(source=oee_by_range(where))}) s "
        f"CROSS JOIN LATERAL (VALUES {rows}) w (n, step, kind, base_s, seconds) "
        "WHERE planned IS NOT NULL ORDER BY n"
    )


DESCRIPTION = t(
    "损失瀑布：计划时间依次减去停机、换型、空闲（可用率损失）得运行时间，再减去速度损失"
    "（运行时间 − 理想运行时间）和质量损失（理想运行时间 × 不合格率）得完全有效生产时间；"
    "完全有效生产时间 / 计划时间 = OEE。按 Nakajima 的六大损失命名；工序缺陷与开机损耗"
    "无法从计数器区分，合在质量损失里。所选范围内各设备的秒数之和；性能 > 100% 时速度损失"
    "记为 0。",
    "Loss waterfall: planned time less down, setup and idle (availability losses) is run "
    "time; less the speed loss (run − ideal run time) and the quality loss (ideal run time × "
    "scrap share) it is fully productive time, and fully productive / planned time is the "
    "OEE. Named after Nakajima's six big losses; process defects and start-up rejects cannot "
    "be told apart by the counters and share the quality step. Device-seconds summed over "
    "the range; with performance above 100 % the speed loss is drawn as 0.",
)


def waterfall(p: Panels, title: Text, where: str, *, width: int = 12) -> barchart.Panel:
    """The waterfall panel: the steps as rows, the base segment invisible."""
    panel = p.stacked_bars(title, waterfall_sql(p.build, where), unit="s", x="step",
                           width=width, description=DESCRIPTION)  # fmt: skip
    hidden = {"legend": True, "tooltip": True, "viz": False}
    panel.override_by_name("base_s", [
        DynamicConfigValue("color", {"mode": "fixed", "fixedColor": "transparent"}),
        DynamicConfigValue("custom.hideFrom", hidden),
    ])  # fmt: skip
    for column, colour in COLOURS.items():
        panel.override_by_name(column, [
            DynamicConfigValue("color", {"mode": "fixed", "fixedColor": colour}),
        ])  # fmt: skip
    return panel.height(9)
