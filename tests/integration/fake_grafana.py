"""A small Grafana on 127.0.0.1 for the push tests: the endpoints `iiot dashboards push`
uses, answering with the status codes and bodies Grafana's HTTP API documents."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "glsa_test_token"


@dataclass
class FakeGrafana:
    version: str = "11.3.0"
    database: str = "ok"
    user: tuple[str, str] = ("admin", "admin")
    fail: dict[str, tuple[int, Any]] = field(default_factory=dict)  # "POST /api/x" → answer
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    url: str = ""

    def authorised(self, header: str | None) -> bool:
        basic = "Basic " + base64.b64encode(":".join(self.user).encode()).decode()
        return header in (basic, f"Bearer {TOKEN}")

    def answer(self, method: str, path: str, auth: str | None, body: Any) -> tuple[int, Any]:
        self.requests.append(f"{method} {path}")
        if f"{method} {path}" in self.fail:
            return self.fail[f"{method} {path}"]
        if path == "/api/health":  # no authentication, as in Grafana
            return 200, {"commit": "abc123", "database": self.database, "version": self.version}
        if not self.authorised(auth):
            return 401, {"message": "Unauthorized"}
        parts = path.strip("/").split("/")
        if path == "/api/org":
            return 200, {"id": 1, "name": "Main Org.", "address": {}}
        if parts[:2] == ["api", "folders"]:
            return self._folders(method, parts[2:], body)
        if parts[:2] == ["api", "datasources"]:
            return self._datasources(method, parts[2:], body)
        if path == "/api/dashboards/db" and method == "POST":
            return self._dashboard(body)
        return 404, {"message": "Not found"}

    def _folders(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        if method == "GET" and rest:
            folder = self.folders.get(rest[0])
            return (200, folder) if folder else (404, {"message": "folder not found",
                                                       "status": "not-found"})  # fmt: skip
        if method == "POST":
            if body["uid"] in self.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            folder = {"id": len(self.folders) + 1, "uid": body["uid"], "title": body["title"],
                      "url": f"/dashboards/f/{body['uid']}/", "version": 1}  # fmt: skip
            self.folders[body["uid"]] = folder
            return 200, folder
        if method == "PUT" and rest and rest[0] in self.folders:
            folder = self.folders[rest[0]]
            folder.update(title=body["title"], version=folder["version"] + 1)
            return 200, folder
        return 404, {"message": "folder not found", "status": "not-found"}

    def _datasources(self, method: str, rest: list[str], body: Any) -> tuple[int, Any]:
        uid = rest[1] if rest[:1] == ["uid"] and len(rest) > 1 else None
        if method == "GET" and uid:
            found = self.datasources.get(uid)
            return (200, found) if found else (404, {"message": "Data source not found"})
        if method == "POST" and not rest:
            if body["uid"] in self.datasources:
                return 409, {"message": "data source with the same name already exists"}
            stored = {**body, "id": len(self.datasources) + 1, "version": 1}
            self.datasources[body["uid"]] = stored
            return 200, {"datasource": stored, "id": stored["id"], "message": "Datasource added",
                         "name": body["name"]}  # fmt: skip
        if method == "PUT" and uid in self.datasources:
            stored = {**self.datasources[uid], **body}
            self.datasources[uid] = stored
            return 200, {"datasource": stored, "id": stored["id"],
                         "message": "Datasource updated", "name": body["name"]}  # fmt: skip
        return 404, {"message": "Data source not found"}

    def _dashboard(self, body: Any) -> tuple[int, Any]:
        dashboard = body["dashboard"]
        if not dashboard.get("title"):
            return 400, {"message": "Dashboard title cannot be empty", "status": "empty-name"}
        if body.get("folderUid") not in self.folders:
            return 400, {"message": "folder not found", "status": "not-found"}
        uid = dashboard["uid"]
        if uid in self.dashboards and not body.get("overwrite"):
            return 412, {"message": "The dashboard has been changed by someone else",
                         "status": "version-mismatch"}  # fmt: skip
        version = self.dashboards.get(uid, {}).get("version", 0) + 1
        self.dashboards[uid] = {**body, "version": version}
        return 200, {"id": len(self.dashboards), "uid": uid, "url": f"/d/{uid}/x",
                     "status": "success", "version": version, "slug": "x"}  # fmt: skip


@contextmanager
def serve(grafana: FakeGrafana) -> Iterator[FakeGrafana]:
    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = grafana.answer(
                self.command, self.path.split("?")[0], self.headers.get("Authorization"), body
            )
            raw = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
            self.send_response(status)
            kind = "text/html" if isinstance(answer, str) else "application/json"
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = _handle

        def log_message(self, *args: object) -> None:  # quiet test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    grafana.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield grafana
    finally:
        server.shutdown()
        server.server_close()
