"""deploy/compose held against the project.

No Docker engine runs on these machines, so the file is checked the way it can be: Debian's
`docker-compose config` (which needs no engine) must accept it with .env.example, and what
it resolves must agree with the local stack (Kafka version and broker settings, roles), the
settings the pipeline reads, the `iiot` commands and `iiot dashboards build`'s output.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from typer.main import get_command

from cli.main import app
from dashboards.provisioning import PASSWORD_ENV
from iiot.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE_DIR = REPO / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_EXAMPLE = COMPOSE_DIR / ".env.example"
LOCAL = REPO / "deploy" / "local"

INFRA = {"kafka", "timescaledb", "grafana"}
ONE_SHOTS = {"topics", "migrate", "dashboards"}
PIPELINE = ONE_SHOTS | {"simulator", "stream", "sink"}
# Broker settings that name addresses, ports or paths: these differ from deploy/local's on
# purpose (a container network instead of loopback) and are checked for coherence instead.
KAFKA_ADDRESS_KEYS = {
    "listeners",
    "advertised.listeners",
    "controller.quorum.voters",
    "listener.security.protocol.map",
    "log.dirs",
}
GRAFANA_PROVISIONING = "/etc/grafana/provisioning"  # unless GF_PATHS_PROVISIONING says else


def compose_config(env_file: Path) -> subprocess.CompletedProcess[str]:
    """`docker-compose config` in a clean environment: only env_file sets the variables."""
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail(
            "docker-compose is not installed; `make install` installs it "
            "(deploy/local/stack.sh tools: apt-get install docker-compose)"
        )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(env_file.parent)}
    command = [exe, "-f", str(COMPOSE_FILE), "--env-file", str(env_file), "config"]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def resolved(env_file: Path) -> dict[str, Any]:
    result = compose_config(env_file)
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    return yaml.safe_load(result.stdout)


def key_values(text: str) -> dict[str, str]:
    """`KEY=value` lines (a .env file, a .properties file); comments and blanks skipped."""
    lines = (line.strip() for line in text.splitlines())
    pairs = (line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def env_example() -> dict[str, str]:
    return key_values(ENV_EXAMPLE.read_text())


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return resolved(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return config["services"]


def environment(service: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in (service.get("environment") or {}).items()}


def mounts(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source, target, mode) of each volume, as `config` prints them (short syntax)."""
    parts = (str(v).split(":") for v in service.get("volumes") or [])
    return [(p[0], p[1], p[2] if len(p) > 2 else "rw") for p in parts]


def published(service: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(host ip, host port, container port) of each published port, short or long syntax."""
    result = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            result.append((port.get("host_ip", ""), int(port["published"]), int(port["target"])))
            continue
        *host, target = str(port).split("/")[0].split(":")
        ip = host[0] if len(host) == 2 else ""
        result.append((ip, int(host[-1]), int(target)))
    return result


def listeners(value: str) -> dict[str, tuple[str, int]]:
    """`NAME://host:port,…` → {NAME: (host, port)}."""
    found = {}
    for item in value.split(","):
        name, address = item.split("://")
        host, port = address.rsplit(":", 1)
        found[name] = (host, int(port))
    return found


def local_kafka_version() -> str:
    pom = ET.parse(LOCAL / "kafka" / "pom.xml").getroot()
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = pom.find("m:properties/m:kafka.version", ns)
    assert version is not None and version.text, "deploy/local/kafka/pom.xml has no kafka.version"
    return version.text.strip()


def local_server_properties() -> dict[str, str]:
    return key_values((LOCAL / "kafka" / "server.properties").read_text())


def kafka_env_name(key: str) -> str:
    """The apache/kafka image's mapping of a property to its environment variable."""
    return "KAFKA_" + key.replace("-", "___").replace("_", "__").replace(".", "_").upper()


# --------------------------------------------------------------------------------------------
# The file as a whole


def test_config_accepts_the_file_with_env_example(services: dict[str, Any]) -> None:
    assert set(services) == INFRA | PIPELINE


@pytest.mark.parametrize("variable", sorted(k for k in env_example() if k.endswith("PASSWORD")))
def test_a_missing_password_stops_compose(tmp_path: Path, variable: str) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env_example().items() if k != variable))
    result = compose_config(env_file)
    assert result.returncode != 0
    assert f"set {variable} in .env" in result.stderr


