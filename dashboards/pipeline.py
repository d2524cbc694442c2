"""4. Pipeline health: is data flowing, how late is it, what is rejected — all from the
database (the sink lands every topic there), so it needs no other datasource."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as d

from dashboards.context import Build
from dashboards.panels import Panels
from dashboards.text import t

UID = "iiot-pipeline"
TITLE = t("数据管道健康", "Pipeline health")
# Arrival (`arrived_at`, the database's clock when the sink wrote the row) says whether data
# flows now; event time says how late it is. Arrivals are looked up through event time too:
# partitions and chunks are pruned by it (a compressed TimescaleDB chunk would be decompressed
# whole to be searched by arrival), so a row whose event time is over a day before the range
# is not counted.
LOOKBACK = "INTERVAL '1 day'"


def arrived(event_time: str) -> str:
    """Rows that arrived within the dashboard's range, found through their event time."""
    return f"$__timeFilter(arrived_at) AND {event_time} > $__timeFrom()::timestamptz - {LOOKBACK}"


FRESHNESS = (
    "SELECT topic, last_arrival, extract(epoch FROM now() - last_arrival)::float8 AS age_s "
    "FROM (SELECT 'iiot.registry' AS topic, max(arrived_at) AS last_arrival FROM v_device "
    f"UNION ALL SELECT 'iiot.telemetry', max(arrived_at) FROM v_telemetry WHERE {arrived('ts')} "
    f"UNION ALL SELECT 'iiot.oee', max(arrived_at) FROM v_oee WHERE {arrived('window_start')} "
    "UNION ALL SELECT 'iiot.digitization', max(arrived_at) FROM v_digitization "
    f"WHERE {arrived('window_start')} "
    "UNION ALL SELECT 'iiot.alarms', max(arrived_at) FROM v_alarm "
    "WHERE $__timeFilter(arrived_at) "
    "UNION ALL SELECT 'iiot.deadletter', max(arrived_at) FROM v_deadletter "
    "WHERE $__timeFilter(arrived_at)) AS f ORDER BY 1"
)
FRESHNESS_NOTE = t(
    "各主题最后一行落库的时间（数据库时钟）及其距今秒数；注册表不限时间范围。",
    "When each topic's newest row landed in the database (its clock), and how many seconds ago; "
    "the registry regardless of the time range.",
)
LAG_SECONDS = "extract(epoch FROM arrived_at - ts)::float8"
INGEST_LAG = (
    "SELECT $__timeGroupAlias(arrived_at, $__interval), "
    f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {LAG_SECONDS}) AS p50_s, "
    f"percentile_cont(0.95) WITHIN GROUP (ORDER BY {LAG_SECONDS}) AS p95_s "
    f"FROM v_telemetry WHERE {arrived('ts')} GROUP BY 1 ORDER BY 1"
)
INGEST_LAG_NOTE = t(
    "样本落库时间减其事件时间，按落库时间分组。",
    "A sample's arrival in the database minus its event time, grouped by arrival.",
)
LATE_NOTE = t(
    "晚于宽限期（IIOT_GRACE_S）到达的样本：已落库但不改变其窗口。",
    "Samples later than the grace period (IIOT_GRACE_S): landed, but they change no window.",
)
DEAD_LETTER_NOTE = t(
    "被拒绝的记录（死信），按原因代码与环节；每条带原因和原始数据。",
    "Rejected records (dead letters), by reason code and stage; each keeps its reason and payload.",
)


def dashboard(build: Build) -> d.Dashboard:
    p = Panels(build)
    return (
        p.dashboard(TITLE, UID, ["pipeline"], since="now-6h", refresh="30s")
        .with_panel(p.stat(
            t("最后到达（现在 − 最新落库时间）", "Last arrival (now − newest arrival)"),
            "SELECT extract(epoch FROM now() - max(arrived_at))::float8 AS age_s "
            f"FROM v_telemetry WHERE {arrived('ts')}", unit="s", width=6,
            description=t("距最新样本落库已过的秒数；持续增长说明数据未流入。",
                          "Seconds since the newest sample landed; growing means nothing flows."),
        ))
        .with_panel(p.stat(
            t("延迟（现在 − 最新事件时间）", "Lag (now − newest event time)"),
            "SELECT extract(epoch FROM now() - max(ts))::float8 AS lag_s FROM v_telemetry "
            "WHERE $__timeFilter(ts)", unit="s", width=6,
            description=t("现在减最新样本的事件时间（设备时钟）。",
                          "Now minus the newest sample's event time (the devices' clocks)."),
        ))
        .with_panel(p.stat(
            t("迟到样本", "Late samples"),
            "SELECT COALESCE(sum(late_samples), 0) AS late_samples FROM v_oee "
            "WHERE level = 'province' AND $__timeFilter(window_start)", width=6,
            description=LATE_NOTE,
        ))
        .with_panel(p.stat(
            t("死信", "Dead letters"),
            "SELECT count(*) AS dead_letters FROM v_deadletter WHERE $__timeFilter(received_at)",
            width=6, description=DEAD_LETTER_NOTE,
        ))
        .with_panel(p.timeseries(
            t("接入速率（样本/秒，按落库时间）", "Ingest rate (samples/s, by arrival)"),
            "SELECT $__timeGroupAlias(arrived_at, $__interval), "
            "count(*) / ($__interval_ms / 1000.0) AS samples_per_s FROM v_telemetry "
            f"WHERE {arrived('ts')} GROUP BY 1 ORDER BY 1", unit="suffix:/s",
            description=t("每秒落库的样本数，按落库时间（数据库时钟）分组。",
                          "Samples landed per second, grouped by arrival (the database's clock)."),
        ))
        .with_panel(p.timeseries(
            t("接入延迟（落库 − 事件时间）p50/p95", "Ingest lag (arrival − event time), p50/p95"),
            INGEST_LAG, unit="s", description=INGEST_LAG_NOTE,
        ))
        .with_panel(p.timeseries(
            t("迟到样本（每窗口）", "Late samples per window"),
            "SELECT $__timeGroupAlias(window_start, $__interval), sum(late_samples) AS "
            "late_samples FROM v_oee WHERE level = 'province' AND $__timeFilter(window_start) "
            "GROUP BY 1 ORDER BY 1", bars=True, unit="short", description=LATE_NOTE,
        ))
        .with_panel(p.timeseries(
            t("死信（按原因）", "Dead letters by reason"),
            "SELECT $__timeGroupAlias(received_at, $__interval), code AS metric, "
            "count(*)::float8 AS letters FROM v_deadletter WHERE $__timeFilter(received_at) "
            "GROUP BY 1, 2 ORDER BY 1, 2", bars=True, stacked=True, unit="short",
            description=DEAD_LETTER_NOTE,
        ))
        .with_panel(p.table(
            t("死信原因", "Dead-letter reasons"),
            "SELECT code, stage, count(*) AS letters, max(received_at) AS newest, "
            "min(reason) AS example FROM v_deadletter WHERE $__timeFilter(received_at) "
            "GROUP BY 1, 2 ORDER BY 3 DESC", description=DEAD_LETTER_NOTE,
        ))
        .with_panel(p.table(t("各主题新鲜度", "Freshness per topic"), FRESHNESS,
                            description=FRESHNESS_NOTE))
    )  # fmt: skip
