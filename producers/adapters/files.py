"""Reading a mapping file: one error naming the file, the line and what is wrong."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from iiot.yaml_lines import LocatedError
from iiot.yaml_lines import load as load_located
from producers.adapters.mapping import MODELS
from producers.adapters.runner import Loaded

MappingError = LocatedError  # `FILE:LINE: what is wrong`, one line


def load(path: Path) -> Loaded:
    """The mapping file at `path`, checked: its protocol's model, then what the fields alone
    do not say (`problems`)."""
    located = load_located(path)
    data = located.data
    protocol = data.get("protocol") if isinstance(data, dict) else None
    if protocol not in MODELS:
        where = ("protocol",) if isinstance(data, dict) and "protocol" in data else ()
        raise located.error(where, f"one of {', '.join(MODELS)}, not {protocol!r}")
    try:
        mapping = MODELS[protocol].model_validate(data, context={"located": True})
    except ValidationError as exc:
        raise located.invalid(exc) from None
    for loc, problem in mapping.problems():
        raise located.error(loc, problem)
    return Loaded(path.name, mapping)
