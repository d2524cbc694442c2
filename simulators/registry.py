"""`iiot registry export`: the simulated registry (every DeviceBirth) as YAML or JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import orjson
import yaml

if TYPE_CHECKING:
    from simulators.simulation import Simulation

Format = Literal["yaml", "json"]


def registry_document(simulation: Simulation) -> dict[str, object]:
    """Enterprises once, then each device's birth as published on iiot.registry."""
    births = simulation.births()
    enterprises = {b.enterprise.id: b.enterprise.model_dump(mode="json") for b in births}
    return {
        "seed": simulation.options.seed,
        "devices": len(births),
        "enterprises": list(enterprises.values()),
        "births": [b.model_dump(mode="json") for b in births],
    }


def registry_export(simulation: Simulation, format: Format = "yaml") -> str:
    doc = registry_document(simulation)
    if format == "json":
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
    if format == "yaml":
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    raise ValueError(f"format must be yaml or json, not {format!r}")
