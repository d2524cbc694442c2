"""The docs name only what exists: `iiot` commands the CLI has, and no design kept elsewhere."""

from __future__ import annotations

import importlib
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main

ROOT = Path(__file__).parents[3]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
PAGES += sorted((ROOT / "deploy").glob("*/README.md"))

# `iiot` where a shell would run it: at the start of a line or code span, after an env
# assignment, `.venv/bin/`, `&&` or `;` — not `kubectl -n iiot …` nor `iiot.telemetry`.
COMMAND = re.compile(
    r"(?:^|&&|;|\.venv/bin/|\b[A-Z_]+=\S*)\s*iiot((?:[ ]+[a-z|][a-z0-9|-]*)*)((?:[ ]+[^#\s]+)*)",
    re.M,
)
OPTION = re.compile(r"(?<![\w-])(--?[a-zA-Z][\w-]*)")
# Outside the repository's own files the design must not live: a reference to one is a
# page the user never gets.
ELSEWHERE = re.compile(rb"DESIGN\.md|\.\./shared\b")


def entry_point_app() -> Any:
    """The `iiot` app as pyproject.toml's [project.scripts] names it, wherever it lives."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, attribute = scripts["iiot"].partition(":")
    target: Any = importlib.import_module(module)
    for part in attribute.split("."):
        target = getattr(target, part)
    return target


def code_of(page: Path) -> list[str]:
    """The page's code: each line of a fenced block, each inline `span`."""
    text = page.read_text()
    blocks = re.findall(r"```[^\n]*\n(.*?)```", text, flags=re.S)
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    spans = re.findall(r"`([^`\n]+)`", prose)
    return [line for block in blocks for line in block.splitlines()] + spans


def unknown_commands(text: str, root: Any) -> list[str]:
    """Each `iiot …` in text whose commands or options the CLI lacks."""
    wrong = []
    for match in COMMAND.finditer(text):
        words, rest = match.group(1).split(), match.group(2)
        command, path = root, ["iiot"]
        for word in words:
            subcommands = getattr(command, "commands", None)
            if not subcommands:  # a command: the rest are its arguments
                rest = " ".join([word, rest])
                break
            names = word.split("|")  # `iiot stack up|down|status`
            missing = [n for n in names if n not in subcommands]
            if missing:
                wrong.append(f"{' '.join(path)} {'|'.join(missing)}")
                break
            command = subcommands[names[0]]
            path.append(word)
        else:
            options = {"--help"}
            for param in command.params:
                options |= set(param.opts) | set(param.secondary_opts)
            for option in OPTION.findall(rest.split("#")[0]):
                if option.split("=")[0] not in options:
                    wrong.append(f"{' '.join(path)} {option}")
    return wrong


@pytest.fixture(scope="module")
def cli() -> Any:
    return typer.main.get_command(entry_point_app())


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_commands_named_exist(page: Path, cli: Any) -> None:
    wrong = [w for code in code_of(page) for w in unknown_commands(code, cli)]
    assert wrong == [], f"{page.relative_to(ROOT)} names what `iiot` does not have: {wrong}"


def test_the_check_finds_what_is_missing(cli: Any) -> None:
    assert unknown_commands("iiot bridge mqtt.yaml --qos 1", cli) == ["iiot bridge"]
    assert unknown_commands("iiot stack up|restart", cli) == ["iiot stack restart"]
    assert unknown_commands("IIOT_X=1 iiot simulate --rate 5", cli) == ["iiot simulate --rate"]
    assert unknown_commands("iiot sink status --schema s", cli) == []
    assert unknown_commands("kubectl -n iiot get pods; iiot.telemetry", cli) == []


def repository_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_nothing_refers_to_a_design_outside_the_repository() -> None:
    referring = [
        str(path.relative_to(ROOT))
        for path in repository_files()
        if path.is_file() and ELSEWHERE.search(path.read_bytes())
    ]
    assert referring == [], f"these refer to a design outside the repository: {referring}"
