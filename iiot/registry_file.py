"""Registry files: the DeviceBirths of many devices in one YAML (or JSON) file, each
enterprise's fields given once (docs/producer.md, "Registry files").

A mapping: `enterprises`, a list of the enterprises (each the fields of DeviceBirth's
`enterprise`), once; `plants`, optional, the shift calendars of plants (each the fields of
DeviceBirth's `shift_calendar` and the plant's `id`), once; `births`, a list of DeviceBirths
without `v`, each naming its enterprise by id (`enterprise: qd-haier`) and carrying its
plant's calendar, if `plants` gives one; `seed` and `devices`, optional, say where it came
from.

`iiot registry export` writes them, `iiot registry publish` reads them with `load()`: a
mistake is one `LocatedError`, `FILE:LINE: field.path: what is wrong` (iiot/yaml_lines.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from iiot.messages import DeviceBirth, Enterprise
from iiot.shifts import PlantShifts
from iiot.types import MODEL_CONFIG, Count, EntityId
from iiot.yaml_lines import Located, LocatedError
from iiot.yaml_lines import load as load_located

__all__ = ["LocatedError", "document", "load"]


class BirthEntry(DeviceBirth):
    """A birth as a registry file gives it: its enterprise by id."""

    enterprise: EntityId = Field(  # type: ignore[assignment]
        description="An id of the file's `enterprises`."
    )
    shift_calendar: None = Field(
        None, description="Not here: the file's `plants` give each plant's calendar once."
    )


class PlantEntry(PlantShifts):
    """A plant's shift calendar, given once for all its births."""

    id: EntityId = Field(description="The plant_id of its births.")


class RegistryFile(BaseModel):
    """The file: the enterprises once, then the births; `seed` and `devices` say where it
    came from (`iiot registry export`) and are not checked against the births."""

    model_config = MODEL_CONFIG

    seed: int | None = None
    devices: Count | None = None
    enterprises: list[Enterprise]
    plants: list[PlantEntry] = []
    births: list[BirthEntry]


def document(births: Sequence[DeviceBirth], **about: Any) -> dict[str, Any]:
    """The births as a registry file's content: `about` (such as the seed) first, then the
    enterprises once, in the order the births name them, then the plants' shift calendars
    (if any birth carries one) likewise, then the births naming their enterprise by id."""
    enterprises: dict[str, Enterprise] = {}
    calendars: dict[str, PlantShifts | None] = {}
    for birth in births:
        known = enterprises.setdefault(birth.enterprise.id, birth.enterprise)
        if known != birth.enterprise:
            raise ValueError(f"enterprise {known.id!r} is described in two ways")
        # A plant's births carry one calendar or none: the file gives it once for them all.
        if calendars.setdefault(birth.plant_id, birth.shift_calendar) != birth.shift_calendar:
            raise ValueError(f"plant {birth.plant_id!r} has two shift calendars")
    plants = [
        {"id": plant, **calendar.model_dump(mode="json")}
        for plant, calendar in calendars.items()
        if calendar is not None
    ]
    return {
        **about,
        "devices": len(births),
        "enterprises": [e.model_dump(mode="json") for e in enterprises.values()],
        **({"plants": plants} if plants else {}),
        "births": [
            {
                **b.model_dump(mode="json", exclude={"v", "shift_calendar"}),
                "enterprise": b.enterprise.id,
            }
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
    calendars: dict[str, PlantShifts] = {}
    for index, plant in enumerate(parsed.plants):
        if plant.id in calendars:
            raise _twice(located, "plants", index, "id", f"plant {plant.id!r}")
        calendars[plant.id] = PlantShifts(time_zone=plant.time_zone, shifts=plant.shifts)
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
        fields = {
            **entry.__dict__,
            "enterprise": enterprises[entry.enterprise],
            "shift_calendar": calendars.get(entry.plant_id),
        }
        births.append(located.validate(DeviceBirth, ("births", index), fields))
    return births


def _twice(located: Located, part: str, index: int, key: str, what: str) -> LocatedError:
    """The error of an id given a second time, naming the line of the first."""
    first = next(
        i for i in range(index) if located.at((part, i, key)) == located.at((part, index, key))
    )
    line = located.line_of((part, first, key))
    return located.error((part, index, key), f"{what} is given twice (first at line {line})")
