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
RATIOS = (
    "LEAST(sum(run_s) / NULLIF(sum(planned_s), 0), 1.0) AS availability, "
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
        "completeness": "LEAST(sum(samples_received) / NULLIF(sum(samples_expected), 0), 1.0)",
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
