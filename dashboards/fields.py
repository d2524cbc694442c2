"""What a column means on screen: its name in both languages, its unit, its colour bands.

Panels keep their SQL column names (the SQL tests and `iiot` queries read them); Grafana shows
the names below through field overrides by name. Bands colour a value red, amber or green
(docs/dashboards.md, "Targets and bands"); states and alarms get fixed colours and texts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dashboards.text import Text, t

TYPICAL_OEE = 0.60  # the typical plant's OEE the literature cites; amber from here
BandName = Literal["oee", "share", "index", "baseline"]


@dataclass(frozen=True)
class Band:
    """Red below `amber`, amber from `amber`, green from `green`, on a min–max scale."""

    amber: float
    green: float
    unit: str
    min: float
    max: float
    lines: bool = False  # timeseries draw the steps (dashed lines and areas)

    def steps(self) -> list[tuple[float | None, str]]:
        """Grafana's threshold steps, sorted; the first (None) is −∞."""
        if self.amber >= self.green:  # a target at or below the typical level: no amber
            return [(None, "red"), (self.green, "green")]
        return [(None, "red"), (self.amber, "#EAB839"), (self.green, "green")]


def bands(oee_target: float) -> dict[BandName, Band]:
    return {
        # A, P, Q and OEE: green at the target (IIOT_OEE_TARGET), amber from the typical plant
        "oee": Band(min(TYPICAL_OEE, oee_target), oee_target, "percentunit", 0, 1, lines=True),
        # digitization components and the cloud share, on the index's bands scaled to 0–1
        "share": Band(0.40, 0.70, "percentunit", 0, 1),
        # the digitization index, 0–100 (docs/kpi.md)
        "index": Band(40, 70, "none", 0, 100),
        # the index against the 2017 baseline 55.2: red below it, green from 5 points above
        "baseline": Band(0, 5, "none", -50, 50),
    }


@dataclass(frozen=True)
class Field:
    name: Text
    unit: str
    band: BandName | None = None


def _ratio(zh: str, en: str) -> Field:
    return Field(t(zh, en), "percentunit", "oee")


def _share(zh: str, en: str) -> Field:
    return Field(t(zh, en), "percentunit", "share")


COUNT, SECONDS, TEXT, TIME = "short", "s", "", ""  # "": Grafana formats text and times
# Every column a panel returns, by its SQL name (checked against the real results by
# tests/integration/test_dashboards_sql.py). Words, so `\bname\b` finds them in a query.
FIELDS: dict[str, Field] = {
    "time": Field(t("时间", "Time"), TIME),
    "oee": _ratio("OEE", "OEE"),
    "availability": _ratio("可用率", "Availability"),
    "performance": _ratio("性能", "Performance"),
    "quality": _ratio("质量", "Quality"),
    "connectivity": _share("设备联网率", "Connectivity"),
    "completeness": _share("数据完整率", "Completeness"),
    "key_process_nc": _share("关键工序数控化率", "Key-process NC rate"),
    "oee_coverage": _share("OEE 覆盖率", "OEE coverage"),
    "cloud": _share("企业上云", "In the cloud"),
    "index": Field(t("数字化指数", "Digitization index"), "none", "index"),
    "vs_2017": Field(t("较 2017 基线 55.2", "vs the 2017 baseline 55.2"), "none", "baseline"),
    "run_s": Field(t("运行", "Running"), SECONDS),
    "idle_s": Field(t("空闲", "Idle"), SECONDS),
    "setup_s": Field(t("换型", "Setup"), SECONDS),
    "down_s": Field(t("停机", "Down"), SECONDS),
    "planned_stop_s": Field(t("计划停机", "Planned stop"), SECONDS),
    "unknown_s": Field(t("未知（无数据）", "Unknown (no data)"), SECONDS),
    "planned_s": Field(t("计划时间", "Planned time"), SECONDS),
    "enterprises": Field(t("企业数", "Enterprises"), COUNT),
    "devices": Field(t("设备数", "Devices"), COUNT),
    "reporting": Field(t("在报设备", "Reporting devices"), COUNT),
    "open_alarms": Field(t("未消除报警", "Open alarms"), COUNT),
    "good": Field(t("合格品", "Good parts"), COUNT),
    "scrap": Field(t("废品", "Scrap"), COUNT),
    "enterprise_name": Field(t("企业", "Enterprise"), TEXT),
    "city": Field(t("城市", "City"), TEXT),
    "industry": Field(t("行业", "Industry"), TEXT),
    "name": Field(t("名称", "Name"), TEXT),
    "latitude": Field(t("纬度", "Latitude"), "none"),
    "longitude": Field(t("经度", "Longitude"), "none"),
    "line": Field(t("产线", "Line"), TEXT),
    "device": Field(t("设备", "Device"), TEXT),
    "device_id": Field(t("设备", "Device"), TEXT),
    "state": Field(t("状态", "State"), TEXT),
    "kind": Field(t("报警类型", "Alarm kind"), TEXT),
    "status": Field(t("状态", "Status"), TEXT),
    "value": Field(t("数值", "Value"), "none"),  # seconds or a ratio, by the alarm's kind
    "threshold": Field(t("阈值", "Threshold"), "none"),
    "message": Field(t("说明", "Message"), TEXT),
    "text": Field(t("报警", "Alarm"), TEXT),
    "tags": Field(t("报警类型", "Alarm kind"), TEXT),
    "age_s": Field(t("距今", "Age"), SECONDS),
    "lag_s": Field(t("延迟", "Lag"), SECONDS),
    "p50_s": Field(t("中位数 p50", "Median p50"), SECONDS),
    "p95_s": Field(t("p95", "p95"), SECONDS),
    "late_samples": Field(t("迟到样本", "Late samples"), COUNT),
    "dead_letters": Field(t("死信", "Dead letters"), COUNT),
    "letters": Field(t("死信数", "Letters"), COUNT),
    "samples_per_s": Field(t("样本/秒", "Samples/s"), "suffix:/s"),
    "code": Field(t("原因代码", "Reason code"), TEXT),
    "stage": Field(t("环节", "Stage"), TEXT),
    "newest": Field(t("最新", "Newest"), TIME),
    "example": Field(t("示例", "Example"), TEXT),
    "topic": Field(t("主题", "Topic"), TEXT),
    "last_arrival": Field(t("最后落库", "Last arrival"), TIME),
    # Downtime by reason, MTBF, MTTR, TEEP (docs/kpi.md, "Downtime, MTBF, MTTR and TEEP")
    "reason": Field(t("原因", "Reason"), TEXT),
    "lost_s": Field(t("损失时间", "Time lost"), SECONDS),
    "episodes": Field(t("次数", "Episodes"), COUNT),
    "mean_s": Field(t("平均每次", "Mean per episode"), SECONDS),
    "breakdowns": Field(t("故障次数", "Breakdowns"), COUNT),
    "mtbf_s": Field(t("平均故障间隔 MTBF", "MTBF"), SECONDS),
    "mttr_s": Field(t("平均修复时间 MTTR", "MTTR"), SECONDS),
    "utilisation": _share("时间利用率", "Utilisation"),
    "teep": _share("TEEP（完全有效生产率）", "TEEP"),
    # The loss waterfall (docs/kpi.md, "Losses"; dashboards/losses.py)
    "step": Field(t("步骤", "Step"), TEXT),
    "base_s": Field(t("起点", "Start"), SECONDS),  # the invisible segment a step floats on
    "time_s": Field(t("时间", "Time"), SECONDS),
    "availability_loss_s": Field(t("可用率损失", "Availability loss"), SECONDS),
    "performance_loss_s": Field(t("性能损失", "Performance loss"), SECONDS),
    "quality_loss_s": Field(t("质量损失", "Quality loss"), SECONDS),
    # Shifts (docs/kpi.md, "OEE per shift"; dashboards/shifts.py)
    "plant": Field(t("工厂", "Plant"), TEXT),
    "shift_date": Field(t("班次日期", "Shift date"), TEXT),
    "shift": Field(t("班次", "Shift"), TEXT),
    "target_good": Field(t("目标合格品", "Good parts at target"), COUNT),
}

