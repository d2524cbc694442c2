"""`iiot registry export`: the simulated registry (every DeviceBirth) as YAML or JSON."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import orjson
import yaml

from iiot.registry_file import document

if TYPE_CHECKING:
    from simulators.simulation import Simulation

Format = Literal["yaml", "json"]


def registry_document(simulation: Simulation) -> dict[str, object]:
    """The registry file's content (iiot/registry_file.py): the seed, the enterprises once,
    then each device's birth as published on iiot.registry, its enterprise by id."""
    return document(simulation.births(), seed=simulation.options.seed)


def registry_export(simulation: Simulation, format: Format = "yaml") -> str:
    doc = registry_document(simulation)
    if format == "json":
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
    if format == "yaml":
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    raise ValueError(f"format must be yaml or json, not {format!r}")
