"""deploy/kubernetes held against Kubernetes and against the project.

No cluster runs here, so the manifests are checked the way they can be, offline: kustomize
(built by `make install` from the Go module proxy) renders the base and the demo overlay, and
every object it renders must validate against the Kubernetes JSON schemas that the
kubernetes-validate wheel ships (strict: an unknown field fails). Then what the schemas cannot
see: references resolve, the env names are settings the pipeline reads and their values
validate, the stream workers scale to the telemetry partitions and no further, Kafka is the
local stack's version, every container has resources (and probes where it runs for long).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import psycopg
import pytest
import yaml

from dashboards.provisioning import PASSWORD_ENV
from iiot.settings import Settings
from sinks.migrate import migrate, statements
from tests.deploy.test_compose import (
    KAFKA_ADDRESS_KEYS,
    REPO,
    kafka_env_name,
    key_values,
    local_kafka_version,
    local_server_properties,
    resolve,
)
from tests.integration.private_stack import PrivateStack, free_port

K8S = REPO / "deploy" / "kubernetes"
BASE = K8S / "base"
OVERLAYS = ("base", "demo")
KUSTOMIZE = Path(sys.executable).parent / "kustomize"  # make install puts it beside python
# The oldest Kubernetes the README promises (the pod-index label Kafka's node ids come from is
# on by default from 1.28) and the newest the validator has schemas for.
K8S_VERSIONS = ("1.28.0", kubernetes_validate.latest_version())
PIPELINE_IMAGE = "iiot-pipeline"
WORKLOADS = {"Deployment", "StatefulSet", "Job", "CronJob"}
ONE_SHOTS = {"Job", "CronJob"}  # run to completion: resources, but no probes
# Kafka settings that follow the number of brokers here, not deploy/local's single one.
KAFKA_REPLICATION_KEYS = {
    "default.replication.factor",
    "offsets.topic.replication.factor",
    "transaction.state.log.replication.factor",
    "share.coordinator.state.topic.replication.factor",
    "min.insync.replicas",
    "transaction.state.log.min.isr",
    "share.coordinator.state.topic.min.isr",
}
KAFKA_SIZING_KEYS = {"num.network.threads", "num.io.threads", "node.id"}  # Kafka's defaults


def render(overlay: str, workdir: Path) -> list[dict[str, Any]]:
    """`kustomize build` of a copy of deploy/kubernetes, its secrets.env from the example."""
    if not KUSTOMIZE.exists():
        pytest.fail(f"kustomize is not installed at {KUSTOMIZE}; `make install` builds it")
    tree = workdir / overlay / "kubernetes"
    shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("secrets.env"))
    shutil.copy(tree / "base" / "secrets.env.example", tree / "base" / "secrets.env")
    result = subprocess.run(
        [str(KUSTOMIZE), "build", str(tree / overlay)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"kustomize build {overlay} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def objects(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return render(request.param, tmp_path_factory.mktemp("kustomize"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render("demo", tmp_path_factory.mktemp("kustomize"))


def named(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def pod_template(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    return (
        spec["jobTemplate"]["spec"]["template"]
        if workload["kind"] == "CronJob"
        else spec["template"]
    )


def pod_specs(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, its pod spec) of every Deployment, StatefulSet, Job and CronJob."""
    for o in objects:
        if o["kind"] in WORKLOADS:
            yield o, pod_template(o)["spec"]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def label(workload: dict[str, Any], container: dict[str, Any]) -> str:
    return f"{workload['kind']}/{workload['metadata']['name']}: {container['name']}"


def config_data(objects: list[dict[str, Any]], ref: str) -> dict[str, str]:
    return named(objects, "ConfigMap")[ref]["data"]


def container_env(objects: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The environment a container gets: envFrom ConfigMaps, then env, with $(VAR) expanded and
    secrets taken from secrets.env.example (as the rendered Secret holds them)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_data(objects, source["configMapRef"]["name"]))
    secrets = key_values((BASE / "secrets.env.example").read_text())
    for var in container.get("env", []):
        if "value" in var:
            value = re.sub(
                r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env[m.group(1)], var["value"]
            )
        elif "secretKeyRef" in var["valueFrom"]:
            value = secrets[var["valueFrom"]["secretKeyRef"]["key"]]
        else:
            value = "<from the pod>"  # fieldRef: filled in by the kubelet
        env[var["name"]] = value
    return env


def pipeline_containers(objects: list[dict[str, Any]]) -> Iterator[tuple[Any, Any]]:
    for workload, spec in pod_specs(objects):
        for container in containers(spec):
            if container["image"].split(":")[0] == PIPELINE_IMAGE:
                yield workload, container


