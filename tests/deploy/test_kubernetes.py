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
import subprocess
import tomllib
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml

from dashboards.provisioning import PASSWORD_ENV
from iiot.settings import Settings
from tests.deploy.kube import (
    BASE,
    K8S,
    ONE_SHOTS,
    PIPELINE_IMAGE,
    container_env,
    containers,
    label,
    named,
    pipeline_containers,
    pod_specs,
    pod_template,
    telemetry_partitions,
)
from tests.deploy.test_compose import (
    KAFKA_ADDRESS_KEYS,
    REPO,
    kafka_env_name,
    key_values,
    local_kafka_version,
    local_server_properties,
    resolve,
)

# The oldest Kubernetes the README promises (the pod-index label Kafka's node ids come from is
# on by default from 1.28) and the newest the validator has schemas for.
K8S_VERSIONS = ("1.28.0", kubernetes_validate.latest_version())
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
# Pod Security's "restricted" profile, on every container and init container itself.
RESTRICTED = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
# Where each image writes, the root filesystem being read-only: each must be a volume. The
# pipeline's: the temp dir (Faust's data dir, streams/app.py); its spool is a volume already.
WRITES = {
    PIPELINE_IMAGE: {"/tmp"},
    "apache/kafka": {"/var/lib/kafka/data", "/opt/kafka/config", "/opt/kafka/logs", "/tmp"},
    "timescale/timescaledb": {"/var/lib/postgresql/data", "/var/run/postgresql", "/tmp"},
    "grafana/grafana-oss": {"/var/lib/grafana", "/var/log/grafana", "/tmp"},
}
# Images whose user is a name (or root, stepping down itself): runAsNonRoot needs a number.
NAMED_USERS = {"apache/kafka", "timescale/timescaledb"}


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


def unrestricted(objects: list[dict[str, Any]]) -> list[str]:
    """What breaks the restricted securityContext or leaves a written path on the read-only
    root, container by container."""
    problems = []
    for workload, spec in pod_specs(objects):
        pod = spec.get("securityContext", {})
        if (
            pod.get("runAsNonRoot") is not True
            or pod.get("seccompProfile") != RESTRICTED["seccompProfile"]
        ):
            problems.append(f"{workload['kind']}/{workload['metadata']['name']}: pod context")
        volumes = {v["name"] for v in spec.get("volumes", [])} | {
            c["metadata"]["name"] for c in workload["spec"].get("volumeClaimTemplates", [])
        }
        for container in containers(spec):
            where = label(workload, container)
            context = container.get("securityContext", {})
            problems += [
                f"{where}: securityContext.{key} is {context.get(key)!r}, not {wanted!r}"
                for key, wanted in RESTRICTED.items()
                if context.get(key) != wanted
            ]
            if context.get("privileged") or context.get("capabilities", {}).get("add"):
                problems.append(f"{where}: privileged or capabilities added")
            image = container["image"].split(":")[0]
            user = context.get("runAsUser", pod.get("runAsUser"))
            if user == 0 or (image in NAMED_USERS and not isinstance(user, int)):
                problems.append(f"{where}: runAsUser {user!r}")
            mounted = {m["mountPath"] for m in container.get("volumeMounts", [])
                       if m["name"] in volumes}  # fmt: skip
            if image not in WRITES:
                problems.append(f"{where}: where does {image} write? (WRITES)")
            elif not WRITES[image] <= mounted:
                problems.append(f"{where}: no volume at {sorted(WRITES[image] - mounted)}")
    return problems


def test_every_container_runs_restricted(objects: list[dict[str, Any]]) -> None:
    assert unrestricted(objects) == []


@pytest.mark.parametrize(
    "change",
    ["no context", "escalation", "root", "writable root", "no tmp", "unknown image"],
)
def test_a_container_without_the_restricted_context_fails(
    objects: list[dict[str, Any]], change: str
) -> None:
    """The check above can fail: a new container, or one changed, that is not restricted."""
    broken = yaml.safe_load(yaml.safe_dump(objects))
    sink = next(o for o in broken if o["kind"] == "Deployment" and o["metadata"]["name"] == "sink")
    container = sink["spec"]["template"]["spec"]["containers"][0]
    if change == "no context":
        sink["spec"]["template"]["spec"]["initContainers"].append(
            {"name": "new", "image": container["image"], "volumeMounts": [
                {"name": "tmp", "mountPath": "/tmp"}]}
        )  # fmt: skip
    elif change == "escalation":
        container["securityContext"]["allowPrivilegeEscalation"] = True
    elif change == "root":
        container["securityContext"]["runAsUser"] = 0
    elif change == "writable root":
        del container["securityContext"]["readOnlyRootFilesystem"]
    elif change == "no tmp":
        container["volumeMounts"] = [m for m in container["volumeMounts"] if m["name"] != "tmp"]
    else:
        container["image"] = "busybox:1.37"
    assert len(unrestricted(broken)) == 1 + (change == "no context") * (len(RESTRICTED) - 1)


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


def test_each_part_logs_in_as_the_role_of_its_job(objects: list[dict[str, Any]]) -> None:
    """The migrator's password only where the schema is changed, the writer's only in the
    sink: no pipeline container holds both."""
    roles = {}
    for workload, container in pipeline_containers(objects):
        env = container_env(objects, container)
        users = {urlsplit(v).username for k, v in env.items() if k.startswith("IIOT_PG_")
                 and k.endswith("_DSN") and urlsplit(v).password}  # fmt: skip
        if users:
            roles[label(workload, container)] = users
    assert roles == {
        "Job/migrate: migrate": {"iiot_migrator"},
        "CronJob/maintain: maintain": {"iiot_migrator"},
        "Deployment/sink: sink": {"iiot_writer"},
    }


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
    # `iiot simulate` stops cleanly on the SIGTERM Kubernetes sends: no preStop hook needed.
    assert "lifecycle" not in container
    assert simulator["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 30


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
