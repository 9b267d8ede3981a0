"""Original files and the passage viewer: shown by a browser but never run, and only from inside the folder."""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import quote, unquote

import docx
import pytest

from assistant.document_files import content_disposition, resolve_inside
from tests.conftest import write_corpus
from tests.documents import make_pdf
from tests.hostile import HOSTILE_FILES, PWNED

THAI_NAME = "นโยบาย คืนเงิน.md"
ODD_NAME = 'quote"semi;colon back\\slash.md'
CANARY = "CANARY-OUTSIDE-9051"


def make_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Kettle manual", 1)
    document.add_paragraph("Fill the kettle to the line and press the switch.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """The tiny corpus, the hostile documents, a PDF, a Word file and two awkward file names."""
    files: dict[str, str | bytes] = {
        **HOSTILE_FILES,
        "manual.pdf": make_pdf(["Page one: unpack the kettle.", "Page two: descale the kettle monthly."]),
        "manual.docx": make_docx(),
        THAI_NAME: "# นโยบายการคืนเงิน\n\nคืนเงินภายใน 14 วัน",
        ODD_NAME: "# Odd name\n\nA file whose name has quotes and semicolons.",
        "guides/secret.md": "# Guide\n\nAn ordinary guide in a subfolder.",
    }
    root = write_corpus(tmp_path / "kb")
    return write_corpus(root, files)


def url(source: str) -> str:
    return "/v1/documents/" + quote(source)


@pytest.mark.parametrize(
    ("source", "media_type", "disposition"),
    [
        ("hostile.html", "text/html", "inline"),
        ("refresh.html", "text/html", "inline"),
        ("raw-html.md", "text/markdown", "inline"),
        ("sniff.txt", "text/plain", "inline"),
        ("manual.pdf", "application/pdf", "inline"),
        ("manual.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "attachment"),
    ],
)
def test_every_original_is_sandboxed_and_never_sniffed(client, source, media_type, disposition) -> None:
    response = client.get(url(source))
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = [d.strip() for d in response.headers["content-security-policy"].split(";")]
    # "sandbox" alone: no allow-scripts, allow-same-origin, allow-forms, allow-popups or allow-top-navigation.
    assert "sandbox" in policy and "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert not any("allow-" in d or "unsafe-eval" in d or "script-src" in d for d in policy)
    assert response.headers["content-disposition"].startswith(f'{disposition}; filename="{source}"')


def test_a_pdf_still_opens_at_its_cited_page(client) -> None:
    body = {"query": "page two descale the kettle monthly", "filters": {"source_prefix": "manual.pdf"}}
    citation = client.post("/v1/search", json=body).json()["hits"][0]
    assert citation["url"] == "/v1/documents/manual.pdf#page=2"
    assert client.get(citation["url"].split("#")[0]).headers["content-disposition"].startswith("inline")


@pytest.mark.parametrize("name", [THAI_NAME, ODD_NAME])
def test_file_names_are_encoded_for_the_header(client, name) -> None:
    header = client.get(url(name)).headers["content-disposition"]
    fallback, encoded = header.split("; filename*=UTF-8''")
    assert unquote(encoded) == name
    quoted = fallback.split('filename="', 1)[1]
    assert quoted.endswith('"') and '"' not in quoted[:-1] and "\\" not in quoted and quoted.isascii()


@pytest.mark.parametrize("name", ["a\r\nSet-Cookie: x=1.md", 'x"; filename="evil.html', "ok.md\x00.html", "\u202e.md"])
def test_no_name_can_break_out_of_the_content_disposition_header(name) -> None:
    header = content_disposition("inline", name)
    assert "\r" not in header and "\n" not in header and "\x00" not in header and header.isascii()
    assert header.count('"') == 2 and header.count(";") == 2
    assert unquote(header.split("filename*=UTF-8''")[1]) == name


def test_the_passage_viewer_shows_document_text_as_text_under_a_script_free_policy(client) -> None:
    response = client.get("/v1/view/sniff.txt")
    policy = response.headers["content-security-policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy and "unsafe" not in policy
    assert "<script>" not in response.text and "&lt;script&gt;" in response.text
    assert PWNED in response.text  # the payload is shown, escaped, not dropped
    assert "<style>" not in response.text and "/static/view.css" in response.text


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.md"
    secret.parent.mkdir()
    secret.write_text(f"# Secret\n\n{CANARY}", encoding="utf-8")
    return secret


def test_a_document_swapped_for_a_symlink_out_of_the_folder_is_not_served(client, corpus, outside) -> None:
    (corpus / "returns.md").unlink()
    (corpus / "returns.md").symlink_to(outside)
    response = client.get(url("returns.md"))
    assert response.status_code == 404 and CANARY not in response.text
    assert response.json()["error"]["code"] == "document_missing"


def test_a_folder_swapped_for_a_symlink_out_of_the_folder_is_not_served(client, corpus, outside) -> None:
    assert client.get(url("guides/secret.md")).status_code == 200
    os.replace(corpus / "guides", corpus.parent / "guides-moved")
    (corpus / "guides").symlink_to(outside.parent, target_is_directory=True)
    response = client.get(url("guides/secret.md"))
    assert response.status_code == 404 and CANARY not in response.text


def test_a_symlink_that_stays_inside_the_folder_is_served(client, corpus) -> None:
    os.replace(corpus / "returns.md", corpus / "returns-real.md")
    (corpus / "returns.md").symlink_to(corpus / "returns-real.md")
    assert client.get(url("returns.md")).text.startswith("# Returns policy")


def test_resolve_inside_refuses_every_way_out(tmp_path: Path, outside: Path) -> None:
    root = write_corpus(tmp_path / "kb", {"a.md": "# A", "sub/b.md": "# B"})
    (root / "link-out.md").symlink_to(outside)
    (root / "dir-out").symlink_to(outside.parent, target_is_directory=True)
    (root / "loop.md").symlink_to(root / "loop.md")
    assert resolve_inside(root, "a.md") == (root / "a.md").resolve()
    assert resolve_inside(root, "sub/b.md") == (root / "sub" / "b.md").resolve()
    for source in [
        "../outside/secret.md",
        "sub/../../outside/secret.md",
        str(outside),
        "link-out.md",
        "dir-out/secret.md",
        "loop.md",
        "a.md\x00.txt",
        "sub",
        "missing.md",
    ]:
        assert resolve_inside(root, source) is None, source
