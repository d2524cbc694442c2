"""deploy/kubernetes's own scripts run for real: the database init script on a PostgreSQL of
the test's own, the exec probe against the local Kafka and PostgreSQL, and Grafana's init
container's `iiot dashboards build` with the environment the manifests give it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from dashboards.provisioning import PASSWORD_ENV
from iiot.settings import Settings
from sinks.migrate import migrate
from tests.deploy.kube import BASE, container_env, named, sql_of
from tests.deploy.test_compose import REPO
from tests.integration.private_stack import PrivateStack, free_port

# --------------------------------------------------------------------------------------------
# TimescaleDB: deploy/local's roles and grants


def test_database_init_makes_deploy_locals_roles_and_grants() -> None:
    script = (BASE / "timescaledb-init.sh").read_text()
    heredoc = script.split("<<'SQL'\n", 1)[1].split("\nSQL\n", 1)[0]
    ours = [s for s in sql_of(heredoc) if "timescaledb" not in s]
    local = sql_of((REPO / "deploy" / "local" / "postgres" / "bootstrap.sql").read_text())
    development_passwords = re.compile(r" PASSWORD '[^']*'")
    wanted = [
        development_passwords.sub("", s) for s in local if not s.startswith("ALTER ROLE postgres")
    ]
    assert [re.sub(r" PASSWORD :'\w+'", "", s) for s in ours] == wanted
    assert os.access(BASE / "timescaledb-init.sh", os.X_OK)
    subprocess.run(["bash", "-n", str(BASE / "timescaledb-init.sh")], check=True)


@pytest.mark.integration
def test_database_init_on_a_real_postgresql(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The script on a PostgreSQL of this test's own, from no roles and no database: the
    Secret's passwords log in, the migrator migrates, the writer writes rows, the reader reads
    and cannot write."""
    stack = PrivateStack(tmp_path_factory.mktemp("stack"))
    try:
        stack.up("postgres")
        port = stack.ports["PG"]
        admin = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:  # start from nothing
            conn.execute("DROP DATABASE iiot")
            for role in ("iiot_migrator", "iiot_writer", "iiot_reader"):
                conn.execute(f"DROP ROLE {role}")
        chosen = {
            "PG_MIGRATOR_PASSWORD": "m" + uuid.uuid4().hex,
            "PG_WRITER_PASSWORD": "w" + uuid.uuid4().hex,
            "PG_READER_PASSWORD": "r'x y",
        }
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            **chosen,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port),
            "PGPASSWORD": "postgres",
        }
        for _ in range(2):  # idempotent: a second run changes nothing and fails nothing
            subprocess.run(
                ["bash", str(BASE / "timescaledb-init.sh")], env=env, check=True, timeout=60
            )

        def dsn(role: str, password: str) -> str:
            return psycopg.conninfo.make_conninfo(
                host="127.0.0.1", port=port, dbname="iiot", user=role, password=password
            )

        for role in ("iiot_migrator", "iiot_writer"):  # deploy/local's passwords are not valid
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(dsn(role, role))
        migrator = dsn("iiot_migrator", chosen["PG_MIGRATOR_PASSWORD"])
        with psycopg.connect(migrator, autocommit=True) as conn:
            flavour, applied = migrate(conn, "iiot", Settings())
            assert (flavour, bool(applied)) == ("plain", True)  # no TimescaleDB on this server
        writer = psycopg.connect(dsn("iiot_writer", chosen["PG_WRITER_PASSWORD"]), autocommit=True)
        with writer:
            writer.execute("INSERT INTO iiot.city VALUES ('qufu', '曲阜', 'Qufu', 35.6, 116.99)")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                writer.execute("DROP TABLE iiot.city")
        reader = psycopg.connect(dsn("iiot_reader", chosen["PG_READER_PASSWORD"]), autocommit=True)
        with reader:
            assert reader.execute("SELECT count(*) FROM iiot.telemetry").fetchone() == (0,)
            with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
                reader.execute("CREATE TABLE iiot.nope (x int)")
    finally:
        stack.purge()


@pytest.mark.integration
def test_probe_sees_the_services_and_their_absence() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]  # the local stack's

    def probe(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(BASE / "probe.py"), *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)

    up = {
        "IIOT_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "IIOT_PG_WRITER_DSN": settings.pg_writer_dsn,
    }
    result = probe("kafka", "postgres", **up)
    assert result.returncode == 0, f"{result.stderr} — start the services with `iiot stack up`"
    closed = f"127.0.0.1:{free_port()}"
    result = probe("kafka", "postgres", **{**up, "IIOT_KAFKA_BOOTSTRAP": closed})
    assert result.returncode == 1
    assert result.stderr.startswith("kafka does not answer")
    # One broker of the list answering is enough, as for the clients.
    both = f"{closed},{settings.kafka_bootstrap}"
    assert probe("kafka", IIOT_KAFKA_BOOTSTRAP=both).returncode == 0
    assert probe("alive").returncode == 0
    assert probe("zookeeper").returncode == 2


# --------------------------------------------------------------------------------------------
# Grafana: its init container's build, mounted where the provisioning files say


def test_grafana_mounts_what_its_init_container_builds(
    demo: list[dict[str, Any]], tmp_path: Path
) -> None:
    grafana = named(demo, "Deployment")["grafana"]
    spec = grafana["spec"]["template"]["spec"]
    (builder,) = spec["initContainers"]
    (server,) = spec["containers"]
    build_mount = next(m for m in builder["volumeMounts"])
    out = tmp_path / "build"
    script = builder["command"][2].replace(build_mount["mountPath"], str(out))
    env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    env.update({k: v for k, v in container_env(demo, builder).items() if k.startswith("IIOT_")})
    subprocess.run(["sh", "-c", script], env=env, cwd=tmp_path, check=True, timeout=300)

    # Every directory Grafana reads comes from that volume, and exists in the build.
    mounted = {
        m["mountPath"]: m["subPath"]
        for m in server["volumeMounts"]
        if m["name"] == build_mount["name"]
    }
    for target, sub in mounted.items():
        assert (out / sub).is_dir(), f"{target}: the build has no {sub}"
    provisioning = {Path(sub).name for target, sub in mounted.items() if "provisioning" in sub}
    assert provisioning == {p.name for p in (out / "provisioning").iterdir()}
    dashboards_at = next(t for t, sub in mounted.items() if sub == "dashboards")
    providers = yaml.safe_load((out / "provisioning/dashboards/iiot.yaml").read_text())
    for provider in providers["providers"]:
        folder = Path(provider["options"]["path"]).relative_to(dashboards_at)
        assert list((out / "dashboards" / folder).glob("*.json")), provider["name"]

    # The datasource: the timescaledb Service as iiot_reader, the password from Grafana's env.
    (source,) = yaml.safe_load((out / "provisioning/datasources/iiot.yaml").read_text())[
        "datasources"
    ]
    host, port = source["url"].split(":")
    service = named(demo, "Service")[host]
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}
    assert (source["user"], source["jsonData"]["timescaledb"]) == ("iiot_reader", True)
    assert source["secureJsonData"]["password"] == "${" + PASSWORD_ENV + "}"
    password = next(v for v in server["env"] if v["name"] == PASSWORD_ENV)
    assert password["valueFrom"]["secretKeyRef"]["key"] == "PG_READER_PASSWORD"
