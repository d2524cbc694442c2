"""1. Province overview (工业互联网平台总览): the province-wide goal at a glance."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as d

from dashboards import notes
from dashboards.context import Build
from dashboards.fields import TEXT, Field
from dashboards.panels import Link, Panels
from dashboards.sqlparts import OEE, RATIOS, digitization_index, oee_by_range
from dashboards.text import Language, t

UID = "iiot-province"
TITLE = t("工业互联网平台总览", "Industrial Internet Platform Overview")
OFFICIAL_2017 = 55.2  # Shandong's 两化融合 development index in 2017 (the plan's baseline)

REFERENCE_NOTE = t(
    "参考线：山东 2017 年两化融合发展指数 55.2，来自官方企业调查，方法不同；"
    "本平台数字化指数是项目自定义的代理指标，二者不可直接比较。",
    "Reference line: Shandong's 2017 两化融合 (IT/industry integration) index 55.2 comes from "
    "official enterprise surveys — a different methodology. This platform's digitization index "
    "is a project-defined proxy; the two are not directly comparable.",
)


REFERENCE_COLUMN = "2017 两化融合 55.2 (different method)"  # the reference line's SQL name
REFERENCE_NAME = t(
    "2017 两化融合指数 55.2（方法不同）", "2017 两化融合 index 55.2 (different method)"
)
ENTERPRISE_UID = "iiot-enterprise"  # dashboards/enterprise.py, which links back up here
TO_ENTERPRISE = Link(t("企业详情", "Enterprise details"), ENTERPRISE_UID,
                     {"enterprise": "${__data.fields.enterprise_id}"})  # fmt: skip
ENTERPRISE_ID = Field(t("企业编号", "Enterprise id"), TEXT)
RANKED = t(
    "时间范围内 OEE {zh}的 5 家企业，OEE 由累加的分量计算，并列出其计划时间。",
    "The 5 enterprises with the {en} OEE over the range (from added parts), with planned time.",
)


# The roll-ups keep every level (province, city, enterprise, line, device) and add the windows'
# samples: each panel below reads its level by the range's length (`{time}`: its time column).
OF_LEVEL = "level = '{level}' AND $__timeFilter({{time}})"
PROVINCE, CITY = OF_LEVEL.format(level="province"), OF_LEVEL.format(level="city")
ENTERPRISES = OF_LEVEL.format(level="enterprise")
# A device reports in a range when one of its windows, hours or days holds a sample.
REPORTING = OF_LEVEL.format(level="device") + " AND samples > 0"


def _geomap_sql(language: Language) -> str:
    """Shandong's cities from the reference view (coordinates, names), with what each holds."""
    name = {"zh": "c.name_zh", "en": "c.name_en"}.get(language, "c.name_zh || ' ' || c.name_en")
    return (
        "WITH ent AS (SELECT city, count(*) AS enterprises FROM v_enterprise GROUP BY 1), "
        "dev AS (SELECT city, count(*) AS devices FROM v_device GROUP BY 1), "
        f"kpi AS (SELECT entity_id AS city, {OEE} AS oee FROM {oee_by_range(CITY)} GROUP BY 1) "
        f"SELECT c.city, {name} AS name, c.latitude, c.longitude, "
        "COALESCE(ent.enterprises, 0) AS enterprises, COALESCE(dev.devices, 0) AS devices, "
        "kpi.oee FROM v_city c "
        "LEFT JOIN ent USING (city) LEFT JOIN dev USING (city) LEFT JOIN kpi USING (city) "
        "ORDER BY 1"
    )


def _enterprise_oee(order: str) -> str:
    return (
        f"SELECT e.enterprise_name, e.enterprise_id, e.city, e.industry, {OEE} AS oee, "
        f"sum(planned_s) AS planned_s FROM {oee_by_range(ENTERPRISES)} "
        "JOIN v_enterprise e ON e.enterprise_id = o.entity_id "
        f"GROUP BY 1, 2, 3, 4 ORDER BY 5 {order} NULLS LAST LIMIT 5"
    )


def _hours(index: str) -> str:
    """The province's index per hour of the range, from every enterprise's added counts."""
    return (
        f"SELECT window_start, {index} AS index FROM v_digitization "
        "WHERE $__timeFilter(window_start) GROUP BY 1"
    )


def _against_2017(index: str) -> str:
    """The newest complete hour's index and its difference from the 2017 baseline: the newest
    hour of the range may still be filling, so the one before it (if the range has one)."""
    return (
        f"WITH hours AS ({_hours(index)}), newest AS (SELECT max(window_start) AS at FROM hours) "
        f"SELECT index, index - {OFFICIAL_2017} AS vs_2017 FROM hours, newest "
        "ORDER BY window_start < newest.at DESC, window_start DESC LIMIT 1"
    )


