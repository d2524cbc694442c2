"""Fixtures of the deploy tests: deploy/kubernetes as kustomize renders it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.kube import OVERLAYS, render


@pytest.fixture(scope="module", params=OVERLAYS)
def objects(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return render(request.param, tmp_path_factory.mktemp("kustomize"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return render("demo", tmp_path_factory.mktemp("kustomize"))
