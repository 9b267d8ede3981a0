"""deploy/ stays true to the code: its settings exist, its health route answers, its guide names real services."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from assistant.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
PREFIX = "ASSISTANT_"


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def secrets_example() -> dict[str, str]:
    pairs = {}
    for line in (DEPLOY / "secrets.env.example").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            pairs[name.strip()] = value
    return pairs


def assistant_environments() -> dict[str, dict[str, str]]:
    """The ASSISTANT_* environment of every service that runs the assistant (secrets file included)."""
    secrets = {k: v for k, v in secrets_example().items() if k.startswith(PREFIX)}
    found = {}
    for name, service in services().items():
        env = {k: str(v) for k, v in (service.get("environment") or {}).items() if k.startswith(PREFIX)}
        if env:
            found[name] = {**secrets, **env} if service.get("env_file") == "secrets.env" else env
    return found


def test_every_assistant_variable_deploy_sets_is_a_setting() -> None:
    environments = assistant_environments()
    assert {"api", "ingest"} <= set(environments)
    fields = set(Settings.model_fields)
    unknown = sorted(
        f"{service}: {name}"
        for service, env in environments.items()
        for name in env
        if name.removeprefix(PREFIX).lower() not in fields
    )
    assert unknown == []


@pytest.mark.parametrize("service", ["api", "ingest"])
def test_each_assistant_service_environment_is_valid_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(PREFIX):
            monkeypatch.delenv(name)
    for name, value in assistant_environments()[service].items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.environment == "production" and settings.vector_backend == "qdrant"
    assert settings.database_url.startswith("postgresql://") and settings.api_keys
    assert urlparse(settings.qdrant_url).hostname in services()


def test_qdrant_cluster_bootstraps_from_its_first_peer_and_collections_survive_a_peer() -> None:
    peers = {name: s for name, s in services().items() if str(s.get("image", "")).startswith("qdrant/qdrant")}
    assert len(peers) == 3
    first = [name for name, s in peers.items() if "--bootstrap" not in s["command"]]
    assert len(first) == 1
    for name, peer in peers.items():
        command = peer["command"]
        assert peer["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
        assert command[command.index("--uri") + 1] == f"http://{name}:6335"
        if "--bootstrap" in command:
            assert command[command.index("--bootstrap") + 1] == f"http://{first[0]}:6335"
    settings = Settings(
        qdrant_shards=int(services()["api"]["environment"]["ASSISTANT_QDRANT_SHARDS"]),
        qdrant_replicas=int(services()["api"]["environment"]["ASSISTANT_QDRANT_REPLICAS"]),
    )
    assert settings.qdrant_shards >= len(peers) and 2 <= settings.qdrant_replicas <= len(peers)


def test_replicas_read_the_index_the_ingest_job_writes() -> None:
    api, ingest = services()["api"], services()["ingest"]
    assert "index:/data/index:ro" in api["volumes"] and "index:/data/index" in ingest["volumes"]
    assert api["deploy"]["replicas"] >= 2
    # Schedules would write the index from every replica; only the ingest job writes it.
    assert "ASSISTANT_SOURCES_FILE" not in api["environment"]


def test_the_balancer_and_healthcheck_probe_a_route_that_answers_ready(client) -> None:
    nginx = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    probe = " ".join(services()["api"]["healthcheck"]["test"])
    path = re.search(r"http://127\.0\.0\.1:8000(/\w+)", probe)
    assert path is not None
    assert f"location = {path.group(1)}" in nginx
    assert re.search(r"server api:8000\b", nginx) and "--port" in services()["api"]["command"]
    response = client.get(path.group(1))
    assert response.status_code == 200 and response.json()["status"] == "ready"


def test_every_service_the_guide_names_exists_and_every_service_is_in_the_guide() -> None:
    guide = (DEPLOY / "README.md").read_text(encoding="utf-8")
    table = guide.split("## What runs where", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"^\| `([a-z0-9-]+)`", table, flags=re.MULTILINE))
    assert named == set(services())
    started = re.findall(r"docker compose -f deploy/compose.yaml up -d ([a-z0-9 -]+)", guide)
    named_once = re.findall(r"docker compose -f deploy/compose.yaml (?:run --rm|exec|logs) ([a-z0-9-]+)", guide)
    mentioned = {word for line in started for word in line.split() if not word.startswith("-")} | set(named_once)
    assert mentioned and mentioned <= set(services()), f"the guide runs {sorted(mentioned - set(services()))}"
