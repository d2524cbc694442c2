"""constraints.txt: the exact versions every install uses (make install, CI, the image).

pyproject.toml says which versions would do; constraints.txt says which ones are installed,
so a build next month gets what the tests ran with. `make lock` rewrites it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)$")


def pins() -> dict[str, Version]:
    found: dict[str, Version] = {}
    for line in (REPO / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"not an exact pin: {line!r}"
        name = canonicalize_name(match["name"])
        assert name not in found, f"pinned twice: {name}"
        found[name] = Version(match["version"])
    return found


def declared() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})
    return [Requirement(r) for r in [*project["dependencies"], *extras.get("dev", [])]]


def test_every_package_is_pinned_exactly() -> None:
    assert len(pins()) > 20  # the whole resolution, not only the direct dependencies


@pytest.mark.parametrize("requirement", declared(), ids=str)
def test_every_dependency_is_pinned_within_its_range(requirement: Requirement) -> None:
    if requirement.marker is not None and not requirement.marker.evaluate():
        return  # not installed on this platform
    version = pins().get(canonicalize_name(requirement.name))
    assert version is not None, f"{requirement.name} is not in constraints.txt: run make lock"
    assert requirement.specifier.contains(version, prereleases=True), (
        f"{requirement.name}=={version} is outside {requirement.specifier}: run make lock"
    )


def test_make_install_uses_the_constraints() -> None:
    makefile = (REPO / "Makefile").read_text()
    rule = re.search(r"^\$\(VENV\)/\.installed: (.*)\n((?:\t.*\n)+)", makefile, re.M)
    assert rule, "the venv rule of the Makefile"
    assert "constraints.txt" in rule[1].split()  # a refreshed lock re-installs the venv
    assert "-c constraints.txt -e '.[dev]'" in rule[2]
