"""What a build is for: language, schema, datasource, TimescaleDB flag, index weights, the
OEE target.

Panels name only the documented `v_*` views (docs/schema.md); `Build.sql` qualifies them with
the deployment's schema, because Grafana's datasource cannot set a search_path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dashboards.text import Language, Text
from iiot.settings import DigitizationWeights, get_settings

VIEWS = frozenset(
    ("v_device", "v_enterprise", "v_telemetry", "v_telemetry_metric", "v_metric_hourly",
     "v_metric_daily", "v_metric_rollup", "v_oee", "v_oee_hourly", "v_oee_daily",
     "v_oee_rollup", "v_digitization", "v_alarm", "v_alarm_open", "v_deadletter", "v_city",
     "v_state_interval", "v_state_hourly", "v_state_rollup", "v_plant_shift", "v_oee_shift")
)  # fmt: skip
VIEW_NAME = re.compile(r"(?<![\w.\"])(v_[a-z_]+)\b")
DATASOURCE_UID = "iiot-postgres"


def _oee_target() -> float:
    return get_settings().oee_target  # IIOT_OEE_TARGET, read when the dashboards are built


class UnknownView(ValueError):
    """A panel names a relation that docs/schema.md does not document."""


@dataclass(frozen=True)
class Build:
    language: Language = "both"
    schema: str = "iiot"
    datasource_uid: str = DATASOURCE_UID
    timescaledb: bool = False
    weights: DigitizationWeights = field(default_factory=DigitizationWeights)
    oee_target: float = field(default_factory=_oee_target)  # green from here (docs/dashboards.md)

    def text(self, text: Text) -> str:
        return text.render(self.language)

    def sql(self, query: str) -> str:
        """The query with every `v_*` view schema-qualified; unknown views are refused."""

        def qualify(match: re.Match[str]) -> str:
            if match[1] not in VIEWS:
                raise UnknownView(f"{match[1]} is not a documented view (docs/schema.md)")
            return f"{self.schema}.{match[1]}"

        return VIEW_NAME.sub(qualify, query)