def dashboard(build: Build) -> d.Dashboard:
    p = Panels(build)
    index = digitization_index(build.weights)
    by = "SELECT {key} AS {key}, {index} AS index FROM v_digitization WHERE "
    by += "$__timeFilter(window_start) GROUP BY 1 ORDER BY 2 DESC"
    reference = (
        f'SELECT $__timeFrom()::timestamptz AS time, {OFFICIAL_2017} AS "{REFERENCE_COLUMN}" '
        f"UNION ALL SELECT $__timeTo()::timestamptz, {OFFICIAL_2017} ORDER BY 1"
    )
    index_by = t(
        "各{zh}在时间范围内的数字化指数，由累加的计数重新计算。",
        "The digitization index of each {en} over the range, from the added counts.",
    )
    return (
        p.dashboard(TITLE, UID, ["province"], links=(
            Link(t("↓ 企业", "↓ Enterprise"), ENTERPRISE_UID),
        ))
        .with_panel(p.stat(t("企业", "Enterprises"),
                           "SELECT count(*) AS enterprises FROM v_enterprise",
                           description=t("注册表中的企业数。", "Enterprises in the registry.")))
        .with_panel(p.stat(t("注册设备", "Registered devices"),
                           "SELECT count(*) AS devices FROM v_device",
                           description=t("注册表中的设备数。", "Devices in the registry.")))
        .with_panel(p.stat(
            t("在报设备", "Reporting devices"),
            f"SELECT count(DISTINCT entity_id) AS reporting FROM {oee_by_range(REPORTING)}",
            description=t("时间范围内至少有一个 OEE 窗口收到样本的设备。",
                          "Devices with samples in at least one OEE window of the range."),
        ))
        .with_panel(p.stat(
            t("全省 OEE（时间加权）", "Province OEE (time-weighted)"),
            f"SELECT {OEE} AS oee FROM {oee_by_range(PROVINCE)}",
            band="oee", description=notes.oee(build.oee_target),
        ))
        .with_panel(p.stat(
            t("企业上云率", "Enterprises in the cloud"),
            "SELECT avg(cloud::int)::float8 AS cloud FROM v_enterprise", band="share",
            description=t("注册表中标记为已上云的企业比例（企业上云）。红 < 40%，黄 < 70%。",
                          "Share of the registry's enterprises flagged as in the cloud. "
                          "Red < 40 %, amber < 70 %."),
        ))
        .with_panel(p.stat(
            t("数字化指数（代理）", "Digitization index (proxy)"),
            f"SELECT {index} AS index FROM v_digitization WHERE $__timeFilter(window_start)",
            band="index", description=notes.INDEX,
        ))
        .with_panel(p.timeseries(
            t("全省 OEE 与 A·P·Q", "Province OEE with A, P, Q"),
            f"SELECT $__timeGroupAlias(window_start, $__interval), {RATIOS} FROM "
            f"{oee_by_range(PROVINCE)} GROUP BY 1 ORDER BY 1",
            band="oee", description=notes.APQ,
        ))
        .with_panel(p.timeseries(
            t("数字化指数（项目代理）与 2017 两化融合 55.2（不同方法）",
              "Digitization index (project proxy) vs 2017 两化融合 55.2 (different methodology)"),
            "SELECT window_start AS time, enterprise_name AS metric, index FROM v_digitization "
            "WHERE $__timeFilter(window_start) ORDER BY 1, 2",
            extra=(reference,), description=REFERENCE_NOTE, band="index",
            more={REFERENCE_COLUMN: Field(REFERENCE_NAME, "none")},
        ))
        .with_panel(p.stat(
            t("数字化指数 · 较 2017 基线", "Digitization index vs the 2017 baseline"),
            _against_2017(index), band="index", width=6, description=notes.PROGRESS,
        ))
        .with_panel(p.timeseries(
            t("全省数字化指数（代理）与 2017 基线 55.2", "Province digitization index vs 2017 "
              "baseline 55.2"),
            f"SELECT $__timeGroupAlias(window_start, $__interval), {index} AS index "
            "FROM v_digitization WHERE $__timeFilter(window_start) GROUP BY 1 ORDER BY 1",
            extra=(reference,), band="index", width=18, description=t(
                "全省数字化指数随时间的变化（每个时间段由各企业计数累加后重新计算），参考线为 "
                "2017 年两化融合指数 55.2（官方调查，方法不同）。红 < 40，黄 40–70，绿 ≥ 70。",
                "The province's digitization index over time (each interval recomputed from "
                "all enterprises' added counts), with the 2017 两化融合 index 55.2 as a reference "
                "line (official surveys, another method). Red < 40, amber 40–70, green ≥ 70.",
            ),
            more={REFERENCE_COLUMN: Field(REFERENCE_NAME, "none")},
        ))
        .with_panel(p.bars(t("数字化指数 · 企业", "Digitization index by enterprise"),
                           by.format(key="enterprise_name", index=index), band="index",
                           description=index_by.format(zh="企业", en="enterprise")))
        .with_panel(p.bars(t("数字化指数 · 城市", "Digitization index by city"),
                           by.format(key="city", index=index), band="index",
                           description=index_by.format(zh="城市", en="city")))
        .with_panel(p.bars(t("数字化指数 · 行业", "Digitization index by industry"),
                           by.format(key="industry", index=index), band="index",
                           description=index_by.format(zh="行业", en="industry")))
        .with_panel(p.table(t("OEE 最佳企业", "Best enterprises by OEE"), _enterprise_oee("DESC"),
                            width=6, description=RANKED.format(zh="最高", en="highest"),
                            more={"enterprise_id": ENTERPRISE_ID},
                            links={"enterprise_name": TO_ENTERPRISE}))
        .with_panel(p.table(t("OEE 最差企业", "Worst enterprises by OEE"), _enterprise_oee("ASC"),
                            width=6, description=RANKED.format(zh="最低", en="lowest"),
                            more={"enterprise_id": ENTERPRISE_ID},
                            links={"enterprise_name": TO_ENTERPRISE}))
        .with_panel(p.geomap(
            t("山东各市", "Shandong cities"), _geomap_sql(build.language),
            description=t("各市企业数、设备数与 OEE；标记颜色为 OEE 颜色带。",
                          "Enterprises, devices and OEE per city; markers in OEE's colour band."),
        ))
    )  # fmt: skip
