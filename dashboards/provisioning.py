"""`iiot dashboards build`: Grafana provisioning files and dashboards in one directory.

    <out>/provisioning/datasources/iiot.yaml   PostgreSQL as iiot_reader, password from env
    <out>/provisioning/dashboards/iiot.yaml    one file provider per folder (title and uid)
    <out>/provisioning/alerting/iiot.yaml      alert rules, contact point, policy (alerts.py)
    <out>/dashboards/<folder>/<uid>.json       the dashboards
    <out>/manifest.json                        what was built, for `check` and `push`

Mount `provisioning/` at /etc/grafana/provisioning and `dashboards/` at the provider path
(default /var/lib/grafana/dashboards), and Grafana loads it all with no clicking.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from dashboards import alerts
from dashboards.catalog import FOLDERS, SPECS, Json, render
from dashboards.context import Build
from dashboards.query import DATASOURCE_TYPE

PASSWORD_ENV = "IIOT_READER_PASSWORD"  # Grafana expands ${VAR} in provisioning files
DASHBOARDS_PATH = "/var/lib/grafana/dashboards"


@dataclass(frozen=True)
class Database:
    """Where Grafana reaches PostgreSQL, as iiot_reader (never the writer)."""

    host: str = "127.0.0.1:5432"
    name: str = "iiot"
    user: str = "iiot_reader"
    # IIOT_GRAFANA_PG_SSLMODE: disable on the local stack's loopback; require, or verify-full
    # with the server's CA in Grafana, wherever the database is reached over a network.
    sslmode: str = "disable"

    @classmethod
    def from_dsn(cls, dsn: str, host: str | None = None, sslmode: str = "disable") -> Database:
        parts = urlsplit(dsn)
        address = host or f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"
        name = parts.path.lstrip("/") or "iiot"
        return cls(address, name, parts.username or "iiot_reader", sslmode)


def datasource(build: Build, db: Database) -> Json:
    return {
        "name": "iiot PostgreSQL",
        "uid": build.datasource_uid,
        "type": DATASOURCE_TYPE,
        "access": "proxy",
        "url": db.host,
        "user": db.user,
        "isDefault": True,
        "editable": False,
        "jsonData": {
            "database": db.name,
            "sslmode": db.sslmode,
            "postgresVersion": 1500,
            "timescaledb": build.timescaledb,  # per deployment: $__timeGroup → time_bucket
            "timeInterval": "1m",  # the OEE window: no panel buckets finer than that
            "maxOpenConns": 10,
        },
        "secureJsonData": {"password": "${" + PASSWORD_ENV + "}"},
    }


def providers(build: Build, dashboards_path: str) -> Json:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": f"iiot-{folder.directory}",
                "orgId": 1,
                "type": "file",
                "folder": build.text(folder.title),
                "folderUid": folder.uid,
                "disableDeletion": False,
                "allowUiUpdates": False,  # code is the source of truth
                "updateIntervalSeconds": 30,
                "options": {"path": f"{dashboards_path}/{folder.directory}"},
            }
            for folder in FOLDERS
        ],
    }


def write(out: Path, build: Build, db: Database, dashboards_path: str = DASHBOARDS_PATH) -> Json:
    """Write everything; returns the manifest. Files of dashboards no longer built are removed."""
    datasources = out / "provisioning" / "datasources"
    provider_dir = out / "provisioning" / "dashboards"
    for directory in (datasources, provider_dir):
        directory.mkdir(parents=True, exist_ok=True)
    _write_yaml(
        datasources / "iiot.yaml", {"apiVersion": 1, "datasources": [datasource(build, db)]}
    )
    _write_yaml(provider_dir / "iiot.yaml", providers(build, dashboards_path))
    alerting = out / alerts.PATH
    alerting.parent.mkdir(parents=True, exist_ok=True)
    _write_yaml(alerting, alerts.provisioning(build))
    for stale in (out / "dashboards").glob("*/*.json"):
        stale.unlink()
    entries = []
    for spec in SPECS:
        path = out / "dashboards" / spec.folder.directory / f"{spec.uid}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_json(path, render(spec, build))
        entries.append({"uid": spec.uid, "folder_uid": spec.folder.uid,
                        "file": str(path.relative_to(out))})  # fmt: skip
    manifest: Json = {
        "language": build.language,
        "schema": build.schema,
        "timescaledb": build.timescaledb,
        "datasource_uid": build.datasource_uid,
        "folders": [
            {"uid": f.uid, "title": f.title.render(build.language), "directory": f.directory}
            for f in FOLDERS
        ],
        "dashboards": entries,
        "alerts": {"file": alerts.PATH, "rules": [r.uid for r in alerts.rules(build)]},
    }
    _write_json(out / "manifest.json", manifest)
    return manifest


def _write_yaml(path: Path, doc: Json) -> None:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _write_json(path: Path, doc: Json) -> None:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