def generated(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """A ConfigMap or Secret that kustomize generated: its name got a hash suffix."""
    (found,) = [o for n, o in named(objects, kind).items() if n.rsplit("-", 1)[0] == name]
    return found


def telemetry_partitions(objects: list[dict[str, Any]]) -> int:
    value = generated(objects, "ConfigMap", "iiot-config")["data"]["IIOT_TELEMETRY_PARTITIONS"]
    return Settings(telemetry_partitions=int(value)).telemetry_partitions


# --------------------------------------------------------------------------------------------
# Kubernetes: the schemas, and the references the schemas cannot see


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_validates_against_the_kubernetes_schemas(
    objects: list[dict[str, Any]], version: str
) -> None:
    problems = []
    for o in objects:
        where = f"{o['kind']}/{o['metadata']['name']}"
        try:
            kubernetes_validate.validate(o, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{where} at {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:  # e.g. a custom resource
            problems.append(f"{where}: {exc.message}")
    assert problems == []


def test_the_validator_rejects_a_broken_manifest(objects: list[dict[str, Any]]) -> None:
    """The check above can fail: a misspelt field and a wrong type are caught."""
    workload = named(objects, "Deployment")["stream"]
    broken = yaml.safe_load(yaml.safe_dump(workload))
    broken["spec"]["template"]["spec"]["containres"] = broken["spec"]["template"]["spec"].pop(
        "containers"
    )
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)
    broken = yaml.safe_load(yaml.safe_dump(workload))
    broken["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


def test_everything_lives_in_the_namespace(objects: list[dict[str, Any]]) -> None:
    (namespace,) = named(objects, "Namespace")
    for o in objects:
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == namespace, o["metadata"]["name"]
        assert o["metadata"]["labels"]["app.kubernetes.io/part-of"] == "iiot-pipeline"


def test_references_resolve(objects: list[dict[str, Any]]) -> None:
    config_maps, secrets = named(objects, "ConfigMap"), named(objects, "Secret")
    claim_objects = named(objects, "PersistentVolumeClaim")
    for workload, spec in pod_specs(objects):
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        claims = {c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates", [])}
        for volume in volumes.values():
            if "persistentVolumeClaim" in volume:
                assert volume["persistentVolumeClaim"]["claimName"] in claim_objects
            if "configMap" in volume:
                data = config_maps[volume["configMap"]["name"]]["data"]
                for item in volume["configMap"].get("items", []):
                    assert item["key"] in data
        for container in containers(spec):
            where = label(workload, container)
            defined: set[str] = set()
            for source in container.get("envFrom", []):
                defined |= set(config_maps[source["configMapRef"]["name"]]["data"])
            for var in container.get("env", []):
                for used in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", var.get("value", "")):
                    assert used in defined, f"{where}: {var['name']} uses $({used}) before it"
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]]["data"], f"{where}: {ref}"
                defined.add(var["name"])
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes or mount["name"] in claims, f"{where}: {mount}"
                volume = volumes.get(mount["name"], {})
                if "subPath" in mount and "configMap" in volume:
                    data = config_maps[volume["configMap"]["name"]]["data"]
                    assert mount["subPath"] in data, f"{where}: {mount}"
            ports = {p["name"] for p in container.get("ports", [])}
            for probe in ("readinessProbe", "livenessProbe"):
                action = container.get(probe, {}).get("httpGet") or container.get(probe, {}).get(
                    "tcpSocket"
                )
                if action and isinstance(action["port"], str):
                    assert action["port"] in ports, f"{where}: {probe} port {action['port']}"


def test_selectors_select(objects: list[dict[str, Any]]) -> None:
    templates = {
        w["metadata"]["name"]: (pod_template(w)["metadata"]["labels"], spec)
        for w, spec in pod_specs(objects)
    }
    for workload, _ in pod_specs(objects):
        if workload["kind"] not in ONE_SHOTS:
            selector = workload["spec"]["selector"]["matchLabels"]
            labels, _ = templates[workload["metadata"]["name"]]
            assert selector.items() <= labels.items(), workload["metadata"]["name"]
    for name, service in named(objects, "Service").items():
        selector = service["spec"]["selector"]
        matched = [
            spec for labels, spec in templates.values() if selector.items() <= labels.items()
        ]
        assert len(matched) == 1, f"Service {name} selects {len(matched)} workloads"
        ports = {
            p["name"]: p["containerPort"] for c in matched[0]["containers"] for p in c["ports"]
        }
        for port in service["spec"]["ports"]:
            target = port.get("targetPort", port["port"])
            assert target in ports or target in ports.values(), f"Service {name}: {port}"
    for sts in named(objects, "StatefulSet").values():
        assert sts["spec"]["serviceName"] in named(objects, "Service")


# --------------------------------------------------------------------------------------------
# Every container: resources, probes, pinned images


def test_every_container_has_resources_and_probes(objects: list[dict[str, Any]]) -> None:
    for workload, spec in pod_specs(objects):
        long_running = workload["kind"] not in ONE_SHOTS
        for container in containers(spec):
            where = label(workload, container)
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), where
            assert "memory" in resources.get("limits", {}), where
            # Init containers and Jobs run to completion: a probe has nothing to say there.
            if long_running and container in spec["containers"]:
                assert "readinessProbe" in container and "livenessProbe" in container, where


def test_images_are_pinned(objects: list[dict[str, Any]]) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    for workload, spec in pod_specs(objects):
        for container in containers(spec):
            name, _, tag = container["image"].partition(":")
            if name == PIPELINE_IMAGE:
                assert tag == version, f"{label(workload, container)}: {container['image']}"
            else:
                assert tag and tag != "latest", f"{label(workload, container)} is not pinned"


def test_third_party_images_are_the_compose_files() -> None:
    """One version of Kafka, TimescaleDB and Grafana, whichever way the pipeline is deployed."""
    compose = yaml.safe_load((REPO / "deploy" / "compose" / "docker-compose.yml").read_text())
    wanted = {s["image"] for s in compose["services"].values() if "build" not in s}
    found = set()
    for manifest in BASE.glob("*.yaml"):
        found |= set(re.findall(r"^\s+image: (\S+/\S+)$", manifest.read_text(), re.M))
    assert found == wanted


def test_pipeline_commands_are_iiot_commands(objects: list[dict[str, Any]]) -> None:
    for workload, container in pipeline_containers(objects):
        command = container["command"]
        if command[:2] == ["sh", "-c"]:
            runs = [part.split() for part in command[2].split("&&")]
        else:
            runs = [command]
        for run in runs:
            assert run[0] == "iiot", label(workload, container)
            resolve(run[1:])  # parses as the CLI would: the command and its options exist


# --------------------------------------------------------------------------------------------
# The pipeline's settings


def test_env_names_are_settings_and_their_values_validate(
    objects: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    fields = {f"IIOT_{field.upper()}" for field in Settings.model_fields}
    for key in [k for k in os.environ if k.startswith("IIOT_")]:
        monkeypatch.delenv(key)
    for workload, container in pipeline_containers(objects):
        env = container_env(objects, container)
        where = label(workload, container)
        iiot = {k: v for k, v in env.items() if k.startswith("IIOT_")}
        for key in iiot:
            assert key.split("__")[0] in fields, f"{where}: {key} is no setting"
        with monkeypatch.context() as m:
            for key, value in iiot.items():
                m.setenv(key, value)
            settings = Settings(_env_file=None)  # type: ignore[call-arg]
        assert settings.kafka_bootstrap == "kafka:9092", where
        if "IIOT_PG_WRITER_DSN" in iiot:
            assert settings.pg_writer_dsn.startswith("postgresql://iiot_writer:change-me-writer@")
        # A name that is not a setting only feeds a $(VAR) of another (a password).
        for key in set(env) - set(iiot):
            assert any(f"$({key})" in v.get("value", "") for v in container.get("env", [])), key


def test_only_grafana_reads_the_readers_password(objects: list[dict[str, Any]]) -> None:
    for workload, spec in pod_specs(objects):
        for container in spec["containers"]:
            if container["image"].split(":")[0] == PIPELINE_IMAGE:
                continue
            names = {v["name"] for v in container.get("env", []) if v["name"].startswith("IIOT_")}
            expected = {PASSWORD_ENV} if container["name"] == "grafana" else set()
            assert names == expected, label(workload, container)


def test_secrets_are_never_committed() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", str(K8S)], capture_output=True, text=True, cwd=REPO, check=True
    ).stdout.split()
    assert "deploy/kubernetes/base/secrets.env.example" in tracked
    assert not any(path.endswith("/secrets.env") for path in tracked)
    assert "secrets.env" in (BASE / ".gitignore").read_text().split()
    example = key_values((BASE / "secrets.env.example").read_text())
    assert all(value.startswith("change-me") for value in example.values())


# --------------------------------------------------------------------------------------------
# Scaling: stream workers up to the telemetry partitions


def test_stream_workers_scale_up_to_the_partitions(objects: list[dict[str, Any]]) -> None:
    partitions = telemetry_partitions(objects)
    stream = named(objects, "Deployment")["stream"]
    assert stream["spec"].get("replicas", 1) <= partitions
    assert stream["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0
    (hpa,) = named(objects, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "stream",
    }
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] == partitions
    sink = named(objects, "Deployment")["sink"]
    assert sink["spec"]["replicas"] <= partitions


def test_the_simulator_only_in_the_demo(
    objects: list[dict[str, Any]], demo: list[dict[str, Any]]
) -> None:
    names = set(named(demo, "Deployment")) - set(named(objects, "Deployment"))
    assert names in ({"simulator"}, set())  # set(): this run renders the demo itself
    simulator = named(demo, "Deployment")["simulator"]
    assert simulator["spec"]["replicas"] == 1
    (container,) = simulator["spec"]["template"]["spec"]["containers"]
    # `iiot simulate` stops cleanly on SIGINT; Kubernetes sends SIGTERM.
    assert "kill -INT 1" in " ".join(container["lifecycle"]["preStop"]["exec"]["command"])


# --------------------------------------------------------------------------------------------
# Kafka: the local stack's version and settings, and a quorum that matches its replicas


def kafka(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    sts = named(objects, "StatefulSet")["kafka"]
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    return sts, container_env(objects, container)


def test_kafka_is_the_local_stacks_version(objects: list[dict[str, Any]]) -> None:
    sts, _ = kafka(objects)
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"apache/kafka:{local_kafka_version()}"


def test_kafka_settings_are_the_local_stacks(objects: list[dict[str, Any]]) -> None:
    sts, env = kafka(objects)
    local = local_server_properties()
    differ = KAFKA_ADDRESS_KEYS | KAFKA_REPLICATION_KEYS | KAFKA_SIZING_KEYS
    for key, value in local.items():
        if key not in differ:
            assert env.get(kafka_env_name(key)) == value, key
    # Service links would add KAFKA_SERVICE_HOST and the like, which the image makes properties.
    assert sts["spec"]["template"]["spec"]["enableServiceLinks"] is False


def test_kafka_quorum_and_replication_fit_the_brokers(objects: list[dict[str, Any]]) -> None:
    sts, env = kafka(objects)
    brokers = sts["spec"]["replicas"]
    voters = [v.split("@") for v in env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")]
    controller_port = env["KAFKA_LISTENERS"].split("CONTROLLER://:")[1].split(",")[0]
    assert voters == [
        [str(i), f"kafka-{i}.{sts['spec']['serviceName']}:{controller_port}"]
        for i in range(brokers)
    ]
    assert env["KAFKA_NODE_ID"] == "<from the pod>"  # the pod's ordinal: 0 … brokers - 1
    for key in KAFKA_REPLICATION_KEYS:
        value = int(env[kafka_env_name(key)])
        if key.endswith("replication.factor"):
            assert value == brokers, key
        else:  # min ISR: one broker may be away and writes with acks=all still succeed
            assert value == brokers - 1 >= 1, key
    headless = named(objects, "Service")[sts["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True  # the quorum forms unready
    (budget,) = named(objects, "PodDisruptionBudget").values()
    assert budget["spec"]["maxUnavailable"] == brokers - int(env["KAFKA_MIN_INSYNC_REPLICAS"])


# --------------------------------------------------------------------------------------------
# TimescaleDB: deploy/local's roles and grants


def sql_of(text: str) -> list[str]:
    """The SQL statements of a psql script, \\gexec as a statement end, comments and other
    meta-commands dropped, each on one line."""
    text = re.sub(r"--[^\n]*", "", text).replace("\\gexec", ";")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("\\"))
    return [" ".join(s.rstrip(";").split()) for s in statements(text)]


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
    Secret's passwords log in, the writer migrates, the reader reads and cannot write."""
    stack = PrivateStack(tmp_path_factory.mktemp("stack"))
    try:
        stack.up("postgres")
        port = stack.ports["PG"]
        admin = f"postgresql://postgres:postgres@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:  # start from nothing
            conn.execute("DROP DATABASE iiot")
            conn.execute("DROP ROLE iiot_writer")
            conn.execute("DROP ROLE iiot_reader")
        chosen = {"PG_WRITER_PASSWORD": "w" + uuid.uuid4().hex, "PG_READER_PASSWORD": "r'x y"}
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

        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn("iiot_writer", "iiot_writer"))  # deploy/local's is not valid
        writer = psycopg.connect(dsn("iiot_writer", chosen["PG_WRITER_PASSWORD"]), autocommit=True)
        with writer:
            flavour, applied = migrate(writer, "iiot", Settings())
            assert (flavour, bool(applied)) == ("plain", True)  # no TimescaleDB on this server
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