def test_no_literal_secret_in_the_file(tmp_path: Path) -> None:
    raw_text = COMPOSE_FILE.read_text()
    raw = yaml.safe_load(raw_text)  # anchors expanded, nothing interpolated
    reference = re.compile(r"\$\{[A-Z_]+:\?[^}]+\}")  # required: no default to fall back on
    for name, service in raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search("PASSWORD|SECRET|TOKEN", key):
                assert reference.fullmatch(str(value)), f"{name}: {key} is not ${{VAR:?…}}"
            password = urlsplit(str(value)).password if "://" in str(value) else None
            if password is not None:
                assert reference.fullmatch(password), f"{name}: {key} has a literal password"
    for key, value in env_example().items():
        if key.endswith("PASSWORD"):
            assert value not in raw_text
    # The passwords in use are whatever .env holds.
    chosen = {k: secrets.token_urlsafe(12) for k in env_example() if k.endswith("PASSWORD")}
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in chosen.items()))
    services = resolved(env_file)["services"]
    writer = urlsplit(environment(services["sink"])["IIOT_PG_WRITER_DSN"]).password
    assert writer == chosen["WRITER_PASSWORD"]
    migrator = urlsplit(environment(services["migrate"])["IIOT_PG_MIGRATOR_DSN"]).password
    assert migrator == chosen["MIGRATOR_PASSWORD"]
    assert environment(services["grafana"])[PASSWORD_ENV] == chosen["READER_PASSWORD"]
    db = environment(services["timescaledb"])
    assert db["POSTGRES_PASSWORD"] == chosen["POSTGRES_PASSWORD"]
    assert (
        environment(services["grafana"])["GF_SECURITY_ADMIN_PASSWORD"]
        == (chosen["GRAFANA_ADMIN_PASSWORD"])
    )


# --------------------------------------------------------------------------------------------
# Kafka: the local stack's version and settings, and one address for every client


def test_kafka_is_the_local_stacks_version(services: dict[str, Any]) -> None:
    assert services["kafka"]["image"] == f"apache/kafka:{local_kafka_version()}"


def test_kafka_broker_settings_are_the_local_stacks(services: dict[str, Any]) -> None:
    env = environment(services["kafka"])
    local = local_server_properties()
    assert {k for k in env if k.startswith("KAFKA_")} == {kafka_env_name(k) for k in local}
    for key, value in local.items():
        if key not in KAFKA_ADDRESS_KEYS:
            assert env[kafka_env_name(key)] == value, key
    assert env["CLUSTER_ID"], "KRaft storage is formatted with CLUSTER_ID"


def test_clients_use_the_in_network_listener(services: dict[str, Any]) -> None:
    env = environment(services["kafka"])
    bound = listeners(env["KAFKA_LISTENERS"])
    advertised = listeners(env["KAFKA_ADVERTISED_LISTENERS"])
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(bound) == set(protocols)
    # The controller listens where the quorum says, under the kafka service's name.
    node, voter = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split("@")
    assert node == env["KAFKA_NODE_ID"]
    assert voter == f"kafka:{bound[env['KAFKA_CONTROLLER_LISTENER_NAMES']][1]}"
    for name, (_, port) in advertised.items():
        assert bound[name][1] == port, f"{name} is advertised on a port it does not bind"
    internal = ":".join(map(str, advertised[env["KAFKA_INTER_BROKER_LISTENER_NAME"]]))
    assert internal == "kafka:9092"
    for name in PIPELINE:
        assert environment(services[name])["IIOT_KAFKA_BOOTSTRAP"] == internal, name
    assert internal in services["kafka"]["healthcheck"]["test"][-1]
    # What is published to the host is a listener that advertises the host's address.
    host_side = {port: name for name, (host, port) in advertised.items() if host == "localhost"}
    for ip, host_port, container_port in published(services["kafka"]):
        assert ip == "127.0.0.1"
        assert host_port == container_port and container_port in host_side


