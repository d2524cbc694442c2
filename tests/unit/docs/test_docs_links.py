"""The README and docs stay true: their links lead somewhere, their settings exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from iiot.settings import Settings

ROOT = Path(__file__).parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGES += sorted((ROOT / "deploy").glob("*/README.md"))

# IIOT_* names that programs other than the Settings class read, and the file that reads them.
READ_ELSEWHERE = {
    "IIOT_READER_PASSWORD": "dashboards/provisioning.py",
    "IIOT_STACK_KAFKA_PORT": "deploy/local/stack.sh",
    "IIOT_STACK_KAFKA_CONTROLLER_PORT": "deploy/local/stack.sh",
    "IIOT_STACK_PG_PORT": "deploy/local/stack.sh",
    "IIOT_STACK_MQTT_PORT": "deploy/local/stack.sh",
    "IIOT_SIMULATOR": "simulators/native.py",  # read at import, before any Settings
    "IIOT_STREAMS": "iiot/native.py",  # the same for the stream worker's modules
}


def settings_env_names() -> set[str]:
    names = set()
    for field, info in Settings.model_fields.items():
        names.add(f"IIOT_{field.upper()}")
        nested = getattr(info.annotation, "model_fields", {})
        names |= {f"IIOT_{field.upper()}__{sub.upper()}" for sub in nested}
        if nested:
            names.add(f"IIOT_{field.upper()}__")  # "…__CONNECTIVITY and the other weights"
    return names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)  # code blocks hold no links
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    broken = [
        t
        for t in targets
        if not re.match(r"[a-z]+:", t) and not (page.parent / t.split("#")[0]).exists()
    ]
    assert broken == [], f"{page.relative_to(ROOT)} links to missing {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_settings_named_exist(page: Path) -> None:
    known = settings_env_names()
    unknown = []
    for name in sorted(set(re.findall(r"IIOT_[A-Z0-9_]+", page.read_text()))):
        reader = READ_ELSEWHERE.get(name)
        if name in known or (reader and name in (ROOT / reader).read_text()):
            continue
        unknown.append(name)
    assert unknown == [], f"{page.relative_to(ROOT)} names settings nothing reads: {unknown}"
