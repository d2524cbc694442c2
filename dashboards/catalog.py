"""The dashboards, their folders, and their JSON as Grafana stores it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from grafana_foundation_sdk.builders import dashboard as d
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from dashboards import andon, enterprise, line_device, pipeline, province
from dashboards.context import Build
from dashboards.text import Text, t

Json = dict[str, object]


@dataclass(frozen=True)
class Folder:
    uid: str
    title: Text
    directory: str  # under dashboards/ in the build; ASCII, so mounts and shells stay simple


@dataclass(frozen=True)
class Spec:
    uid: str
    folder: Folder
    make: Callable[[Build], d.Dashboard]
    annotations: Callable[[Build], list[Json]] | None = None


OPERATIONS = Folder("iiot-operations", t("工业互联网", "Industrial internet"), "operations")
PLATFORM = Folder("iiot-platform", t("平台运维", "Platform"), "platform")
FOLDERS = (OPERATIONS, PLATFORM)
SPECS = (
    Spec(province.UID, OPERATIONS, province.dashboard),
    Spec(enterprise.UID, OPERATIONS, enterprise.dashboard),
    Spec(line_device.UID, OPERATIONS, line_device.dashboard, line_device.annotations),
    Spec(andon.UID, OPERATIONS, andon.dashboard),
    Spec(pipeline.UID, PLATFORM, pipeline.dashboard),
)
BUILT_IN_ANNOTATIONS: Json = {
    "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True,
    "hide": True, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts",
    "type": "dashboard",
}  # fmt: skip


def render(spec: Spec, build: Build) -> Json:
    """The dashboard's JSON: the SDK's model, panel ids numbered, annotations added."""
    model: Json = json.loads(json.dumps(spec.make(build).build(), cls=JSONEncoder))
    panels = model.get("panels")
    assert isinstance(panels, list)
    for number, panel in enumerate(panels, start=1):
        panel["id"] = number  # stable ids keep links and the panel editor's URLs stable
        if panel.get("options") is None:
            panel["options"] = {}
        if panel["options"].get("basemap", {}).get("type") == "":
            del panel["options"]["basemap"]  # unset: Grafana's default base layer
    if not model.get("templating"):
        model["templating"] = {"list": []}
    extra = spec.annotations(build) if spec.annotations else []
    model["annotations"] = {"list": [BUILT_IN_ANNOTATIONS, *extra]}
    model["id"] = None  # Grafana assigns it; the uid is what identifies the dashboard
    return model


def render_all(build: Build) -> dict[str, Json]:
    return {spec.uid: render(spec, build) for spec in SPECS}
