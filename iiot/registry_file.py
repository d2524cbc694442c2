"""Registry files: the DeviceBirths of many devices in one YAML (or JSON) file, each
enterprise's fields given once (docs/producer.md, "Registry files").

A mapping: `enterprises`, a list of the enterprises (each the fields of DeviceBirth's
`enterprise`), once; `births`, a list of DeviceBirths without `v`, each naming its enterprise
by id (`enterprise: qd-haier`); `seed` and `devices`, optional, say where it came from.

`iiot registry export` writes them, `iiot registry publish` reads them with `load()`: a
mistake is one `LocatedError`, `FILE:LINE: field.path: what is wrong` (iiot/yaml_lines.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from iiot.messages import DeviceBirth, Enterprise
from iiot.types import MODEL_CONFIG, Count, EntityId
from iiot.yaml_lines import Located, LocatedError
from iiot.yaml_lines import load as load_located

__all__ = ["LocatedError", "document", "load"]


class BirthEntry(DeviceBirth):
    """A birth as a registry file gives it: its enterprise by id."""

    enterprise: EntityId = Field(  # type: ignore[assignment]
        description="An id of the file's `enterprises`."
    )


class RegistryFile(BaseModel):
    """The file: the enterprises once, then the births; `seed` and `devices` say where it
    came from (`iiot registry export`) and are not checked against the births."""

    model_config = MODEL_CONFIG

    seed: int | None = None
    devices: Count | None = None
    enterprises: list[Enterprise]
    births: list[BirthEntry]


def document(births: Sequence[DeviceBirth], **about: Any) -> dict[str, Any]:
    """The births as a registry file's content: `about` (such as the seed) first, then the
    enterprises once, in the order the births name them, then the births naming them by id."""
    enterprises: dict[str, Enterprise] = {}
    for birth in births:
        known = enterprises.setdefault(birth.enterprise.id, birth.enterprise)
        if known != birth.enterprise:
            raise ValueError(f"enterprise {known.id!r} is described in two ways")
    return {
        **about,
        "devices": len(births),
        "enterprises": [e.model_dump(mode="json") for e in enterprises.values()],
        "births": [
            {**b.model_dump(mode="json", exclude={"v"}), "enterprise": b.enterprise.id}
            for b in births
        ],
    }


def load(path: str | Path) -> list[DeviceBirth]:
    """The births of a registry file, in its order, each a valid DeviceBirth with its
    enterprise's fields. Any mistake raises one `LocatedError`: `FILE:LINE: …`."""
    located = load_located(path)
    if not isinstance(located.data, dict):
        raise located.error((), "a registry file is a mapping with `enterprises` and `births`")
    parsed = located.validate(RegistryFile)
    enterprises: dict[str, Enterprise] = {}
    for index, enterprise in enumerate(parsed.enterprises):
        if enterprise.id in enterprises:
            raise _twice(located, "enterprises", index, "id", f"enterprise {enterprise.id!r}")
        enterprises[enterprise.id] = enterprise
    births: list[DeviceBirth] = []
    seen: set[str] = set()
    for index, entry in enumerate(parsed.births):
        if entry.enterprise not in enterprises:
            known = ", ".join(enterprises) or "none"
            raise located.error(
                ("births", index, "enterprise"),
                f"unknown enterprise {entry.enterprise!r} (the file's enterprises: {known})",
            )
        if entry.device_id in seen:
            raise _twice(located, "births", index, "device_id", f"device {entry.device_id!r}")
        seen.add(entry.device_id)
        fields = {**entry.__dict__, "enterprise": enterprises[entry.enterprise]}
        births.append(located.validate(DeviceBirth, ("births", index), fields))
    return births


def _twice(located: Located, part: str, index: int, key: str, what: str) -> LocatedError:
    """The error of an id given a second time, naming the line of the first."""
    first = next(
        i for i in range(index) if located.at((part, i, key)) == located.at((part, index, key))
    )
    line = located.line_of((part, first, key))
    return located.error((part, index, key), f"{what} is given twice (first at line {line})")
