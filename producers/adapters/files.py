"""Reading a mapping file: one error naming the file, the line and what is wrong."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from iiot.yaml_lines import LocatedError
from iiot.yaml_lines import load as load_located
from producers.adapters.mapping import MODELS, Mapping, OpcuaMapping
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
    return Loaded(path.name, _files_beside(mapping, path.parent))


def _files_beside(mapping: Mapping, directory: Path) -> Mapping:
    """Files a mapping names (an OPC UA client's certificate and key) are found beside it,
    wherever the adapter is started from, unless given as absolute paths."""
    if not isinstance(mapping, OpcuaMapping):
        return mapping
    connection = mapping.connection
    found = {
        key: str(directory / name)
        for key in ("certificate", "private_key")
        if (name := getattr(connection, key)) is not None and not Path(name).is_absolute()
    }
    if not found:
        return mapping
    return mapping.model_copy(update={"connection": connection.model_copy(update=found)})
