"""Panel and variable helpers over grafana-foundation-sdk's builders, bound to one build.

Every panel reads the one PostgreSQL datasource through `Sql` queries; the helpers keep the
panel code of the four dashboards down to a title, its SQL and a unit.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import (
    barchart,
    bargauge,
    geomap,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.builders import dashboard as d
from grafana_foundation_sdk.builders.common import (
    FrameGeometrySource,
    GraphThresholdsStyleConfig,
    MapLayerOptions,
    ReduceDataOptions,
    StackingConfig,
)
from grafana_foundation_sdk.builders.geomap import ControlsOptions, MapViewConfig, TooltipOptions
from grafana_foundation_sdk.models.common import (
    FrameGeometrySourceMode,
    GraphDrawStyle,
    GraphTresholdsStyleMode,
    StackingMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    DynamicConfigValue,
    Threshold,
    ThresholdsMode,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.geomap import TooltipMode

from dashboards.context import Build
from dashboards.fields import (
    ALARM_VALUES,
    FIELDS,
    STATE_SECONDS,
    STATES,
    UNKNOWN_COLOUR,
    Band,
    BandName,
    Field,
    bands,
)
from dashboards.query import DATASOURCE_TYPE, Sql
from dashboards.text import Text
from iiot.types import ID_PATTERN

# Only values shaped like the contract's ids survive as variable options (defence in depth:
# Grafana also doubles quotes in single-value variables, and panels quote them).
ID_REGEX = "/" + ID_PATTERN + "/"
WORD = r"(?<![\w$]){}(?!\w)"  # a column name, not part of a longer name or a $variable
AnyPanel = (
    timeseries.Panel | stat.Panel | table.Panel | bargauge.Panel | barchart.Panel
    | statetimeline.Panel | geomap.Panel
)  # fmt: skip


class Panels:
    """Panel builders for one `Build` (language, schema, datasource)."""

    def __init__(self, build: Build) -> None:
        self.build = build
        self.ds = DataSourceRef(type_val=DATASOURCE_TYPE, uid=build.datasource_uid)

    def dashboard(
        self, title: Text, uid: str, tags: list[str], *, since: str = "now-24h",
        refresh: str = "1m",
    ) -> d.Dashboard:  # fmt: skip
        """An empty dashboard: stable uid, tagged `iiot`, a relative time range."""
        return (
            d.Dashboard(self.build.text(title))
            .uid(uid)
            .tags(["iiot", *tags])
            .time(since, "now")
            .refresh(refresh)
            .timezone("browser")
        )

    def _query(self, sql: str, ref: str = "A") -> Sql:
        return Sql(self.build.datasource_uid, self.build.sql(sql)).ref(ref)

    def _common(self, panel: AnyPanel, title: Text, description: Text | None) -> AnyPanel:
        panel.title(self.build.text(title)).datasource(self.ds)
        if description is not None:
            panel.description(self.build.text(description))
        return panel

    def timeseries(
        self, title: Text, sql: str, *, unit: str = "", bars: bool = False,
        stacked: bool = False, extra: tuple[str, ...] = (), description: Text | None = None,
        width: int = 12,
    ) -> timeseries.Panel:  # fmt: skip
        panel = timeseries.Panel().with_target(self._query(sql)).interval("1m")
        for i, more in enumerate(extra):  # further series, e.g. a reference line
            panel.with_target(self._query(more, chr(ord("B") + i)))
        if unit:
            panel.unit(unit)
        if bars:
            panel.draw_style(GraphDrawStyle.BARS).fill_opacity(80)
        if stacked:
            panel.stacking(StackingConfig().mode(StackingMode.NORMAL))
        self._common(panel, title, description)
        return panel.height(8).span(width)

    def stat(self, title: Text, sql: str, *, unit: str = "", width: int = 4) -> stat.Panel:
        panel = stat.Panel().with_target(self._query(sql).table())
        if unit:
            panel.unit(unit)
        self._common(panel, title, None)
        return panel.height(4).span(width)

    def table(
        self, title: Text, sql: str, *, width: int = 12, description: Text | None = None
    ) -> table.Panel:
        panel = table.Panel().with_target(self._query(sql).table())
        self._common(panel, title, description)
        return panel.height(8).span(width)

    def bars(self, title: Text, sql: str, *, unit: str = "", width: int = 8) -> bargauge.Panel:
        """Horizontal bars, one per row of a (label, value) table."""
        panel = bargauge.Panel().with_target(self._query(sql).table())
        panel.orientation(VizOrientation.HORIZONTAL)
        if unit:
            panel.unit(unit)
        self._common(panel, title, None)
        return panel.height(8).span(width)

    def state_timeline(self, title: Text, sql: str) -> statetimeline.Panel:
        panel = statetimeline.Panel().with_target(self._query(sql).table()).merge_values(True)
        self._common(panel, title, None)
        return panel.height(6).span(24)

    def geomap(self, title: Text, sql: str, description: Text) -> geomap.Panel:
        """Markers at latitude/longitude columns, centred on Shandong."""
        markers = (
            MapLayerOptions()
            .type("markers")
            .name(self.build.text(title))
            .location(
                FrameGeometrySource()
                .mode(FrameGeometrySourceMode.COORDS)
                .latitude("latitude")
                .longitude("longitude")
            )
            .tooltip(True)
        )
        panel = (
            geomap.Panel()
            .with_target(self._query(sql).table())
            .view(MapViewConfig().id("coords").lat(36).lon(119).zoom(6))
            .controls(ControlsOptions().show_zoom(True).mouse_wheel_zoom(True))
            .layers([markers])
            .tooltip(TooltipOptions().mode(TooltipMode.DETAILS))
            .unit("percentunit")
        )
        self._common(panel, title, description)
        return panel.height(10).span(12)

    def variable(self, name: str, label: Text, sql: str) -> d.QueryVariable:
        """A single-value query variable; it refreshes when the one it depends on changes."""
        return (
            d.QueryVariable(name)
            .label(self.build.text(label))
            .datasource(self.ds)
            .query(self.build.sql(sql))
            .regex(ID_REGEX)
            .refresh(VariableRefresh.ON_DASHBOARD_LOAD)
            .sort(VariableSort.ALPHABETICAL_ASC)
        )
