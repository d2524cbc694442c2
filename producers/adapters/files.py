"""Reading a mapping file: one error naming the file, the line and what is wrong."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from iiot.contract import one_line
from producers.adapters.mapping import MAPPING
from producers.adapters.runner import Loaded


class MappingError(Exception):
    """`FILE:LINE: what is wrong` — one line."""


def load(path: Path) -> Loaded:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MappingError(f"{path}: cannot read it: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise MappingError(f"{path}{line}: not YAML: {getattr(exc, 'problem', exc)}") from None
    try:
        mapping = MAPPING.validate_python(document)
    except ValidationError as exc:
        raise MappingError(f"{path}: {one_line(exc)}") from None
    return Loaded(path.name, mapping)
