"""`iiot dashboards push`: folders, datasource and dashboards over Grafana's HTTP API.

A health check comes first (GET /api/health: reachable, database ok, version new enough),
then one authenticated call (GET /api/org), so a wrong URL, wrong credentials or an old
Grafana each give one clear line before anything is written. Everything is keyed by uid and
overwritten, so pushing twice changes nothing.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import niquests
import yaml
from grafana_client import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaServerError,
    GrafanaUnauthorizedError,
)

from dashboards.provisioning import PASSWORD_ENV

MIN_VERSION = (10, 4)  # the PostgreSQL plugin id `grafana-postgresql-datasource`, Geomap


class PushError(RuntimeError):
    """One line for the operator: what went wrong and what to do."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status  # the HTTP status, when Grafana answered one


@dataclass
class PushReport:
    version: str = ""
    folders: list[str] = field(default_factory=list)
    datasources: list[str] = field(default_factory=list)
    dashboards: list[str] = field(default_factory=list)


def connect(url: str, token: str = "", timeout_s: float = 10.0) -> GrafanaApi:
    """A client for `url` (`http://user:password@host:3000` or a token)."""
    credential: str | tuple[str, str] | None = token or None
    parts = urlsplit(url)
    if credential is None and parts.username is not None:
        credential = (parts.username, parts.password or "")
    return GrafanaApi.from_url(url, credential=credential, timeout=timeout_s)


def _call(api: GrafanaApi, what: str, method: str, path: str, **kwargs: Any) -> Any:
    """One request; transport and HTTP failures become one-line `PushError`s."""
    where = f"{api.client.url_protocol}://{api.client.url_host}:{api.client.url_port}"
    try:
        return getattr(api.client, method)(path, **kwargs)
    except GrafanaUnauthorizedError:
        raise PushError(
            f"Grafana at {where} refused the credentials (401) for {what}: "
            "set IIOT_GRAFANA_TOKEN or put user:password in IIOT_GRAFANA_URL"
        ) from None
    except GrafanaClientError as exc:
        if exc.status_code == 403:
            raise PushError(
                f"Grafana at {where} forbids {what} (403): the account needs the Editor "
                "or Admin role"
            ) from None
        message = f"Grafana at {where} rejected {what}: {_message(exc)}"
        raise PushError(message, exc.status_code) from None
    except GrafanaServerError as exc:
        raise PushError(f"Grafana at {where} failed on {what}: {_message(exc)}") from None
    except (GrafanaException, niquests.exceptions.RequestException, OSError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise PushError(f"Grafana at {where} is unreachable ({reason})") from None
    except ValueError:
        raise PushError(f"{where} answered {what} with something that is not JSON") from None


def _message(exc: GrafanaException) -> str:
    response = exc.response
    if isinstance(response, dict) and "message" in response:
        return f"{exc.status_code} {response['message']}"
    return f"{exc.status_code} {str(response)[:200]}"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", text.split("-")[0])[:3])


def health(api: GrafanaApi) -> str:
    """Grafana's version, once it answers, its database is ok and it is new enough."""
    answer = _call(api, "the health check", "GET", "/health")
    if not isinstance(answer, dict) or "version" not in answer:
        raise PushError("the health check did not answer like Grafana (no version in /api/health)")
    version = str(answer["version"])
    if answer.get("database") != "ok":
        raise PushError(f"Grafana {version} reports its database as {answer.get('database')!r}")
    if _version(version) < MIN_VERSION:
        minimum = ".".join(map(str, MIN_VERSION))
        raise PushError(f"Grafana {version} is too old: the dashboards need {minimum} or newer")
    _call(api, "GET /api/org", "GET", "/org")  # credentials, before anything is written
    return version


def _exists(api: GrafanaApi, what: str, path: str) -> dict[str, Any] | None:
    try:
        return _call(api, what, "GET", path)  # type: ignore[no-any-return]
    except PushError as exc:
        if exc.status == 404:
            return None
        raise


def push(api: GrafanaApi, out: Path) -> PushReport:
    """Push a build directory (see provisioning.py); folders, datasource, then dashboards."""
    report = PushReport(version=health(api))
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for folder in manifest["folders"]:
        uid, body = folder["uid"], {"uid": folder["uid"], "title": folder["title"]}
        if _exists(api, f"folder {uid}", f"/folders/{uid}") is None:
            _call(api, f"creating folder {uid}", "POST", "/folders", json=body)
        else:
            body["overwrite"] = True
            _call(api, f"updating folder {uid}", "PUT", f"/folders/{uid}", json=body)
        report.folders.append(uid)
    sources = yaml.safe_load(
        (out / "provisioning" / "datasources" / "iiot.yaml").read_text(encoding="utf-8")
    )
    for source in sources["datasources"]:
        report.datasources.append(_push_datasource(api, source))
    for entry in manifest["dashboards"]:
        dashboard = json.loads((out / entry["file"]).read_text(encoding="utf-8"))
        body = {"dashboard": {**dashboard, "id": None}, "folderUid": entry["folder_uid"],
                "overwrite": True, "message": "iiot dashboards push"}  # fmt: skip
        _call(api, f"saving dashboard {entry['uid']}", "POST", "/dashboards/db", json=body)
        report.dashboards.append(entry["uid"])
    return report


def _push_datasource(api: GrafanaApi, source: dict[str, Any]) -> str:
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        raise PushError(f"set {PASSWORD_ENV} to iiot_reader's password; the datasource needs it")
    body = {k: v for k, v in source.items() if k != "editable"}
    body["secureJsonData"] = {"password": password}
    uid = body["uid"]
    existing = _exists(api, f"datasource {uid}", f"/datasources/uid/{uid}")
    if existing is None:
        _call(api, f"creating datasource {uid}", "POST", "/datasources", json=body)
    else:
        body["id"] = existing.get("id")
        _call(api, f"updating datasource {uid}", "PUT", f"/datasources/uid/{uid}", json=body)
    return str(uid)
