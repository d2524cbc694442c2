"""`iiot …` run in-process as a user would run it, its settings read from the environment
given: `get_settings()` is cached for the process, and an earlier test's would be used."""

from __future__ import annotations

from click.testing import Result
from typer.testing import CliRunner

from cli.main import app
from iiot.settings import get_settings


def iiot(*args: str, env: dict[str, str] | None = None) -> Result:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()
