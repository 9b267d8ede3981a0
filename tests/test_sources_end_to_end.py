"""Every source kind end to end: `assistant sync` against local servers, then /v1/ask cites the source URL;
the manage routes list and run sources; /metrics counts them; `serve`'s scheduler syncs on its own."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from assistant import cli, components
from assistant.api import create_app
from assistant.service import KnowledgeService, ServiceConfig
from assistant.settings import Settings
from ingest.store.layout import IndexStore
from tests.fakes import FakeEmbedder
from tests.helpcenter import TOKEN, HelpCenter
from tests.http_site import Site
from tests.test_sources_web import page, sitemap

HELP = "https://nordvik.zendesk.example"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEmbedder:
    fake = FakeEmbedder()
    # The CLI builds its ingest embedder through components.build_embedder.
    monkeypatch.setattr(components, "build_embedder", lambda settings: fake)
    return fake


@pytest.fixture
def servers(monkeypatch):
    """A help site, a Help Center and a CRM listing, each on its own port of 127.0.0.1."""
    monkeypatch.setenv("ZENDESK_TOKEN", TOKEN)
    with Site() as web, Site() as zendesk, Site() as crm:
        web.file("/robots.txt", b"User-agent: *\nAllow: /\n", "text/plain")
        web.file("/sitemap.xml", sitemap(web.url, ["/kettles"]).encode(), "application/xml")
        web.html(
            "/kettles",
            page("Kettle care", "<p>Descale the Nordvik kettle with citric acid once a month to keep it quiet.</p>"),
        )
        center = HelpCenter(zendesk)
        center.add(11, "fi", "Lahjakortit", "<p>Lahjakortti on voimassa kaksi vuotta ostopäivästä.</p>")
        center.add(12, "pl", "Paczkomaty", "<p>Paczki do paczkomatów dostarczamy w jeden dzień roboczy.</p>")
        records = {
            "items": [
                {
                    "key": "SF-1",
                    "name": "Thai tax invoice",
                    "html": "<p>A full Thai tax invoice needs the buyer's 13-digit tax identification number.</p>",
                    "link": "https://crm.nordvik.example/kb/SF-1",
                    "modified": "2026-03-01",
                }
            ]
        }
        crm.file("/export.json", json.dumps(records).encode(), "application/json")
        yield web, center, crm


def sources_file(tmp_path: Path, web: Site, zendesk: Site, crm: Site, schedule: str = "manual") -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        f"""
[[source]]
name = "site"
kind = "web"
start = ["{web.url}/sitemap.xml"]
allow_private = true
delay_s = 0
schedule = "{schedule}"

[[source]]
name = "zendesk"
kind = "zendesk"
url = "{zendesk.url}"
locales = ["fi", "pl"]
email = "kb@nordvik.example"
token_env = "ZENDESK_TOKEN"
allow_private = true
delay_s = 0

[[source]]
name = "crm"
kind = "json"
url = "{crm.url}/export.json"
records = "items"
text_format = "html"
allow_private = true

