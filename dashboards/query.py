"""A typed query for Grafana's PostgreSQL datasource, pluggable into the foundation SDK.

The SDK has builders for Prometheus, Loki and others but none for SQL datasources, so this
is the small piece it lacks: `rawSql`, `format`, `refId` and the datasource's uid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Self

from grafana_foundation_sdk.cog import builder, variants

DATASOURCE_TYPE = "grafana-postgresql-datasource"  # the PostgreSQL plugin id since Grafana 10
Format = Literal["time_series", "table"]


@dataclass(frozen=True)
class SqlQuery(variants.Dataquery):
    raw_sql: str
    format: Format
    ref_id: str
    datasource_uid: str

    def to_json(self) -> dict[str, object]:
        return {
            "refId": self.ref_id,
            "datasource": {"type": DATASOURCE_TYPE, "uid": self.datasource_uid},
            "rawSql": self.raw_sql,
            "format": self.format,
            "rawQuery": True,
            "editorMode": "code",  # the SQL is the source of truth, not the visual builder
        }


class Sql(builder.Builder[SqlQuery]):
    """`Sql(uid, "SELECT …").table().ref("B")` — time series, refId A by default."""

    def __init__(self, datasource_uid: str, raw_sql: str) -> None:
        self._uid = datasource_uid
        self._sql = raw_sql
        self._format: Format = "time_series"
        self._ref = "A"

    def table(self) -> Self:
        self._format = "table"
        return self

    def ref(self, ref_id: str) -> Self:
        self._ref = ref_id
        return self

    def build(self) -> SqlQuery:
        return SqlQuery(self._sql, self._format, self._ref, self._uid)
