"""Uploaded file names: nothing a knowledge manager (or an attacker with a manager key) sends escapes the folder."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from assistant.uploads import Incoming, UploadRejected, check_name, save_uploads

HOSTILE_NAMES = [
    "../evil.md",
    "../../etc/cron.d/evil.txt",
    "..",
    "/etc/passwd.txt",
    "/tmp/evil.md",
    "sub/evil.md",
    "..\\evil.md",
    "sub\\evil.md",
    "C:\\Windows\\evil.md",
    "C:evil.md",
    "\\\\server\\share\\evil.md",
    "evil.md\x00.pdf",
    "evil\x00.md",
    "evil\r\n.md",
    "notes\u202etxt.md",  # right-to-left override: shows as "notesdm.txt"
    "\uff0e\uff0e\uff0fevil.md",  # fullwidth "../", folded to "../" by NFKC
    "x" * 253 + ".md",  # 256 bytes: most file systems stop at 255
    "ä" * 127 + ".md",  # only 130 characters, but 257 bytes in UTF-8
    "CON.md",
    "con.txt",
    "NUL.md",
    "nul.tar.md",
    "PRN.html",
    "AUX.pdf",
    "COM1.md",
    "com9.txt",
    "LPT1.docx",
    "lpt¹.md",
    "CON .md",
    "CONIN$.md",
    "report.md.",
    "report.md ",
    "report:stream.md",
    'say "hi".md',
    "what?.md",
    "a|b.md",
    "<script>.html",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(UploadRejected) as refused:
        check_name(name)
    assert refused.value.status == 422 and refused.value.code == "bad_file_name" and refused.value.message


@pytest.mark.parametrize(
    "name",
    ["returns.md", "Zwroty i reklamacje.pdf", "ราคา.txt", "käyttöohje.docx", "CONTRACT.md", "x" * 252 + ".md"],
)
def test_ordinary_names_in_any_language_are_kept(name: str) -> None:
    assert check_name(name) == name


def test_nothing_is_written_outside_the_folder_even_in_a_batch_with_good_files(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    for name in HOSTILE_NAMES[:12]:
        files = [Incoming("fine.md", io.BytesIO(b"# Fine")), Incoming(name, io.BytesIO(b"# Evil"))]
        with pytest.raises(UploadRejected):
            save_uploads(root, files, 1000)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["kb"]


def test_an_upload_over_a_symlink_replaces_the_link_not_the_file_it_points_to(tmp_path: Path) -> None:
    root, outside = tmp_path / "kb", tmp_path / "outside.md"
    root.mkdir()
    outside.write_text("# Outside, must stay as it is", encoding="utf-8")
    (root / "linked.md").symlink_to(outside)
    saved = save_uploads(root, [Incoming("linked.md", io.BytesIO(b"# Uploaded"))], 1000)
    assert saved[0].replaced is True
    assert outside.read_text(encoding="utf-8") == "# Outside, must stay as it is"
    assert not (root / "linked.md").is_symlink() and (root / "linked.md").read_bytes() == b"# Uploaded"
