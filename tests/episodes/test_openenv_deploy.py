"""The shop env's OpenEnv deployment, ``deploy/shop_env`` (the one way to deploy it), checked
with OpenEnv's own tooling: ``openenv validate`` passes on the directory; its ``uv.lock`` still
matches the project (``uv lock --check``) and names the repository root as the project's
source; the manifest's name gives, by OpenEnv's naming rules, our client, action and
observation classes, found where OpenEnv's discovery looks (the directory's ``client.py``); its
app and ``server`` script are the project's; the image installs the lock and serves the
manifest's port."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "shop_env"


def _load(relative: str, name: str) -> ModuleType:
    """A module of the env directory, loaded from its file (the directory is not installed
    here; the project it names is)."""
    spec = importlib.util.spec_from_file_location(name, DEPLOY / relative)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_openenv_validate_passes_on_the_env_directory() -> None:
    """``openenv validate deploy/shop_env --json --verbose``, OpenEnv's local check (uv.lock,
    the ``server`` script, openenv-core a dependency, ``server/app.py`` with ``main``)."""
    done = subprocess.run([sys.executable, "-m", "openenv.cli", "validate", str(DEPLOY),
                           "--json", "--verbose"], capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["passed"], (report["issues"], done.stderr)
    assert report["issues"] == [] and report["environment"] == "shop"
    assert report["deployment_modes"] == {"docker": True, "openenv_serve": True,
                                          "uv_run": True, "python_module": True}
    # one deployment: the repository root is not an env directory of its own
    assert not (ROOT / "openenv.yaml").exists() and not (ROOT / "Dockerfile").exists()


def test_the_lock_matches_the_project() -> None:
    """uv.lock is what ``uv lock`` makes of the env's and the project's pyproject.toml now
    (after changing either, run ``uv lock`` in deploy/shop_env), and it installs the project
    from the repository root."""
    from uv import find_uv_bin

    done = subprocess.run([find_uv_bin(), "lock", "--check", "--offline"], cwd=DEPLOY,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, ("deploy/shop_env/uv.lock is stale: run `uv lock` in "
                                  f"deploy/shop_env\n{done.stderr}")
    lock = tomllib.loads((DEPLOY / "uv.lock").read_text())
    packages = {p["name"]: p for p in lock["package"]}
    assert packages["mcp-shop"]["source"] == {"directory": "../../"}
    env = packages["openenv-shop-env"]
    assert {"name": "mcp-shop", "extra": ["openenv"]} in env["dependencies"]


def test_the_manifest_names_our_classes_where_openenv_looks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """openenv.yaml read as OpenEnv's discovery reads an installed env package
    (``openenv-shop-env``, module ``shop_env``): its name gives, by OpenEnv's naming rules,
    exactly our client, action and observation classes, all three taken from the directory's
    ``client.py``."""
    import openenv.auto._discovery as discovery

    from episodes.openenv_env import ENV_NAME, ShopAction, ShopEnv, ShopObservation

    manifest = yaml.safe_load((DEPLOY / "openenv.yaml").read_text())
    assert manifest["spec_version"] == 1 and manifest["name"] == ENV_NAME
    assert (manifest["type"], manifest["runtime"], manifest["port"]) == ("space", "fastapi", 8000)
    project = tomllib.loads((DEPLOY / "pyproject.toml").read_text())
    package = project["project"]["name"]
    module = package.removeprefix("openenv-").replace("-", "_")
    assert module == DEPLOY.name == ENV_NAME
    assert project["tool"]["setuptools"]["package-data"][module] == ["openenv.yaml"]

    # the installed package's manifest is this file; its client module is this client.py
    monkeypatch.setattr(discovery, "_load_manifest_from_package", lambda *_: manifest)
    info = discovery._create_env_info_from_package(package, module, "0.1.0")
    assert info is not None and info.env_key == "shop"
    assert info.client_module_path == f"{module}.client"
    assert info.default_image == "shop-env:latest"  # the tag the README builds
    monkeypatch.setitem(sys.modules, "shop_env_client", _load("client.py", "shop_env_client"))
    info.client_module_path = "shop_env_client"
    assert info.get_client_class() is ShopEnv
    assert info.get_action_class() is ShopAction
    assert info.get_observation_class() is ShopObservation
    models = _load("models.py", "shop_env_models")
    assert (models.ShopAction, models.ShopObservation) == (ShopAction, ShopObservation)


def test_the_app_and_the_server_script_are_the_projects(monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest's app (``server.app:app``) is the project's app; the ``server`` script is
    serve-env on the manifest's port unless told otherwise."""
    from episodes.openenv_env import server

    manifest = yaml.safe_load((DEPLOY / "openenv.yaml").read_text())
    assert manifest["app"] == "server.app:app"
    project = tomllib.loads((DEPLOY / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["server"] == "shop_env.server.app:main"
    app = _load("server/app.py", "shop_env_server_app")
    assert app.app is server.app and manifest["port"] == app.PORT

    calls: list[list[str]] = []

    def serve_env(argv: Any) -> int:
        calls.append(list(argv))
        return 0

    monkeypatch.setattr(app, "serve_env", serve_env)
    assert app.main(["--db", "sqlite:////tmp/x.db"]) == 0
    assert app.main(["--port", "9001"]) == 0
    assert app.main(["--port=9002", "--tasks", "t.jsonl"]) == 0
    monkeypatch.setattr(sys, "argv", ["server", "--host", "0.0.0.0"])
    assert app.main() == 0
    assert calls == [["--db", "sqlite:////tmp/x.db", "--port", "8000"], ["--port", "9001"],
                     ["--port=9002", "--tasks", "t.jsonl"], ["--host", "0.0.0.0", "--port", "8000"]]


def test_the_image_installs_the_lock_and_serves_the_manifests_port() -> None:
    """server/Dockerfile (OpenEnv's place for it): every file it copies exists in the build
    context (the repository root) and is not excluded by .dockerignore; it installs uv.lock
    as it is, and runs the ``server`` script on the manifest's port behind a /health check."""
    docker = (DEPLOY / "server" / "Dockerfile").read_text()
    port = yaml.safe_load((DEPLOY / "openenv.yaml").read_text())["port"]
    assert f"EXPOSE {port}" in docker and f"--port {port}" in docker
    assert f"localhost:{port}/health" in docker and "exec server --host 0.0.0.0" in docker
    assert "uv sync --frozen" in docker
    copied = [line.split()[1:-1] for line in docker.splitlines() if line.startswith("COPY ")]
    sources = [s for group in copied for s in group]
    assert "deploy/shop_env" in sources and "pyproject.toml" in sources
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source not in ignored, source
    # the lock's "../.." from deploy/shop_env is the directory the project is copied to
    assert "WORKDIR /app\n" in docker and "WORKDIR /app/deploy/shop_env" in docker
    assert "COPY deploy/shop_env ./deploy/shop_env" in docker
