"""Rendering deploy/kubernetes and walking what kustomize renders, for the deploy tests."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from iiot.settings import Settings
from sinks.migrate import statements
from tests.deploy.test_compose import REPO, key_values

K8S = REPO / "deploy" / "kubernetes"
BASE = K8S / "base"
OVERLAYS = ("base", "demo")
KUSTOMIZE = Path(sys.executable).parent / "kustomize"  # make install puts it beside python
PIPELINE_IMAGE = "iiot-pipeline"
WORKLOADS = {"Deployment", "StatefulSet", "Job", "CronJob"}
ONE_SHOTS = {"Job", "CronJob"}  # run to completion: resources, but no probes


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


def sql_of(text: str) -> list[str]:
    """The SQL statements of a psql script, \\gexec as a statement end, comments and other
    meta-commands dropped, each on one line."""
    text = re.sub(r"--[^\n]*", "", text).replace("\\gexec", ";")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("\\"))
    return [" ".join(s.rstrip(";").split()) for s in statements(text)]