# Device states (iiot.types.STATES): the colour operators expect, in every language.
GREY = "#8E8E8E"
STATES: dict[str, tuple[Text, str]] = {
    "running": (t("运行", "Running"), "green"),
    "idle": (t("空闲", "Idle"), "yellow"),
    "setup": (t("换型", "Setup"), "blue"),
    "down": (t("停机", "Down"), "red"),
    "planned_stop": (t("计划停机", "Planned stop"), GREY),
}
UNKNOWN_COLOUR = "purple"  # time no sample covers (docs/kpi.md): a data-quality loss
STATE_SECONDS = {"run_s": "running", "idle_s": "idle", "setup_s": "setup", "down_s": "down",
                 "planned_stop_s": "planned_stop"}  # fmt: skip

# Alarm kinds and edges (docs/kpi.md, "Alarms"), shown in the operator's language.
ALARM_VALUES: dict[str, dict[str, tuple[Text, str]]] = {
    "kind": {
        "down_too_long": (t("停机过久", "Down too long"), "red"),
        "offline": (t("离线", "Offline"), "purple"),
        "oee_low": (t("OEE 过低", "OEE low"), "orange"),
        "performance_suspect": (t("性能可疑（理想节拍？）", "Performance suspect (ideal cycle?)"),
                                "orange"),
        "counter_reset": (t("计数器复位", "Counter reset"), "blue"),
    },
    "status": {
        "raised": (t("触发", "Raised"), "red"),
        "cleared": (t("消除", "Cleared"), "green"),
    },
}  # fmt: skip
ALARM_VALUES["tags"] = ALARM_VALUES["kind"]

# Stop reasons: the contract's conventional codes (docs/contract.md, "Reasons") named in the
# operator's language, coloured as their usual state; any other code shows as it was sent.
REASONS: dict[str, tuple[Text, str]] = {
    "breakdown": (t("设备故障", "Breakdown"), "red"),
    "tool_change": (t("换刀", "Tool change"), "red"),
    "changeover": (t("换型换产", "Changeover"), "blue"),
    "quality_check": (t("质量检验", "Quality check"), "blue"),
    "micro_stop": (t("短暂停机", "Micro stop"), "yellow"),
    "no_material": (t("缺料", "No material"), "yellow"),
    "blocked": (t("下游堵塞", "Blocked"), "yellow"),
    "no_operator": (t("无操作工", "No operator"), "yellow"),
    "planned_maintenance": (t("计划维护", "Planned maintenance"), GREY),
    "unspecified": (t("未注明", "Unspecified"), GREY),
}
# Columns whose codes are shown as names: alarm kinds and edges, stop reasons.
VALUE_NAMES = {**ALARM_VALUES, "reason": REASONS}