# --------------------------------------------------------------------------------------------
# PostgreSQL: the roles of deploy/local, reached by the service's name


def test_database_addresses_and_roles(services: dict[str, Any]) -> None:
    db = services["timescaledb"]
    db_env = environment(db)
    assert re.fullmatch(r"timescale/timescaledb:[\d.]+-pg(\d+)", db["image"])
    assert int(db["image"].rsplit("-pg", 1)[1]) >= 15
    bootstrap = (LOCAL / "postgres" / "bootstrap.sql").read_text()
    roles = set(re.findall(r"CREATE ROLE (\w+)", bootstrap))
    container_ports = {target for _, _, target in published(db)}
    assert container_ports == {5432}
    passwords = {
        "iiot_migrator": db_env["MIGRATOR_PASSWORD"],
        "iiot_writer": db_env["WRITER_PASSWORD"],
        "iiot_reader": db_env["READER_PASSWORD"],
    }
    dsns = [
        (name, value)
        for name in PIPELINE
        for key, value in environment(services[name]).items()
        if key.startswith("IIOT_PG_") and key.endswith("_DSN")
    ]
    # One role per job: the schema's owner migrates, the sink writes rows, Grafana reads.
    users = {name: urlsplit(dsn).username for name, dsn in dsns}
    assert users == {"migrate": "iiot_migrator", "sink": "iiot_writer", "dashboards": "iiot_reader"}
    for name, dsn in dsns:
        parts = urlsplit(dsn)
        assert (parts.hostname, parts.port) == ("timescaledb", 5432), name
        assert parts.path.lstrip("/") == db_env["POSTGRES_DB"], name
        assert parts.username in roles, name
        if parts.password is not None:
            assert parts.password == passwords[parts.username], name
    # The init script runs deploy/local's bootstrap.sql: the same roles and grants.
    binds = {target: Path(source) for source, target, _ in mounts(db) if source.startswith("/")}
    assert binds["/iiot/bootstrap.sql"] == LOCAL / "postgres" / "bootstrap.sql"
    init = binds["/docker-entrypoint-initdb.d/100_iiot_roles.sh"]
    assert init.is_file() and os.access(init, os.X_OK)
    subprocess.run(["bash", "-n", str(init)], check=True)
    assert all(ip == "127.0.0.1" for ip, _, _ in published(db))


def test_every_port_is_published_on_loopback_by_default(services: dict[str, Any]) -> None:
    """Nothing answers beyond this host unless .env says so: Grafana, Kafka, PostgreSQL."""
    found = {name: published(service) for name, service in services.items()}
    assert {name for name, ports in found.items() if ports} == INFRA
    for name, ports in found.items():
        assert all(ip == "127.0.0.1" for ip, _, _ in ports), f"{name}: {ports}"


def test_grafana_is_opened_to_the_network_only_on_purpose(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_EXAMPLE.read_text() + "GRAFANA_BIND=0.0.0.0\nGRAFANA_PORT=8080\n")
    services = resolved(env_file)["services"]
    assert published(services["grafana"]) == [("0.0.0.0", 8080, 3000)]
    for name in INFRA - {"grafana"}:  # the others stay on loopback
        assert all(ip == "127.0.0.1" for ip, _, _ in published(services[name])), name


# --------------------------------------------------------------------------------------------
# The pipeline's services: one image, real commands, settings the pipeline reads


def test_pipeline_services_share_one_build_and_image(services: dict[str, Any]) -> None:
    built = {name for name, service in services.items() if "build" in service}
    assert built == PIPELINE
    images = {
        (services[n]["build"]["context"], services[n]["build"]["dockerfile"], services[n]["image"])
        for n in PIPELINE
    }
    assert len(images) == 1, images
    ((context, dockerfile, _),) = images
    assert Path(context) == REPO
    text = (REPO / dockerfile).read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    # the versions the tests ran with (constraints.txt), not the newest on build day
    assert re.search(r"^RUN pip install -c /tmp/src/constraints\.txt /tmp/src", text, re.M)
    assert re.search(r'^ENTRYPOINT \["iiot"\]$', text, re.M)
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    assert all("entrypoint" not in services[n] for n in PIPELINE)


