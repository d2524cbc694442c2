"""What an operator would see after the run, read from the database views (docs/schema.md)
as the read-only role Grafana uses.

OEE per enterprise over the whole run adds the parts of the enterprise's windows and
recomputes the ratios with `iiot.kpi.oee_ratios` — time-weighted, never an average of OEEs.
The digitization index is the one of the newest complete hour (a partial hour is marked).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from iiot.kpi import OeeRatios, oee_ratios

_COUNTS = """
SELECT (SELECT count(*) FROM v_enterprise), (SELECT count(*) FROM v_device),
       (SELECT count(*) FROM v_telemetry), (SELECT min(ts) FROM v_telemetry),
       (SELECT max(ts) FROM v_telemetry), (SELECT count(*) FROM v_deadletter),
       (SELECT count(*) FROM v_alarm WHERE status = 'raised'),
       (SELECT count(*) FROM v_alarm_open), (SELECT count(*) FROM v_oee),
       (SELECT count(*) FROM v_digitization)
"""

# The parts of every enterprise window, added; `entity` picks the level's entities.
_PARTS = """
SELECT e.enterprise_id, e.enterprise_name, e.city,
       (SELECT count(*) FROM v_device d WHERE d.enterprise_id = e.enterprise_id),
       count(o.window_start), coalesce(sum(o.planned_s), 0), coalesce(sum(o.run_s), 0),
       coalesce(sum(o.ideal_run_s), 0), coalesce(sum(o.count_total), 0),
       coalesce(sum(o.count_good), 0)
FROM v_enterprise e
LEFT JOIN v_oee o ON o.level = 'enterprise' AND o.entity_id = e.enterprise_id
GROUP BY e.enterprise_id, e.enterprise_name, e.city
ORDER BY e.enterprise_id
"""

_PROVINCE = """
SELECT count(*), coalesce(sum(planned_s), 0), coalesce(sum(run_s), 0),
       coalesce(sum(ideal_run_s), 0), coalesce(sum(count_total), 0),
       coalesce(sum(count_good), 0)
FROM v_oee WHERE level = 'province'
"""

# Newest hour per enterprise that the run covered to its end; else the newest with samples.
_DIGITIZATION = """
SELECT DISTINCT ON (enterprise_id) enterprise_id, window_start, index,
       window_end <= %(end)s AS complete
FROM v_digitization
ORDER BY enterprise_id, (window_end <= %(end)s) DESC, (samples_received > 0) DESC,
         window_start DESC
"""


@dataclass(frozen=True)
class Parts:
    """Added window parts (seconds and counts), as the roll-ups add them."""

    windows: int
    planned_s: float
    run_s: float
    ideal_run_s: float
    count_total: int
    count_good: int

    @classmethod
    def of(cls, row: tuple[Any, ...]) -> Parts:
        windows, planned, run, ideal, total, good = row
        return cls(int(windows), float(planned), float(run), float(ideal), int(total), int(good))

    def ratios(self) -> OeeRatios:
        return oee_ratios(
            self.planned_s, self.run_s, self.ideal_run_s, self.count_total, self.count_good
        )


@dataclass(frozen=True)
class EnterpriseLine:
    enterprise_id: str
    name: str
    city: str
    devices: int
    parts: Parts
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    digitization_index: float | None
    digitization_hour: datetime | None
    digitization_complete: bool


@dataclass(frozen=True)
class Summary:
    schema: str
    enterprises: int
    devices: int
    samples: int
    first_sample: datetime | None
    last_sample: datetime | None
    dead_letters: int
    alarms_raised: int
    alarms_open: int
    oee_windows: int
    digitization_windows: int
    province_oee: float | None
    lines: list[EnterpriseLine]

    def as_json(self) -> dict[str, Any]:
        doc = asdict(self)
        for line in doc["lines"]:
            hour = line["digitization_hour"]
            line["digitization_hour"] = hour.isoformat() if hour else None
        for key in ("first_sample", "last_sample"):
            doc[key] = doc[key].isoformat() if doc[key] else None
        return doc


def _enterprise_line(
    row: tuple[Any, ...], digitization: dict[str, tuple[Any, ...]]
) -> EnterpriseLine:
    enterprise_id, name, city, devices, *parts_row = row
    parts = Parts.of(tuple(parts_row))
    ratios = parts.ratios()
    hour, index, complete = digitization.get(enterprise_id, (None, None, False))
    return EnterpriseLine(
        enterprise_id, name, city, int(devices), parts,
        ratios.availability, ratios.performance, ratios.quality, ratios.oee,
        float(index) if index is not None else None, hour, bool(complete),
    )  # fmt: skip


def read_summary(reader_dsn: str, schema: str, factory_end: datetime) -> Summary:
    """Every number from the views, in one read-only session; `factory_end` is where the
    simulator stopped (an hour ending later is not complete)."""
    with psycopg.connect(reader_dsn, autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        counts = conn.execute(_COUNTS).fetchone()
        assert counts is not None
        enterprises, devices, samples, first, last, dead, raised, open_, oee_n, dig_n = counts
        digitization = {
            row[0]: row[1:] for row in conn.execute(_DIGITIZATION, {"end": factory_end}).fetchall()
        }
        lines = [_enterprise_line(row, digitization) for row in conn.execute(_PARTS).fetchall()]
        province_row = conn.execute(_PROVINCE).fetchone()
    province = Parts.of(province_row) if province_row else None
    return Summary(
        schema, enterprises, devices, samples, first, last, dead, raised, open_, oee_n, dig_n,
        province.ratios().oee if province and province.windows else None, lines,
    )  # fmt: skip
