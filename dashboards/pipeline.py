"""4. Pipeline health: is data flowing, how late is it, what is rejected — all from the
database (the sink lands every topic there), so it needs no other datasource."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as d

from dashboards.context import Build
from dashboards.panels import Panels
from dashboards.text import t

UID = "iiot-pipeline"
TITLE = t("数据管道健康", "Pipeline health")
FRESHNESS = (
    "SELECT topic, newest, extract(epoch FROM now() - newest)::float8 AS age_s FROM ("
    "SELECT 'iiot.registry' AS topic, max(announced_at) AS newest FROM v_device "
    "UNION ALL SELECT 'iiot.telemetry', max(ts) FROM v_telemetry WHERE $__timeFilter(ts) "
    "UNION ALL SELECT 'iiot.oee', max(window_end) FROM v_oee "
    "WHERE level = 'province' AND $__timeFilter(window_start) "
    "UNION ALL SELECT 'iiot.digitization', max(window_end) FROM v_digitization "
    "WHERE $__timeFilter(window_start) "
    "UNION ALL SELECT 'iiot.alarms', max(ts) FROM v_alarm WHERE $__timeFilter(ts) "
    "UNION ALL SELECT 'iiot.deadletter', max(received_at) FROM v_deadletter "
    "WHERE $__timeFilter(received_at)) AS f ORDER BY 1"
)
FRESHNESS_NOTE = t(
    "各主题落库的最新事件时间及其距今秒数。",
    "Newest event time landed per topic, and its age in seconds.",
)


def dashboard(build: Build) -> d.Dashboard:
    p = Panels(build)
    return (
        p.dashboard(TITLE, UID, ["pipeline"], since="now-6h", refresh="30s")
        .with_panel(p.stat(
            t("延迟（现在 − 最新事件时间）", "Lag (now − newest event time)"),
            "SELECT extract(epoch FROM now() - max(ts))::float8 AS lag_s FROM v_telemetry "
            "WHERE $__timeFilter(ts)", unit="s", width=8,
        ))
        .with_panel(p.stat(
            t("迟到样本", "Late samples"),
            "SELECT COALESCE(sum(late_samples), 0) AS late_samples FROM v_oee "
            "WHERE level = 'province' AND $__timeFilter(window_start)", width=8,
        ))
        .with_panel(p.stat(
            t("死信", "Dead letters"),
            "SELECT count(*) AS dead_letters FROM v_deadletter WHERE $__timeFilter(received_at)",
            width=8,
        ))
        .with_panel(p.timeseries(
            t("接入速率（样本/秒，按事件时间）", "Ingest rate (samples/s, by event time)"),
            "SELECT $__timeGroupAlias(ts, $__interval), count(*) / ($__interval_ms / 1000.0) "
            "AS samples_per_s FROM v_telemetry WHERE $__timeFilter(ts) GROUP BY 1 ORDER BY 1",
        ))
        .with_panel(p.timeseries(
            t("迟到样本（每窗口）", "Late samples per window"),
            "SELECT $__timeGroupAlias(window_start, $__interval), sum(late_samples) AS "
            "late_samples FROM v_oee WHERE level = 'province' AND $__timeFilter(window_start) "
            "GROUP BY 1 ORDER BY 1", bars=True,
        ))
        .with_panel(p.timeseries(
            t("死信（按原因）", "Dead letters by reason"),
            "SELECT $__timeGroupAlias(received_at, $__interval), code AS metric, "
            "count(*)::float8 AS letters FROM v_deadletter WHERE $__timeFilter(received_at) "
            "GROUP BY 1, 2 ORDER BY 1, 2", bars=True, stacked=True,
        ))
        .with_panel(p.table(
            t("死信原因", "Dead-letter reasons"),
            "SELECT code, stage, count(*) AS letters, max(received_at) AS newest, "
            "min(reason) AS example FROM v_deadletter WHERE $__timeFilter(received_at) "
            "GROUP BY 1, 2 ORDER BY 3 DESC",
        ))
        .with_panel(p.table(t("各主题新鲜度", "Freshness per topic"), FRESHNESS,
                            description=FRESHNESS_NOTE))
    )  # fmt: skip