[source.fields]
id = "key"
title = "name"
text = "html"
url = "link"
updated = "modified"
""",
        encoding="utf-8",
    )
    return path


def test_sync_then_ask_cites_each_source_at_its_own_url(servers, fake, tmp_path, capsys) -> None:
    web, center, crm = servers
    path = sources_file(tmp_path, web, center.site, crm)
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", min_dense_score=0.3)
    code = cli.main(["sync", "--sources", str(path), "--json"], settings=settings)
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [s["name"] for s in report["sources"]] == ["site", "zendesk", "crm"]
    assert {"name", "added", "updated", "unchanged", "removed", "failed", "embedded"} <= set(report["sources"][0])
    by_name = {s["name"]: s for s in report["sources"]}
    assert by_name["site"]["added"] == [f"{web.url}/kettles"]
    assert sorted(by_name["zendesk"]["added"]) == ["fi/11", "pl/12"]
    assert by_name["crm"]["added"] == ["SF-1"] and all(s["embedded"] > 0 for s in report["sources"])
    assert report["index_version"] == IndexStore(settings.index_dir).current_version()

    # One source again: the others' documents stay.
    code = cli.main(["sync", "--sources", str(path), "--source", "crm", "--json"], settings=settings)
    again = json.loads(capsys.readouterr().out)
    assert code == 0 and [s["name"] for s in again["sources"]] == ["crm"]
    assert again["sources"][0]["unchanged"] == ["SF-1"]
    assert cli.main(["sync", "--sources", str(path), "--source", "nope"], settings=settings) == 2

    service = KnowledgeService(IndexStore(settings.index_dir), fake, ServiceConfig(min_dense_score=0.3))
    with TestClient(create_app(service, settings)) as client:
        for question, url, words in [
            ("How often should I descale the kettle with citric acid?", f"{web.url}/kettles", "Descale the Nordvik"),
            ("Kuinka kauan lahjakortti on voimassa?", f"{HELP}/hc/fi/articles/11", "Lahjakortti"),
            ("Thai tax invoice tax identification number", "https://crm.nordvik.example/kb/SF-1", "A full Thai tax"),
        ]:
            body = client.post("/v1/ask", json={"question": question}).json()
            assert body["found"], question
            cited = body["citations"][0]
            assert cited["url"].startswith(url + "#:~:text="), cited["url"]
            assert words in unquote(cited["url"].split("#:~:text=", 1)[1])


def test_manage_lists_sources_runs_one_and_counts_it_in_metrics(servers, fake, tmp_path) -> None:
    web, center, crm = servers
    path = sources_file(tmp_path, web, center.site, crm, schedule="every 6h")
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", sources_file=path)
    service = KnowledgeService(IndexStore(settings.index_dir), fake, ServiceConfig(min_dense_score=0.3))
    with TestClient(create_app(service, settings)) as client:
        listed = client.get("/v1/manage/sources").json()
        assert [(s["name"], s["kind"], s["state"], s["items"]) for s in listed["sources"]] == [
            ("site", "web", "never", 0),
            ("zendesk", "zendesk", "never", 0),
            ("crm", "json", "never", 0),
        ]
        assert listed["sources"][0]["schedule"] == "every 21600 s" and listed["sources"][1]["schedule"] == "manual"

        assert client.post("/v1/manage/sources/zendesk/run").status_code == 202
        client.app.state.sources.wait(30)
        center.auth_ok = False
        zendesk = next(s for s in client.get("/v1/manage/sources").json()["sources"] if s["name"] == "zendesk")
        assert zendesk["state"] == "ok" and zendesk["items"] == 2 and zendesk["last_run"]["added"] == 2
        assert zendesk["last_run"]["index_version"] == service.store.current_version()

        # A rejected token on the next run: the failure is shown and the articles stay.
        client.post("/v1/manage/sources/zendesk/run")
        client.app.state.sources.wait(30)
        zendesk = next(s for s in client.get("/v1/manage/sources").json()["sources"] if s["name"] == "zendesk")
        assert zendesk["state"] == "failed" and "401" in zendesk["last_run"]["error"] and zendesk["items"] == 2

        missing = client.post("/v1/manage/sources/nope/run")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_source"
        metrics = client.get("/metrics").text
        assert 'assistant_source_items{source="zendesk"} 2.0' in metrics
        assert 'assistant_source_failures{source="zendesk"} 1.0' in metrics
        assert 'assistant_source_syncs_total{outcome="ok",source="zendesk"} 1.0' in metrics
        assert 'assistant_source_sync_seconds{source="zendesk"}' in metrics


def test_a_second_run_while_one_syncs_gets_409(servers, fake, tmp_path) -> None:
    web, center, crm = servers
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache")
    settings.sources_file = sources_file(tmp_path, web, center.site, crm)
    service = KnowledgeService(IndexStore(settings.index_dir), fake, ServiceConfig(min_dense_score=0.3))
    with TestClient(create_app(service, settings)) as client:
        runner = client.app.state.sources
        with runner._run_lock:
            busy = client.post("/v1/manage/sources/site/run")
        assert busy.status_code == 409 and busy.json()["error"]["code"] == "sync_running"


def test_serve_runs_the_schedules_in_the_background(servers, fake, tmp_path) -> None:
    web, center, crm = servers
    path = sources_file(tmp_path, web, center.site, crm, schedule="every 1s")
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", sources_file=path)
    service = KnowledgeService(IndexStore(settings.index_dir), fake, ServiceConfig(min_dense_score=0.3))
    app = create_app(service, settings)
    runner = app.state.sources
    runner.start_schedules()
    try:
        assert runner.next_run("site") is not None and runner.next_run("crm") is None
        deadline = time.monotonic() + 30
        while "site" not in runner.last_runs() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        runner.stop()
    assert runner.last_runs()["site"]["outcome"] == "ok"
    assert {r.origin for r in service.store.current_manifest().documents.values()} == {"site"}


def test_a_bad_sources_file_stops_serve_with_a_reason(tmp_path, fake, capsys) -> None:
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nname = "x"\nkind = "web"\nstart = ["https://a.example/"]\nschedule = "0 99 * * *"\n')
    settings = Settings(index_dir=tmp_path / "index", cache_dir=tmp_path / "cache", sources_file=path)
    service = KnowledgeService(IndexStore(settings.index_dir), fake, ServiceConfig(min_dense_score=0.3))
    with pytest.raises(Exception, match="not a cron expression"):
        create_app(service, settings)