def test_the_pipeline_stops_on_dockers_own_sigterm(services: dict[str, Any]) -> None:
    """`docker stop` sends SIGTERM, which the parts stop on as on Ctrl-C (cli/signals.py)."""
    assert {n: services[n].get("stop_signal", "SIGTERM") for n in PIPELINE} == dict.fromkeys(
        PIPELINE, "SIGTERM"
    )


def test_the_build_context_holds_every_package() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = {
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    allowed = set((REPO / ".dockerignore").read_text().split())
    assert "*" in allowed  # everything else stays out (.venv, .stack, node_modules)
    files = {"pyproject.toml", "constraints.txt", pyproject["project"]["readme"]}
    for needed in {f"{p}/" for p in packages} | files:
        assert f"!{needed}" in allowed, needed


def resolve(args: list[str]) -> Any:
    """Parse `iiot <args>` as the CLI would, down to the command it runs; raises on bad args.
    (Typer carries its own copy of click, so groups are told by what they can do.)"""
    command = get_command(app)
    ctx = command.make_context("iiot", list(args))
    while hasattr(command, "resolve_command"):
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        if not rest:
            assert command.invoke_without_command, f"iiot {' '.join(args)} names no command"
            break
        _, sub, sub_args = command.resolve_command(ctx, rest)
        assert sub is not None
        command, ctx = sub, sub.make_context(sub.name, sub_args, parent=ctx)
    return ctx


@pytest.mark.parametrize("name", sorted(PIPELINE))
def test_commands_are_iiot_commands(services: dict[str, Any], name: str) -> None:
    ctx = resolve(services[name]["command"])
    expected = {
        "topics": "iiot topics create",
        "migrate": "iiot db migrate",
        "dashboards": "iiot dashboards build",
        "simulator": "iiot simulate",
        "stream": "iiot stream",
        "sink": "iiot sink",
    }
    assert ctx.command_path == expected[name]


@pytest.mark.parametrize("name", sorted(PIPELINE))
def test_env_names_are_settings_the_pipeline_reads(
    services: dict[str, Any], name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = {f"IIOT_{field.upper()}" for field in Settings.model_fields}
    env = {k: v for k, v in environment(services[name]).items() if k.startswith("IIOT_")}
    for key in env:
        assert key.split("__")[0] in fields, f"{name}: {key} is no setting"
    for key in [k for k in os.environ if k.startswith("IIOT_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]  # the values validate
    assert settings.kafka_bootstrap == env["IIOT_KAFKA_BOOTSTRAP"]


def test_other_services_carry_no_pipeline_settings(services: dict[str, Any]) -> None:
    for name in INFRA:
        names = {k for k in environment(services[name]) if k.startswith("IIOT_")}
        assert names == ({PASSWORD_ENV} if name == "grafana" else set()), name


def test_stream_workers_scale(services: dict[str, Any]) -> None:
    stream = services["stream"]
    for fixed in ("container_name", "ports", "hostname"):
        assert fixed not in stream, f"{fixed} would stop `--scale stream=N`"
    assert stream.get("restart") != "no"
    assert int(environment(stream)["IIOT_TELEMETRY_PARTITIONS"]) >= 2


def test_order_of_start(services: dict[str, Any]) -> None:
    for name in INFRA:
        assert services[name]["healthcheck"]["test"], f"{name} has no health check"
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            wanted = (
                "service_completed_successfully" if dependency in ONE_SHOTS else "service_healthy"
            )
            assert rule["condition"] == wanted, f"{name} → {dependency}"
    for name in ONE_SHOTS:
        assert services[name]["restart"] == "no", name

    def before(name: str) -> set[str]:
        direct = set(services[name].get("depends_on") or {})
        return direct.union(*(before(d) for d in direct))

    assert {"topics", "kafka"} <= before("simulator") & before("stream") & before("sink")
    assert {"migrate", "timescaledb"} <= before("sink") & before("grafana")
    assert "dashboards" in before("grafana")


def test_state_lives_in_named_volumes(config: dict[str, Any]) -> None:
    services, declared = config["services"], set(config["volumes"])
    used = {source for s in services.values() for source, _, _ in mounts(s) if "/" not in source}
    assert used == declared
    data_dirs = {
        "kafka": environment(services["kafka"])["KAFKA_LOG_DIRS"],
        "timescaledb": "/var/lib/postgresql/data",
        "grafana": "/var/lib/grafana",
        "simulator": str(Path(environment(services["simulator"])["IIOT_SPOOL_PATH"]).parent),
    }
    for name, directory in data_dirs.items():
        targets = {target: source for source, target, _ in mounts(services[name])}
        assert targets.get(directory) in declared, f"{name}: {directory} is no named volume"


# --------------------------------------------------------------------------------------------
# Grafana mounts exactly what `iiot dashboards build` writes


def test_grafana_mounts_what_dashboards_build_writes(
    services: dict[str, Any], tmp_path: Path
) -> None:
    builder, grafana = services["dashboards"], services["grafana"]
    args = list(builder["command"])
    out = args[args.index("--out") + 1]
    args[args.index("--out") + 1] = str(tmp_path / "grafana")
    env = {"PATH": os.environ.get("PATH", ""), **environment(builder)}
    subprocess.run(
        [sys.executable, "-m", "cli", *args], env=env, cwd=tmp_path, check=True, timeout=300
    )
    built = tmp_path / "grafana"

    # Every directory the build writes lands in a volume of the builder …
    volume_at = {
        target: source for source, target, _ in mounts(builder) if target.startswith(out + "/")
    }
    written_dirs = {p.name for p in built.iterdir() if p.is_dir()}
    assert {Path(t).name for t in volume_at} == written_dirs == {"provisioning", "dashboards"}
    assert {p.name for p in built.iterdir() if p.is_file()} == {"manifest.json"}  # for check/push

    # … and Grafana mounts those volumes, read-only, and nothing else but its own data.
    grafana_at = {source: (target, mode) for source, target, mode in mounts(grafana)}
    provisioning_volume = volume_at[f"{out}/provisioning"]
    dashboards_volume = volume_at[f"{out}/dashboards"]
    assert set(grafana_at) == {provisioning_volume, dashboards_volume, "grafana-data"}
    provisioning_path = environment(grafana).get("GF_PATHS_PROVISIONING", GRAFANA_PROVISIONING)
    assert grafana_at[provisioning_volume] == (provisioning_path, "ro")
    dashboards_target, mode = grafana_at[dashboards_volume]
    assert mode == "ro"

    # The providers point at the folders as Grafana sees them, one provider per folder built.
    providers = yaml.safe_load((built / "provisioning/dashboards/iiot.yaml").read_text())
    paths = {p["options"]["path"] for p in providers["providers"]}
    folders = {p.name for p in (built / "dashboards").iterdir() if p.is_dir()}
    assert paths == {f"{dashboards_target}/{folder}" for folder in folders}
    for dashboard in (built / "dashboards").glob("*/*.json"):
        assert f"{dashboards_target}/{dashboard.parent.name}" in paths

    # The datasource reaches TimescaleDB by its service name, as the read-only role, with the
    # password Grafana's environment holds: the one the database gave iiot_reader.
    (source,) = yaml.safe_load((built / "provisioning/datasources/iiot.yaml").read_text())[
        "datasources"
    ]
    db_env = environment(services["timescaledb"])
    assert source["url"] == "timescaledb:5432"
    assert (source["user"], source["jsonData"]["database"]) == (
        "iiot_reader",
        db_env["POSTGRES_DB"],
    )
    assert source["jsonData"]["timescaledb"] is True
    assert source["secureJsonData"]["password"] == "${" + PASSWORD_ENV + "}"
    assert environment(grafana)[PASSWORD_ENV] == db_env["READER_PASSWORD"]
    assert any(target == 3000 for _, _, target in published(grafana))
