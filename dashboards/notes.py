"""Panel descriptions shared by several dashboards (Grafana shows them behind the ⓘ of a
panel's title): the definitions of docs/kpi.md in one or two sentences, in both languages."""

from __future__ import annotations

from dashboards.text import Text, t


def oee(target: float) -> Text:
    """What OEE is, and its colours with the build's target (IIOT_OEE_TARGET)."""
    return t(
        "OEE = 可用率 × 性能 × 质量 = 理想运行时间 × 合格率 / 计划时间（ISO 22400-2），由各窗口"
        f"累加的分量重新计算，不是平均值。绿色 ≥ 目标 {target:.0%}，黄色 ≥ 60%（一般工厂水平）。",
        "OEE = availability × performance × quality = ideal run time × quality / planned time "
        "(ISO 22400-2), recomputed from the windows' added parts, never averaged. Green from "
        f"the target {target:.0%}, amber from 60 % (a typical plant), red below.",
    )


APQ = t(
    "可用率 = 运行时间 / 计划时间；性能 = 理想运行时间 / 运行时间（>100% 说明理想节拍有误）；"
    "质量 = 合格品 / 总产量；OEE = 三者之积。颜色带同 OEE。",
    "Availability = run time / planned time; performance = ideal run time / run time (above "
    "100 % means a wrong ideal cycle time); quality = good / total parts; OEE = their product. "
    "Colour bands as for OEE.",
)
LOSSES = t(
    "计划时间之外及未运行的秒数。未知 = 没有样本覆盖的时间（设备离线或数据缺失），"
    "不计入计划时间，不降低可用率。",
    "Seconds not running, by state. Unknown = time no sample covers (device offline or data "
    "missing): not planned time, so it lowers neither availability nor OEE.",
)
COMPONENTS = t(
    "设备联网率 = 在报/注册设备；数据完整率 = 收到/应收样本；关键工序数控化率 = 在报的"
    "数控关键工序设备/关键工序设备；OEE 覆盖率 = 有 OEE 的设备/注册设备；企业上云 = 登记标志。"
    "红 < 40%，黄 < 70%。",
    "Connectivity = reporting / registered devices; completeness = received / expected "
    "samples; key-process NC = reporting NC key-process devices / key-process devices; OEE "
    "coverage = devices with OEE / registered; cloud = the registry flag. Red < 40 %, "
    "amber < 70 %.",
)
INDEX = t(
    "项目自定义代理指标：100 × Σ 权重 × 分项（联网率、完整率、关键工序数控化率、OEE 覆盖率、"
    "上云），0–100。红 < 40，黄 40–70，绿 ≥ 70。不是官方两化融合指数。",
    "A project-defined proxy: 100 × Σ weight × component (connectivity, completeness, "
    "key-process NC, OEE coverage, cloud), 0–100. Red < 40, amber 40–70, green ≥ 70. Not the "
    "official 两化融合 index.",
)
PROGRESS = t(
    "全省数字化指数（各企业计数累加后重新计算）与山东 2017 年两化融合指数 55.2 之差：取最新一个"
    "完整小时。红 < 0（低于基线），黄 0–5，绿 ≥ 5。两者方法不同，差值只表示方向与幅度的参考。",
    "The province's digitization index (recomputed from all enterprises' added counts) minus "
    "Shandong's 2017 两化融合 index 55.2, for the newest complete hour. Red below 0 (under the "
    "baseline), amber 0–5, green from 5. The methods differ: the difference shows direction "
    "and size, not a like-for-like comparison.",
)
STATE = t(
    "设备状态：运行（绿）、空闲（黄）、换型（蓝）、停机（红）、计划停机（灰）。"
    "每个样本的状态持续到下一个样本，最长 3 个采样间隔。",
    "Device state: running (green), idle (yellow), setup (blue), down (red), planned stop "
    "(grey). A sample's state holds until the next sample, at most 3 sample intervals.",
)
ALARMS = t(
    "报警的触发与消除：停机过久、离线、OEE 过低、性能可疑、计数器复位；数值与阈值的单位随类型"
    "（秒或比率）。",
    "Alarm edges, raised and cleared: down too long, offline, OEE low, performance suspect, "
    "counter reset; value and threshold are seconds or ratios, by kind.",
)
DOWNTIME = t(
    "停机、空闲、换型的秒数按原因排序（帕累托），堆叠为三种状态；没有原因代码的记为"
    "“unspecified”。每个样本的状态持续到下一个样本，最长 3 个采样间隔；时间按所选范围截取。"
    "计划停机不计入。",
    "Seconds down, idle and in setup by reason, largest first (a Pareto), stacked by state; "
    "samples without a reason code count as 'unspecified'. A sample's state holds until the "
    "next sample, at most 3 sample intervals, cut at the range's edges. Planned stops are "
    "not counted.",
)
DOWNTIME_TABLE = t(
    "每个原因的损失时间（停机+空闲+换型）、次数（同一状态与原因的连续样本为一次，范围开始时"
    "正在进行的也算一次）及平均每次时长。",
    "Per reason: time lost (down + idle + setup), episodes (consecutive samples of one state "
    "and reason; one in progress at the range's start counts too) and the mean episode.",
)
MTBF_MTTR = t(
    "MTBF = 运行时间 / 故障次数；MTTR = 停机时间 / 故障次数；故障 = 一次停机（down）。"
    "所选范围内，产线为其设备之和。没有故障时为空。",
    "MTBF = running time / breakdowns; MTTR = down time / breakdowns; a breakdown is one "
    "down episode. Over the range; a line adds its devices' times and breakdowns. Empty "
    "without a breakdown.",
)
TEEP = t(
    "TEEP = OEE × 时间利用率，时间利用率 = 计划时间 / 日历时间（计划时间 + 计划停机 + 未知），"
    "由各窗口累加的分量计算。TEEP、利用率：红 < 40%，黄 < 70%；OEE 颜色带同上。",
    "TEEP = OEE × utilisation, utilisation = planned time / calendar time (planned + planned "
    "stop + unknown), from the windows' added parts. TEEP and utilisation: red < 40 %, amber "
    "< 70 %; OEE on its own bands.",
)
