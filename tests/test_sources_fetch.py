"""The sources' HTTP client: internal addresses refused by default, bounded size and time, credentials kept home."""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from ingest.sources.base import BlockedAddress, ResponseTooLarge, SourceTimeout, SourceUnavailable
from ingest.sources.fetch import Fetcher, FetchPolicy, is_internal, safe_url
from tests.http_site import Site


@pytest.mark.parametrize(
    ("address", "internal"),
    [
        ("127.0.0.1", True),
        ("10.1.2.3", True),
        ("172.16.0.9", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),  # cloud metadata
        ("::1", True),
        ("fe80::1%eth0", True),
        ("::ffff:127.0.0.1", True),
        ("fc00::1", True),
        ("0.0.0.0", True),
        ("93.184.216.34", False),
        ("2606:4700:4700::1111", False),
    ],
)
def test_internal_addresses(address: str, internal: bool) -> None:
    assert is_internal(address) is internal


def test_loopback_is_refused_by_name_and_by_address_unless_allowed() -> None:
    with Site() as site:
        site.html("/", "<p>hello</p>")
        port = site.url.rsplit(":", 1)[1]
        for url in (f"{site.url}/", f"http://localhost:{port}/"):
            with Fetcher(FetchPolicy()) as fetcher, pytest.raises(BlockedAddress, match="internal address"):
                fetcher.get(url)
        assert site.hits == []
        with Fetcher(FetchPolicy(allow_private=True)) as fetcher:
            assert fetcher.get(f"http://localhost:{port}/").status == 200


def test_a_redirect_is_checked_hop_by_hop_and_loses_the_credentials() -> None:
    with Site() as home, Site() as other:
        other.html("/landing", "<p>elsewhere</p>")
        home.redirect("/go", f"{other.url}/landing", 302)
        policy = FetchPolicy(allow_private=True)
        with Fetcher(policy, {"Authorization": "Bearer s3cret"}, credentials_for=home.url) as fetcher:
            response = fetcher.get(f"{home.url}/go")
        assert response.status == 200 and response.url == f"{other.url}/landing"
        assert response.redirected_from == [f"{home.url}/go"]
        assert home.hits[0].headers.get("authorization") == "Bearer s3cret"
        assert "authorization" not in other.hits[0].headers


def test_responses_over_the_size_limit_are_refused() -> None:
    with Site() as site:
        site.file("/big.txt", b"x" * 5000, "text/plain")
        policy = FetchPolicy(allow_private=True, max_bytes=1000)
        with Fetcher(policy) as fetcher, pytest.raises(ResponseTooLarge, match="limit"):
            fetcher.get(f"{site.url}/big.txt")


def _server(behaviour) -> tuple[str, threading.Event]:
    """A raw TCP server that runs `behaviour(connection)` for one client; for what Site cannot do."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            connection.recv(65536)
            behaviour(connection)
        finally:
            done.wait(10)
            connection.close()
            listener.close()

    threading.Thread(target=serve, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}/", done


def test_a_body_without_length_is_cut_at_the_limit() -> None:
    def endless(connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n")
        for _ in range(200):
            connection.sendall(b"y" * 1024)

    url, done = _server(endless)
    try:
        with Fetcher(FetchPolicy(allow_private=True, max_bytes=10_000)) as fetcher, pytest.raises(ResponseTooLarge):
            fetcher.get(url)
    finally:
        done.set()


def test_a_server_that_stalls_times_out() -> None:
    url, done = _server(lambda connection: time.sleep(5))
    started = time.monotonic()
    try:
        with Fetcher(FetchPolicy(allow_private=True, timeout_s=0.5)) as fetcher, pytest.raises(SourceTimeout):
            fetcher.get(url)
    finally:
        done.set()
    assert time.monotonic() - started < 3


def test_nothing_listening_is_unavailable_and_logs_never_show_secrets(caplog) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    fetcher = Fetcher(FetchPolicy(allow_private=True))
    with caplog.at_level(logging.DEBUG), fetcher, pytest.raises(SourceUnavailable) as caught:
        fetcher.get(f"http://user:pa55word@127.0.0.1:{port}/kb?api_key=k3y")
    assert "pa55word" not in caught.value.message and "k3y" not in caught.value.message
    assert "pa55word" not in caplog.text and "k3y" not in caplog.text
    assert safe_url("https://u:p@h.example:8443/a/b?token=t#x") == "https://h.example:8443/a/b"
