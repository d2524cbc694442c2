"""Panel and variable helpers over grafana-foundation-sdk's builders, bound to one build.

Every panel reads the one PostgreSQL datasource through `Sql` queries; the helpers keep the
panel code of the four dashboards down to a title, its SQL and a unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as default

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
from grafana_foundation_sdk.builders.dashboard import ThresholdsConfig
from grafana_foundation_sdk.builders.geomap import ControlsOptions, MapViewConfig, TooltipOptions
from grafana_foundation_sdk.models.common import (
    FrameGeometrySourceMode,
    GraphDrawStyle,
    GraphTresholdsStyleMode,
    StackingMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DashboardLinkType,
    DataSourceRef,
    DynamicConfigValue,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.geomap import TooltipMode

from dashboards.context import Build
from dashboards.fields import (
    FIELDS,
    STATE_SECONDS,
    STATES,
    UNKNOWN_COLOUR,
    VALUE_NAMES,
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
# A column a query returns: after AS, SELECT (not a subquery's), a comma or a table alias's
# dot, and before a comma or FROM. `device_id` in `WHERE device_id = …` is not one.
COLUMN = r"(?:\bAS\s|(?<!\()SELECT\s|,\s?|\.){}(?=\s*,|\s+FROM\b)"
TIME_RANGE = "${__url_time_range}"  # the clicked dashboard's range, as URL parameters
AnyPanel = (
    timeseries.Panel | stat.Panel | table.Panel | bargauge.Panel | barchart.Panel
    | statetimeline.Panel | geomap.Panel
)  # fmt: skip


@dataclass(frozen=True)
class Link:
    """A link to the dashboard `uid`, keeping the time range and setting its variables:
    `{"enterprise": "${__data.fields.enterprise_id}"}` takes the clicked row's value (data
    links), `{"enterprise": "${enterprise}"}` this dashboard's. `dashboards/links.py` checks
    the built links resolve."""

    title: Text
    uid: str
    variables: dict[str, str] = default(default_factory=dict)

    def url(self, *, time_range: bool = True) -> str:
        parameters = [f"var-{name}={value}" for name, value in self.variables.items()]
        if time_range:
            parameters.append(TIME_RANGE)
        return f"/d/{self.uid}?" + "&".join(parameters)


class Panels:
    """Panel builders for one `Build` (language, schema, datasource, OEE target).

    Every panel has a description, a unit, and a display name in the build's language for
    each column it returns (overrides by the SQL column's name, see dashboards/fields.py);
    a panel on a band (`oee`, `share`, `index`) gets its min, max and red/amber/green steps.
    """

    def __init__(self, build: Build) -> None:
        self.build = build
        self.ds = DataSourceRef(type_val=DATASOURCE_TYPE, uid=build.datasource_uid)
        self.bands = bands(build.oee_target)

    def dashboard(
        self, title: Text, uid: str, tags: list[str], *, since: str = "now-24h",
        refresh: str = "1m", links: tuple[Link, ...] = (),
    ) -> d.Dashboard:  # fmt: skip
        """An empty dashboard: stable uid, tagged `iiot`, a relative time range, and links
        (up or down the drill-down) in its header."""
        return (
            d.Dashboard(self.build.text(title))
            .uid(uid)
            .tags(["iiot", *tags])
            .time(since, "now")
            .refresh(refresh)
            .timezone("browser")
            .links([self._dashboard_link(link) for link in links])
        )

    def _dashboard_link(self, link: Link) -> d.DashboardLink:
        """Grafana adds the range itself (keepTime), so the URL does not carry it."""
        return (
            d.DashboardLink(self.build.text(link.title))
            .type(DashboardLinkType.LINK)
            .url(link.url(time_range=False))
            .icon("dashboard")
            .tooltip(self.build.text(link.title))
            .as_dropdown(False)
            .target_blank(False)
            .include_vars(False)
            .keep_time(True)
            .tags([])
        )

    def _data_link(self, link: Link) -> dict[str, object]:
        return {"title": self.build.text(link.title), "url": link.url()}

    def _query(self, sql: str, ref: str = "A") -> Sql:
        return Sql(self.build.datasource_uid, self.build.sql(sql)).ref(ref)

    def _common(
        self, panel: AnyPanel, title: Text, description: Text, sqls: tuple[str, ...], *,
        unit: str, band: BandName | None, names: bool = True, more: dict[str, Field] | None = None,
        links: dict[str, Link] | None = None,
    ) -> AnyPanel:  # fmt: skip
        """Title, datasource, description, and the field config of `unit` or `band`; a data
        link on each column named in `links` (`*`: every known column)."""
        panel.title(self.build.text(title)).datasource(self.ds)
        panel.description(self.build.text(description))
        scale = self.bands[band] if band else None
        default_unit = scale.unit if scale else unit
        if default_unit:
            panel.unit(default_unit)
        if scale:
            self._scale(panel, scale)
        for name, field in {**_columns(sqls), **(more or {})}.items():
            properties = self._field(panel, name, field, default_unit, band, names)
            link = (links or {}).get(name) or (links or {}).get("*")
            if link:
                properties.append(DynamicConfigValue("links", [self._data_link(link)]))
            if properties:
                panel.override_by_name(name, properties)
        return panel

    def _scale(self, panel: AnyPanel, scale: Band) -> None:
        panel.min(scale.min).max(scale.max).thresholds(_thresholds(scale))
        if scale.lines and isinstance(panel, timeseries.Panel):  # the target as a dashed line
            style = GraphThresholdsStyleConfig().mode(GraphTresholdsStyleMode.DASHED_AND_AREA)
            panel.thresholds_style(style)

    def _field(
        self, panel: AnyPanel, name: str, field: Field, default_unit: str,
        band: BandName | None, names: bool,
    ) -> list[DynamicConfigValue]:  # fmt: skip
        """Overrides of one column: its name, and unit and band where the panel's differ."""
        properties = []
        if names:
            properties.append(DynamicConfigValue("displayName", self.build.text(field.name)))
        if field.unit and field.unit != default_unit:
            properties.append(DynamicConfigValue("unit", field.unit))
        if field.band and field.band != band:
            scale = self.bands[field.band]
            properties += [
                DynamicConfigValue("min", scale.min),
                DynamicConfigValue("max", scale.max),
                DynamicConfigValue("thresholds", _thresholds(scale).build()),
            ]
        if field.band and isinstance(panel, table.Panel):
            properties.append(DynamicConfigValue("custom.cellOptions", {"type": "color-text"}))
        if name in VALUE_NAMES:
            properties.append(DynamicConfigValue("mappings", [self.mapping(VALUE_NAMES[name])]))
        if name in STATE_SECONDS or name == "unknown_s":
            colour = STATES[STATE_SECONDS[name]][1] if name in STATE_SECONDS else UNKNOWN_COLOUR
            properties.append(DynamicConfigValue("color", {"mode": "fixed", "fixedColor": colour}))
        return properties

    def mapping(self, values: dict[str, tuple[Text, str]]) -> ValueMap:
        """A value mapping: each code shown as its text, in its colour."""
        return ValueMap({
            code: ValueMappingResult(self.build.text(text), colour, index=i)
            for i, (code, (text, colour)) in enumerate(values.items())
        })  # fmt: skip

    def timeseries(
        self, title: Text, sql: str, *, description: Text, unit: str = "none",
        band: BandName | None = None, bars: bool = False, stacked: bool = False,
        extra: tuple[str, ...] = (), more: dict[str, Field] | None = None, width: int = 12,
    ) -> timeseries.Panel:  # fmt: skip
        panel = timeseries.Panel().with_target(self._query(sql)).interval("1m")
        for i, query in enumerate(extra):  # further series, e.g. a reference line
            panel.with_target(self._query(query, chr(ord("B") + i)))
        if bars:
            panel.draw_style(GraphDrawStyle.BARS).fill_opacity(80)
        if stacked:
            panel.stacking(StackingConfig().mode(StackingMode.NORMAL))
        self._common(panel, title, description, (sql, *extra), unit=unit, band=band, more=more)
        return panel.height(8).span(width)

    def stat(
        self, title: Text, sql: str, *, description: Text, unit: str = "short",
        band: BandName | None = None, width: int = 4,
    ) -> stat.Panel:  # fmt: skip
        panel = stat.Panel().with_target(self._query(sql).table())
        self._common(panel, title, description, (sql,), unit=unit, band=band)
        return panel.height(4).span(width)

    def table(
        self, title: Text, sql: str, *, description: Text, width: int = 12,
        more: dict[str, Field] | None = None, links: dict[str, Link] | None = None,
    ) -> table.Panel:  # fmt: skip
        panel = table.Panel().with_target(self._query(sql).table())
        self._common(panel, title, description, (sql,), unit="none", band=None, more=more,
                     links=links)  # fmt: skip
        return panel.height(8).span(width)

    def bars(
        self, title: Text, sql: str, *, description: Text, unit: str = "none",
        band: BandName | None = None, width: int = 8, links: dict[str, Link] | None = None,
    ) -> bargauge.Panel:  # fmt: skip
        """Horizontal bars, one per row of a (label, value) table, named by the label."""
        panel = bargauge.Panel().with_target(self._query(sql).table())
        panel.orientation(VizOrientation.HORIZONTAL)
        panel.reduce_options(ReduceDataOptions().values(True).calcs([]))  # every row, not one
        # No display name on the value: a bar is named by its row's label (the SQL's first
        # column), which an override of the value's name would replace on every bar.
        self._common(panel, title, description, (sql,), unit=unit, band=band, names=False,
                     links=links)  # fmt: skip
        return panel.height(8).span(width)

    def stacked_bars(
        self, title: Text, sql: str, *, description: Text, unit: str, x: str, width: int = 12,
        links: dict[str, Link] | None = None,
    ) -> barchart.Panel:  # fmt: skip
        """Horizontal stacked bars, one per row, a segment per numeric column (legend)."""
        panel = (
            barchart.Panel()
            .with_target(self._query(sql).table())
            .x_field(x)
            .orientation(VizOrientation.HORIZONTAL)
            .stacking(StackingMode.NORMAL)
        )
        self._common(panel, title, description, (sql,), unit=unit, band=None, links=links)
        return panel.height(8).span(width)

    def state_timeline(self, title: Text, sql: str, *, description: Text) -> statetimeline.Panel:
        """States as coloured bands, each in its fixed colour and named in the language."""
        panel = statetimeline.Panel().with_target(self._query(sql).table()).merge_values(True)
        self._common(panel, title, description, (sql,), unit="", band=None)
        panel.mappings([self.mapping(STATES)])
        return panel.height(6).span(24)

    def geomap(self, title: Text, sql: str, *, description: Text) -> geomap.Panel:
        """Markers at latitude/longitude columns, centred on Shandong, coloured by OEE."""
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
            .config({"style": {"color": {"field": "oee", "fixed": "dark-green"}}})
            .tooltip(True)
        )
        panel = (
            geomap.Panel()
            .with_target(self._query(sql).table())
            .view(MapViewConfig().id("coords").lat(36).lon(119).zoom(6))
            .controls(ControlsOptions().show_zoom(True).mouse_wheel_zoom(True))
            .layers([markers])
            .tooltip(TooltipOptions().mode(TooltipMode.DETAILS))
        )
        self._common(panel, title, description, (sql,), unit="", band="oee")
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


def _columns(sqls: tuple[str, ...]) -> dict[str, Field]:
    """The known columns (dashboards/fields.py) the queries return: not those of a subquery
    or function call (inside parentheses), e.g. the roll-up parts of `oee_by_range`."""
    outer = [_outside_parentheses(q) for q in sqls]
    return {n: f for n, f in FIELDS.items() if any(re.search(COLUMN.format(n), q) for q in outer)}


def _outside_parentheses(sql: str) -> str:
    """`sum(run_s) AS run_s FROM (SELECT …) o` → `sum AS run_s FROM  o`."""
    while (shorter := re.sub(r"\([^()]*\)", "", sql)) != sql:
        sql = shorter
    return sql


def _thresholds(scale: Band) -> ThresholdsConfig:
    """Absolute steps: red, amber from `amber`, green from `green`."""
    steps = [Threshold(value, colour) for value, colour in scale.steps()]
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)
