"""docs/contract.md stays true: every field of every message is documented there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from iiot.contract import MODELS

CONTRACT = (Path(__file__).parents[3] / "docs" / "contract.md").read_text()


def fields(model: type[BaseModel], prefix: str = "") -> list[str]:
    names = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += fields(annotation, f"{prefix}{name}.")
        else:
            names.append(prefix + name)
    return names


@pytest.mark.parametrize("name", list(MODELS))
def test_every_field_is_documented(name: str) -> None:
    section = CONTRACT.split(f"## {name} ")[1].split("\n## ")[0]
    documented = set(re.findall(r"`([a-z0-9_.]+)`", section))
    missing = [f for f in fields(MODELS[name]) if f not in documented]
    assert missing == [], f"docs/contract.md, section {name}, lacks {missing}"
