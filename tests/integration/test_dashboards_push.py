"""`iiot dashboards push` against a small local Grafana (127.0.0.1, in-test) that answers
with the status codes and bodies Grafana documents, the error cases included."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from dashboards.api import PushError, connect, push
from dashboards.catalog import SPECS
from dashboards.context import Build
from dashboards.provisioning import PASSWORD_ENV, Database, write
from tests.integration.fake_grafana import TOKEN, FakeGrafana, serve

pytestmark = pytest.mark.integration


@pytest.fixture
def build_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(PASSWORD_ENV, "reader-secret")
    write(tmp_path, Build(timescaledb=True), Database())
    return tmp_path


@pytest.fixture
def grafana() -> Iterator[FakeGrafana]:
    with serve(FakeGrafana()) as running:
        yield running


def _with_user(url: str, user: str = "admin:admin") -> str:
    return url.replace("http://", f"http://{user}@")


def test_push_creates_then_overwrites_by_uid(build_dir: Path, grafana: FakeGrafana) -> None:
    report = push(connect(_with_user(grafana.url)), build_dir)
    assert report.version == "11.3.0"
    assert grafana.requests[:2] == ["GET /api/health", "GET /api/org"]  # before any write
    assert set(grafana.folders) == {"iiot-operations", "iiot-platform"}
    source = grafana.datasources["iiot-postgres"]
    assert source["secureJsonData"] == {"password": "reader-secret"}
    assert source["jsonData"]["timescaledb"] is True
    built = {spec.uid for spec in SPECS}
    assert {"iiot-province", "iiot-andon", "iiot-pipeline"} <= built
    assert set(grafana.dashboards) == set(report.dashboards) == built
    saved = grafana.dashboards["iiot-pipeline"]
    assert (saved["folderUid"], saved["overwrite"]) == ("iiot-platform", True)

    grafana.requests.clear()
    push(connect(grafana.url, token=TOKEN), build_dir)  # again, with a token: overwritten
    assert "PUT /api/folders/iiot-operations" in grafana.requests
    assert "PUT /api/datasources/uid/iiot-postgres" in grafana.requests
    assert "POST /api/datasources" not in grafana.requests
    assert len(grafana.dashboards) == len(SPECS)
    assert grafana.dashboards["iiot-province"]["version"] == 2


def test_unreachable(build_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once closed
    with pytest.raises(PushError, match=r"^Grafana at http://127\.0\.0\.1:\d+ is unreachable"):
        push(connect(f"http://127.0.0.1:{port}", timeout_s=2), build_dir)


def test_unauthorised_writes_nothing(build_dir: Path, grafana: FakeGrafana) -> None:
    with pytest.raises(PushError, match=r"refused the credentials \(401\).*IIOT_GRAFANA_TOKEN"):
        push(connect(_with_user(grafana.url, "admin:wrong")), build_dir)
    assert grafana.requests == ["GET /api/health", "GET /api/org"]


@pytest.mark.parametrize("version", ["9.5.2", "10.3.1"])
def test_version_mismatch(build_dir: Path, version: str) -> None:
    with serve(FakeGrafana(version=version)) as grafana:
        with pytest.raises(PushError, match=rf"Grafana {version} is too old: .* 10\.4 or newer"):
            push(connect(_with_user(grafana.url)), build_dir)
        assert grafana.requests == ["GET /api/health"]


@pytest.mark.parametrize(
    ("fail", "message"),
    [
        ({"GET /api/health": (200, "<html>not grafana</html>")}, "did not answer like Grafana"),
        ({"GET /api/health": (503, {"message": "database down"})},
         "failed on the health check: 503 database down"),
        ({"POST /api/dashboards/db": (403, {"message": "Access denied"})},
         r"forbids saving dashboard iiot-province \(403\)"),
        ({"POST /api/dashboards/db": (412, {"message": "The dashboard has been changed by "
                                            "someone else", "status": "version-mismatch"})},
         "rejected saving dashboard iiot-province: 412 The dashboard has been changed"),
        ({"POST /api/datasources": (409, {"message": "data source with the same name already "
                                          "exists"})}, "rejected creating datasource"),
    ],
)  # fmt: skip
def test_grafana_errors_are_one_line(
    build_dir: Path, grafana: FakeGrafana, fail: dict[str, tuple[int, object]], message: str
) -> None:
    grafana.fail = fail
    with pytest.raises(PushError, match=message) as caught:
        push(connect(_with_user(grafana.url)), build_dir)
    assert "\n" not in str(caught.value)


def test_database_not_ok(build_dir: Path) -> None:
    with (
        serve(FakeGrafana(database="failing")) as grafana,
        pytest.raises(PushError, match="reports its database as 'failing'"),
    ):
        push(connect(grafana.url), build_dir)


def test_password_must_come_from_the_environment(
    build_dir: Path, grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV)
    with pytest.raises(PushError, match=f"set {PASSWORD_ENV}"):
        push(connect(_with_user(grafana.url)), build_dir)
    assert grafana.datasources == {}


def test_cli_push_prints_one_error_line(
    build_dir: Path, grafana: FakeGrafana, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["dashboards", "push", "-o", str(build_dir), "--url",
                             _with_user(grafana.url)])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "Grafana 11.3.0" in ok.output
    bad = runner.invoke(app, ["dashboards", "push", "-o", str(build_dir), "--url",
                              _with_user(grafana.url, "admin:nope")])  # fmt: skip
    assert bad.exit_code == 1
    lines = [line for line in bad.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: Grafana at")
