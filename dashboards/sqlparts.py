"""SQL fragments shared by panels: ratios recomputed from added parts, never averaged.

docs/kpi.md: a roll-up over many windows adds planned_s, run_s, ideal_run_s and the counts,
then recomputes A, P, Q and OEE, exactly as v_oee_rollup does for hours and days.
"""

from __future__ import annotations

from iiot.settings import DigitizationWeights

QUALITY = "sum(count_good)::float8 / NULLIF(sum(count_total), 0)"
OEE = (
    "CASE WHEN sum(planned_s) > 0 THEN "
    f"sum(ideal_run_s) * COALESCE({QUALITY}, 0) / sum(planned_s) END"
)
# Clamp the parts, then divide: LEAST(x / NULLIF(0, 0), 1.0) would be 1.0, not null, as
# PostgreSQL's LEAST skips nulls.
RATIOS = (
    "LEAST(sum(run_s), sum(planned_s)) / NULLIF(sum(planned_s), 0) AS availability, "
    "sum(ideal_run_s) / NULLIF(sum(run_s), 0) AS performance, "
    f"{QUALITY} AS quality, {OEE} AS oee"
)
LOSSES = (
    "sum(down_s) AS down_s, sum(setup_s) AS setup_s, sum(idle_s) AS idle_s, "
    "sum(planned_stop_s) AS planned_stop_s, sum(unknown_s) AS unknown_s"
)


def digitization_index(weights: DigitizationWeights) -> str:
    """The index of many enterprise-hours from their added counts, with the settings' weights
    (a null component counts 0, as in iiot.digitization)."""
    components = {
        "connectivity": "sum(devices_reporting)::float8 / NULLIF(sum(devices_registered), 0)",
        "completeness": (
            "LEAST(sum(samples_received), sum(samples_expected)) / NULLIF(sum(samples_expected), 0)"
        ),
        "key_process_nc": (
            "sum(key_process_nc_reporting)::float8 / NULLIF(sum(key_process_devices), 0)"
        ),
        "oee_coverage": "sum(devices_with_oee)::float8 / NULLIF(sum(devices_registered), 0)",
        "cloud": "avg(cloud::int)",  # the share of enterprise-hours in the cloud
    }
    terms = " + ".join(
        f"{getattr(weights, name)!r} * COALESCE({expr}, 0)" for name, expr in components.items()
    )
    return f"100 * ({terms})"


# Long ranges read the roll-ups: a range longer than HOURLY_FROM_S reads the hourly roll-up,
# one longer than DAILY_FROM_S the daily one, else the raw rows (1-minute OEE windows,
# samples). The length is Grafana's `$__unixEpochTo() - $__unixEpochFrom()`, two integers
# once expanded, so each branch's condition is a constant the planner folds: only one branch
# is planned and read.
HOURLY_FROM_S = 2 * 86400
DAILY_FROM_S = 60 * 86400
SPAN = "($__unixEpochTo() - $__unixEpochFrom())"
GRAINS = (
    f"{SPAN} <= {HOURLY_FROM_S}",
    f"{SPAN} > {HOURLY_FROM_S} AND {SPAN} <= {DAILY_FROM_S}",
    f"{SPAN} > {DAILY_FROM_S}",
)
SHORT_RANGE, LONG_RANGE = GRAINS[0], f"{SPAN} > {HOURLY_FROM_S}"  # raw rows, or a roll-up
PARTS = (
    "run_s, idle_s, setup_s, down_s, planned_stop_s, unknown_s, planned_s, ideal_run_s, "
    "count_total, count_good"
)
# (relation, its time column, what it gives) for the raw rows, the hours, the days.
OEE_SOURCES = (
    ("v_oee", "window_start", f"window_start, entity_id, {PARTS}"),
    ("v_oee_hourly", "bucket", f"bucket AS window_start, entity_id, {PARTS}"),
    ("v_oee_daily", "bucket", f"bucket AS window_start, entity_id, {PARTS}"),
)
# A mean over many hours is value_sum / samples added, as it is over samples: the same mean.
METRIC_SOURCES = (
    ("v_telemetry_metric", "ts", "ts, metric, value AS value_sum, 1 AS samples"),
    ("v_metric_hourly", "bucket", "bucket AS ts, metric, value_sum, samples"),
    ("v_metric_daily", "bucket", "bucket AS ts, metric, value_sum, samples"),
)


def by_range(sources: tuple[tuple[str, str, str], ...], where: str, alias: str) -> str:
    """A derived table `alias` of the raw rows, hours or days the range's length calls for;
    `where` filters each source, `{time}` standing for its time column."""
    branches = " UNION ALL ".join(
        f"SELECT {columns} FROM {view} WHERE {where.replace('{time}', time)} AND {grain}"
        for (view, time, columns), grain in zip(sources, GRAINS, strict=True)
    )
    return f"({branches}) {alias}"


def oee_by_range(where: str) -> str:
    """A derived table `o (window_start, entity_id, <PARTS>)` of the OEE windows, hours or
    days by the range's length. Sum its parts and recompute the ratios (RATIOS, LOSSES): the
    same on every grain."""
    return by_range(OEE_SOURCES, where, "o")


def metrics_by_range(where: str) -> str:
    """A derived table `m (ts, metric, value_sum, samples)` of the samples' metrics, hours or
    days by the range's length; a mean is sum(value_sum) / sum(samples) on every grain."""
    return by_range(METRIC_SOURCES, where, "m")
