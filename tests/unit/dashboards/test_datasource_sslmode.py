"""The Grafana datasource's sslmode is a setting: disable for the local stack's loopback,
require or verify-full wherever Grafana reaches the database over a network."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from cli.main import app
from iiot.settings import Settings, get_settings


def _built_sslmode(out: Path) -> str:
    source = yaml.safe_load((out / "provisioning/datasources/iiot.yaml").read_text())
    return source["datasources"][0]["jsonData"]["sslmode"]


@pytest.fixture
def fresh_settings(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("IIOT_GRAFANA_PG_SSLMODE", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_the_local_stack_builds_it_disabled(fresh_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert Settings(_env_file=None).grafana_pg_sslmode == "disable"  # type: ignore[call-arg]
    result = CliRunner().invoke(app, ["dashboards", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert _built_sslmode(tmp_path) == "disable"


@pytest.mark.parametrize("mode", ["require", "verify-full"])
def test_production_builds_it_as_set(fresh_settings, tmp_path: Path, mode: str) -> None:  # type: ignore[no-untyped-def]
    fresh_settings.setenv("IIOT_GRAFANA_PG_SSLMODE", mode)
    result = CliRunner().invoke(app, ["dashboards", "build", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert _built_sslmode(tmp_path) == mode


def test_a_mode_grafana_does_not_know_is_refused(fresh_settings) -> None:  # type: ignore[no-untyped-def]
    fresh_settings.setenv("IIOT_GRAFANA_PG_SSLMODE", "on")
    with pytest.raises(ValidationError, match="grafana_pg_sslmode"):
        Settings(_env_file=None)  # type: ignore[call-arg]
