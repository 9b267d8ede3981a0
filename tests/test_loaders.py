"""Loaders: text, structure and offsets for each format, and a typed error for each bad input."""

from __future__ import annotations

import io
import os
import unicodedata
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from ingest import loaders
from ingest.chunker import chunk_document
from ingest.documents import Block, Document
from ingest.errors import (
    CorruptDocument,
    EmptyDocument,
    EncryptedDocument,
    IngestError,
    NoTextLayer,
    TooLarge,
    UndecodableText,
    UnsupportedFormat,
)
from ingest.loaders import SUPPORTED_SUFFIXES, load_document
from ingest.loaders._pdf_layout import PdfLine, drop_running_lines
from ingest.loaders.docx import load_docx
from ingest.loaders.pdf import split_paragraphs
from tests.documents import FONT, make_pdf

BOLD_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"

FI_RETURNS = (
    "Tuotteen voi palauttaa neljäntoista päivän kuluessa ostosta, kun kuitti ja alkuperäinen "
    "pakkaus ovat tallessa. Palautus käsitellään viiden arkipäivän aikana."
)
PL_RETURNS = "Zwrot towaru jest możliwy w ciągu czternastu dni. Źródło: dział obsługi, Łódź."
TH_RETURNS = "ลูกค้าสามารถคืนสินค้าได้ภายในสิบสี่วัน"


def check_invariants(doc: Document) -> None:
    """Every block is exactly its slice of the text, in order, and the text is only blocks."""
    assert doc.language is None
    assert doc.text == unicodedata.normalize("NFC", doc.text)
    previous_end = -1
    for block in doc.blocks:
        piece = doc.text[block.start : block.end]
        assert piece and piece == piece.strip()
        assert block.start > previous_end
        previous_end = block.end
        if block.kind == "heading":
            assert block.level >= 1 and block.headings[-1] == piece
        else:
            assert block.level == 0
    assert "\n\n".join(doc.text[b.start : b.end] for b in doc.blocks) == doc.text


def block_with(doc: Document, phrase: str) -> Block:
    """The first block whose text contains `phrase`."""
    return next(b for b in doc.blocks if phrase in doc.text[b.start : b.end])


def write(tmp_path: Path, name: str, data: bytes | str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode(encoding) if isinstance(data, str) else data)
    return path


@pytest.fixture(scope="module")
def two_page_pdf() -> bytes:
    return make_pdf([f"Palautusohje\n\n{FI_RETURNS}\n\nToinen kappale.", f"Sivu 2\n\n{PL_RETURNS}"])


# --- PDF ---------------------------------------------------------------------------------------


def test_pdf_text_pages_and_title(tmp_path: Path, two_page_pdf: bytes) -> None:
    doc = load_document(write(tmp_path, "ohje.PDF", two_page_pdf), "kb/ohje.PDF")
    check_invariants(doc)
    assert doc.source == "kb/ohje.PDF"
    assert doc.title == "Palautusohje"
    assert block_with(doc, "Łódź").page == 2
    assert block_with(doc, "viiden arkipäivän").page == 1
    assert "palauttaa neljäntoista päivän" in doc.text  # wrapped lines joined with a space
    assert doc.text[block_with(doc, "Toinen").start : block_with(doc, "Toinen").end] == ("Toinen kappale.")
    assert doc.metadata["pages"] == "2"


def test_pdf_metadata_title_wins(tmp_path: Path) -> None:
    data = make_pdf(["Palautusohje\n\nTeksti."], title="Asiakaspalvelun käsikirja")
    assert load_document(write(tmp_path, "a.pdf", data), "a.pdf").title == ("Asiakaspalvelun käsikirja")


def test_pdf_paragraphs_and_hyphenation() -> None:
    lines = [
        ("Tuotteen palauttaminen on mahdollista neljäntoista päivän ajan, kun tuot-", 700.0),
        ("teen pakkaus on ehjä ja EU-", 686.0),
        ("maiden säännöt täyttyvät kaikilta osin ja kuitti on myös tal\u00ad", 672.0),
        ("lessa, mikä tarkistetaan kassalla ennen kuin palautus hyväksytään.", 658.0),
        ("Uusi kappale alkaa pienen välin jälkeen ja jatkuu vielä pitkään samalla", 630.0),
        ("rivillä.", 616.0),
        ("Lyhyt rivi päättää kappaleen.", None),
        ("Viimeinen kappale.", None),
    ]
    assert split_paragraphs(lines) == [
        "Tuotteen palauttaminen on mahdollista neljäntoista päivän ajan, kun tuotteen pakkaus on "
        "ehjä ja EU-maiden säännöt täyttyvät kaikilta osin ja kuitti on myös tallessa, mikä "
        "tarkistetaan kassalla ennen kuin palautus hyväksytään.",
        "Uusi kappale alkaa pienen välin jälkeen ja jatkuu vielä pitkään samalla rivillä.",
        "Lyhyt rivi päättää kappaleen.",
        "Viimeinen kappale.",
    ]


def test_pdf_password_protected(tmp_path: Path) -> None:
    path = write(tmp_path, "salainen.pdf", make_pdf(["Salaista tekstiä."], user_password="secret"))
    with pytest.raises(EncryptedDocument) as info:
        load_document(path, "salainen.pdf")
    assert "salainen.pdf" in info.value.message and "password" in info.value.message


def test_pdf_encrypted_with_empty_password_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "oikeudet.pdf", make_pdf([f"Ohje\n\n{FI_RETURNS}"], user_password=""))
    doc = load_document(path, "oikeudet.pdf")
    check_invariants(doc)
    assert "neljäntoista päivän" in doc.text


@pytest.mark.parametrize("fraction", [0.0005, 0.1, 0.5, 0.9, 0.995])
def test_pdf_truncated(tmp_path: Path, two_page_pdf: bytes, fraction: float) -> None:
    cut = two_page_pdf[: max(1, int(len(two_page_pdf) * fraction))]
    with pytest.raises(CorruptDocument) as info:
        load_document(write(tmp_path, "katkennut.pdf", cut), "katkennut.pdf")
    assert "katkennut.pdf" in info.value.message


@pytest.mark.parametrize("name", ["roska.pdf", "roska.docx"])
def test_random_bytes(tmp_path: Path, name: str) -> None:
    data = bytes(range(256)) * 4 + os.urandom(1000)
    with pytest.raises(CorruptDocument) as info:
        load_document(write(tmp_path, name, data), name)
    assert name in info.value.message


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 80, 40)
    path = write(tmp_path, "skannattu.pdf", bytes(pdf.output()))
    with pytest.raises(NoTextLayer) as info:
        load_document(path, "skannattu.pdf")
    assert "skannattu.pdf" in info.value.message and "OCR" in info.value.message


class HandbookPdf(FPDF):
    """A styled PDF with a running header and a footer carrying the page number."""

    def header(self) -> None:
        self.set_font("DejaVu", "", 8)
        self.cell(0, 6, "Nordvik Home", align="R", new_x="LMARGIN", new_y="NEXT")
        self.ln(2)

    def footer(self) -> None:
        self.set_y(-15)
        self.set_font("DejaVu", "", 8)
        self.cell(0, 8, f"Palautusopas | Sivu {self.page_no()}/{{nb}}", align="C")


def make_styled_pdf(parts: list[tuple[str, str]]) -> bytes:
    """Render ("h1" / "h2" / "h3" / "p" / "bullet" / "page", text) parts with fpdf2."""
    pdf = HandbookPdf()
    pdf.add_font("DejaVu", "", FONT)
    pdf.add_font("DejaVu", "B", BOLD_FONT)
    pdf.add_page()
    for kind, text in parts:
        if kind == "page":
            pdf.add_page()
        elif kind in ("h1", "h2", "h3"):
            size = {"h1": 18, "h2": 14, "h3": 11}[kind]
            pdf.ln(3)
            pdf.set_font("DejaVu", "B", size)
            pdf.multi_cell(0, size * 0.55, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif kind == "bullet":
            marker, _, item = text.partition(" ")
            pdf.set_font("DejaVu", "", 11)
            pdf.set_x(pdf.l_margin + 3)
            pdf.cell(6, 6, marker)
            pdf.multi_cell(0, 6, item, new_x="LMARGIN", new_y="NEXT")
        else:
            pdf.set_font("DejaVu", "", 11)
            pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2.5)
    return bytes(pdf.output())


@pytest.fixture(scope="module")
def handbook_pdf() -> bytes:
    return make_styled_pdf(
        [
            ("h1", "Palautusopas"),
            ("p", FI_RETURNS),
            ("h2", "Palautuksen vaiheet"),
            ("p", "Toimi näin:"),
            ("bullet", "• Tulosta palautuslomake."),
            (
                "bullet",
                "• Pakkaa tuote alkuperäiseen pakkaukseen ja liitä kuitti mukaan, jotta palautus voidaan "
                "käsitellä nopeasti ilman lisäselvityksiä.",
            ),
            ("bullet", "- Vie paketti noutopisteeseen."),
            ("p", "Hyvitys maksetaan samalle maksutavalle."),
            ("h3", "Huonekalut"),
            ("p", "Huonekalut noudetaan kotoa sovittuna päivänä."),
            ("page", ""),
            ("h2", "Zwroty w Polsce"),
            ("p", PL_RETURNS),
            ("bullet", "1. Wypełnij formularz."),
            ("bullet", "2. Wyślij paczkę."),
        ]
    )


def test_pdf_headings_from_font_sizes(tmp_path: Path, handbook_pdf: bytes) -> None:
    doc = load_document(write(tmp_path, "opas.pdf", handbook_pdf), "opas.pdf")
    check_invariants(doc)
    assert doc.title == "Palautusopas"
    headings = [(doc.text[b.start : b.end], b.level, b.page) for b in doc.blocks if b.kind == "heading"]
    assert headings == [
        ("Palautusopas", 1, 1),
        ("Palautuksen vaiheet", 2, 1),
        ("Huonekalut", 3, 1),
        ("Zwroty w Polsce", 2, 2),
    ]
    assert block_with(doc, "neljäntoista").headings == ("Palautusopas",)
    assert block_with(doc, "noudetaan kotoa").headings == ("Palautusopas", "Palautuksen vaiheet", "Huonekalut")
    assert block_with(doc, "Łódź").headings == ("Palautusopas", "Zwroty w Polsce")


def test_pdf_running_header_and_footer_dropped(tmp_path: Path, handbook_pdf: bytes) -> None:
    doc = load_document(write(tmp_path, "opas.pdf", handbook_pdf), "opas.pdf")
    assert "Nordvik Home" not in doc.text
    assert "Sivu" not in doc.text and "Palautusopas |" not in doc.text
    assert doc.text.startswith("Palautusopas\n\n")


def test_pdf_single_page_keeps_header_but_not_page_number(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_font("DejaVu", fname=FONT)
    pdf.set_font("DejaVu", size=11)
    pdf.add_page()
    for line in ["Nordvik Home", FI_RETURNS, "- 1 -"]:
        pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
    doc = load_document(write(tmp_path, "yksi.pdf", bytes(pdf.output())), "yksi.pdf")
    assert [doc.text[b.start : b.end][:12] for b in doc.blocks] == ["Nordvik Home", FI_RETURNS[:12]]


def test_running_lines_match_with_page_numbers_normalised() -> None:
    pages = [
        [PdfLine("Käsikirja"), PdfLine(f"{word} alkaa."), PdfLine(f"{word} jatkuu."), PdfLine(f"Page {n} of 3")]
        for n, word in enumerate(["Palautus", "Vaihto", "Hyvitys"], start=1)
    ]
    pages[1][-1] = PdfLine("- 2 -")
    assert [[line.text for line in lines] for lines in drop_running_lines(pages)] == [
        [f"{word} alkaa.", f"{word} jatkuu."] for word in ["Palautus", "Vaihto", "Hyvitys"]
    ]


def test_pdf_bullets_are_list_items(tmp_path: Path, handbook_pdf: bytes) -> None:
    doc = load_document(write(tmp_path, "opas.pdf", handbook_pdf), "opas.pdf")
    steps = block_with(doc, "palautuslomake")
    assert steps.kind == "list"
    assert doc.text[steps.start : steps.end].split("\n") == [
        "• Tulosta palautuslomake.",
        "• Pakkaa tuote alkuperäiseen pakkaukseen ja liitä kuitti mukaan, jotta palautus voidaan "
        "käsitellä nopeasti ilman lisäselvityksiä.",
        "- Vie paketti noutopisteeseen.",
    ]
    assert block_with(doc, "Hyvitys maksetaan").kind == "paragraph"
    assert block_with(doc, "Toimi näin").kind == "paragraph"
    numbered = block_with(doc, "Wypełnij")
    assert doc.text[numbered.start : numbered.end] == "1. Wypełnij formularz.\n2. Wyślij paczkę."


def test_pdf_dash_inside_a_sentence_is_not_a_bullet() -> None:
    lines = [("Tuotteen voi palauttaa neljäntoista päivän kuluessa ostosta, ja palautusaika", 700.0)]
    lines += [("– kuten kuluttajansuojalaki edellyttää – alkaa tuotteen vastaanottamisesta.", 686.0)]
    assert len(split_paragraphs(lines)) == 1


def test_pdf_chunks_stay_on_one_page(tmp_path: Path) -> None:
    # A paragraph long enough to flow over the page break.
    data = make_styled_pdf([("h1", "Palautusopas"), ("p", " ".join([FI_RETURNS] * 30)), ("p", "Viimeinen kappale.")])
    doc = load_document(write(tmp_path, "pitka.pdf", data), "pitka.pdf")
    check_invariants(doc)
    assert {b.page for b in doc.blocks} == {1, 2}
    chunks = chunk_document(doc, lambda text: len(text.split()), max_tokens=1000, min_tokens=40)
    assert [chunk.page for chunk in chunks] == [1, 2]
    for chunk in chunks:
        pages = {b.page for b in doc.blocks if b.kind != "heading" and chunk.start <= b.start < chunk.end}
        assert pages == {chunk.page}
        assert chunk.section == "Palautusopas"


# --- DOCX --------------------------------------------------------------------------------------


def make_docx(title: str = "") -> bytes:
    document = docx.Document()
    document.core_properties.title = title
    document.add_heading("Zwroty i reklamacje", 0)
    document.add_paragraph("Wstęp do procedury zwrotów.")
    document.add_heading("Zwrot towaru", 1)
    document.add_paragraph(PL_RETURNS)
    document.add_paragraph("paragon", style="List Bullet")
    document.add_paragraph("oryginalne opakowanie", style="List Bullet")
    document.add_heading("Koszty", 2)
    table = document.add_table(rows=3, cols=3)
    for row, values in enumerate([["Produkt", "Cena", "Termin"], ["Łódka", "120 zł", "14 dni"]]):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    merged = table.cell(2, 0).merge(table.cell(2, 2))
    merged.text = "Wszystkie ceny zawierają VAT"
    document.add_heading("Reklamacje", 1)
    document.add_paragraph("Reklamację składa się pisemnie.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_structure(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "zwroty.docx", make_docx()), "pl/zwroty.docx")
    check_invariants(doc)
    assert doc.title == "Zwroty i reklamacje"
    body = block_with(doc, "czternastu dni")
    assert body.kind == "paragraph"
    assert body.headings == ("Zwrot towaru",)
    heading = block_with(doc, "Koszty")
    assert (heading.kind, heading.level) == ("heading", 2)
    assert heading.headings == ("Zwrot towaru", "Koszty")
    table = block_with(doc, "Produkt")
    assert table.kind == "table"
    assert doc.text[table.start : table.end] == (
        "Produkt | Cena | Termin\nŁódka | 120 zł | 14 dni\nWszystkie ceny zawierają VAT"
    )
    assert table.headings == ("Zwrot towaru", "Koszty")
    items = block_with(doc, "paragon")
    assert items.kind == "list"
    assert doc.text[items.start : items.end] == "paragon\noryginalne opakowanie"
    assert block_with(doc, "pisemnie").headings == ("Reklamacje",)


def test_docx_core_title(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "z.docx", make_docx(title="Polityka zwrotów")), "z.docx")
    assert doc.title == "Polityka zwrotów"


def test_docx_zip_bomb_too_large(tmp_path: Path) -> None:
    path = tmp_path / "pommi.docx"
    # 300 MB of zeros streamed in 4 MB pieces: about 300 KB on disk, under a second to write.
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("word/document.xml", "w") as entry,
    ):
        piece = bytes(4 << 20)
        for _ in range(75):
            entry.write(piece)
    with pytest.raises(TooLarge) as info:
        load_document(path, "pommi.docx")
    assert "pommi.docx" in info.value.message


def test_docx_suspicious_compression(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", bytes(20_000_000))
    with pytest.raises(CorruptDocument) as info:
        load_docx(buffer.getvalue(), "pommi.docx")
    assert "pommi.docx" in info.value.message and "zip bomb" in info.value.message
    with pytest.raises(TooLarge):
        load_docx(buffer.getvalue(), "pommi.docx", max_unpacked=1_000_000)


def test_docx_zip_without_word_parts(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hei")
    with pytest.raises(CorruptDocument) as info:
        load_document(write(tmp_path, "vaara.docx", buffer.getvalue()), "vaara.docx")
    assert "vaara.docx" in info.value.message


# --- HTML --------------------------------------------------------------------------------------

PAGE = f"""<!DOCTYPE html>
<html lang="fi"><head><meta charset="utf-8"><title>Palautukset | Kauppa</title>
<style>.x {{ color: red }}</style><script>var piilo = "skriptiteksti";</script></head>
<body>
<header><a href="/">Etusivu</a> Sivuston ylätunniste</header>
<nav><ul><li>Valikko</li></ul></nav>
<main>
  <h1>Palautukset</h1>
  <p>{FI_RETURNS}</p>
  <div hidden>Piilotettu teksti</div>
  <p style="display: none">Näkymätön kappale</p>
  <span aria-hidden="true">Ruudunlukijalta piilossa</span>
  <h2>Hinnat</h2>
  <table><tr><th>Tuote</th><th>Hinta</th></tr><tr><td>Kenkä</td><td>49 €</td></tr></table>
  <ul><li>Kuitti</li><li>Pakkaus <b>ehjä</b></li></ul>
  <h2>ภาษาไทย</h2>
  <p>{TH_RETURNS}<br>rivi kaksi</p>
  <aside>Mainos</aside>
  <form><label>Hae</label></form>
  <noscript>Ota JavaScript käyttöön</noscript>
</main>
<footer>Alatunniste © 2024</footer>
</body></html>"""


def test_html_main_content(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "palautus.html", PAGE), "web/palautus.html")
    check_invariants(doc)
    assert doc.title == "Palautukset | Kauppa"
    assert doc.metadata["html_lang"] == "fi"
    for hidden in (
        "skriptiteksti",
        "Etusivu",
        "ylätunniste",
        "Valikko",
        "Piilotettu",
        "Näkymätön",
        "Ruudunlukijalta",
        "Mainos",
        "Hae",
        "JavaScript",
        "Alatunniste",
        "color",
    ):
        assert hidden not in doc.text
    assert block_with(doc, "neljäntoista").headings == ("Palautukset",)
    table = block_with(doc, "Tuote")
    assert (table.kind, doc.text[table.start : table.end]) == (
        "table",
        "Tuote | Hinta\nKenkä | 49 €",
    )
    assert table.headings == ("Palautukset", "Hinnat")
    assert doc.text[block_with(doc, "Pakkaus").start : block_with(doc, "Pakkaus").end] == ("Pakkaus ehjä")
    thai = block_with(doc, TH_RETURNS)
    assert thai.headings == ("Palautukset", "ภาษาไทย")
    assert doc.text[thai.start : thai.end] == f"{TH_RETURNS}\nrivi kaksi"


def test_html_meta_charset_and_h1_title(tmp_path: Path) -> None:
    page = f'<html><head><meta charset="windows-1250"></head><body><h1>Zwroty</h1><p>{PL_RETURNS}'
    doc = load_document(write(tmp_path, "zwroty.htm", page, "cp1250"), "zwroty.htm")
    check_invariants(doc)
    assert doc.title == "Zwroty"
    assert PL_RETURNS in doc.text


def test_html_deeply_nested(tmp_path: Path) -> None:
    page = "<html><body>" + "<div>" * 5000 + "<p>syvällä</p>" + "</div>" * 5000 + "<p>loppu</p>"
    doc = load_document(write(tmp_path, "syva.html", page), "syva.html")
    check_invariants(doc)
    assert doc.text == "syvällä\n\nloppu"


# --- Markdown ----------------------------------------------------------------------------------

MARKDOWN = f"""---
layout: page
---
# Palautusohje

Johdanto **lihavoitu** ja [linkki ohjeeseen](https://example.com/ohje) sekä ![Kuitin kuva](k.png).

Toimitus
--------

{FI_RETURNS}

### Muistilista

- kuitti
- pakkaus
  - alkuperäinen

```
koodi   rivi 1
rivi 2
```

| Maa | Aika |
|-----|------|
| Suomi | 14 pv |

# Polski

{PL_RETURNS}
"""


def test_markdown_structure(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "ohje.md", MARKDOWN), "ohje.md")
    check_invariants(doc)
    assert doc.title == "Palautusohje"
    assert "layout" not in doc.text
    intro = block_with(doc, "Johdanto")
    assert doc.text[intro.start : intro.end] == ("Johdanto lihavoitu ja linkki ohjeeseen sekä Kuitin kuva.")
    assert block_with(doc, "Toimitus").headings == ("Palautusohje", "Toimitus")
    assert block_with(doc, "neljäntoista").headings == ("Palautusohje", "Toimitus")
    checklist = block_with(doc, "kuitti\n")
    assert checklist.kind == "list"
    assert checklist.headings == ("Palautusohje", "Toimitus", "Muistilista")
    assert doc.text[checklist.start : checklist.end] == "- kuitti\n- pakkaus\n- alkuperäinen"
    code = block_with(doc, "koodi")
    assert doc.text[code.start : code.end] == "koodi rivi 1\nrivi 2"
    table = block_with(doc, "Maa")
    assert (table.kind, doc.text[table.start : table.end]) == ("table", "Maa | Aika\nSuomi | 14 pv")
    assert block_with(doc, "Łódź").headings == ("Polski",)
    assert "#" not in doc.text and "](" not in doc.text


def test_markdown_title_falls_back_to_stem(tmp_path: Path) -> None:
    path = write(tmp_path, "muistio.markdown", "## Alaotsikko\n\nTeksti.")
    assert load_document(path, "muistio.markdown").title == "muistio"


@pytest.mark.parametrize(
    "name",
    [
        "f5844a8881e6fc71cf049da8122a6d7ad6c490882b6b4aa94e396cae86fecdf9.txt",
        "123e4567-e89b-12d3-a456-426614174000.md",
        "360012345678.html",
        "2024-01-05.txt",
    ],
)
def test_a_file_named_by_an_identifier_gets_no_title(tmp_path: Path, name: str) -> None:
    """A hash or ticket number says nothing; as a title it would be embedded with every passage."""
    from ingest.chunker import chunk_document, embedding_text

    # One line longer than a title can be, so plain text takes no title from its first line either.
    body = (
        "Refunds reach the customer's card within five working days of the return arriving at our "
        "warehouse; card issuers may take two more days to show it."
    )
    path = write(tmp_path, name, f"<p>{body}</p>" if name.endswith(".html") else body)
    doc = load_document(path, name)
    assert doc.title == ""
    chunk = chunk_document(doc, lambda text: len(text.split()), 200, 0)[0]
    assert embedding_text(chunk) == body


# --- Plain text --------------------------------------------------------------------------------

PL_LONG = (
    "Zwrot towaru\n\nKlient może zwrócić towar w ciągu czternastu dni. Należy zachować paragon i "
    "oryginalne opakowanie. Źródło: dział obsługi klienta, Łódź. Świadczenie obejmuje również "
    "uszkodzenia powstałe podczas transportu."
)
FI_LONG = (
    "Palautusohje\n\nTuotteen voi palauttaa neljäntoista päivän kuluessa. Säilytä kuitti ja "
    "alkuperäinen pakkaus. Ahvenanmaa on ruotsiksi Åland ja öljy on öljyä."
)


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (PL_LONG, "cp1250"),
        (FI_LONG, "cp1252"),
        (FI_LONG, "latin-1"),
        (PL_LONG, "utf-8-sig"),
        (f"ภาษาไทย\n\n{TH_RETURNS}", "utf-8"),
        (FI_LONG, "utf-16"),
    ],
)
def test_text_encodings(tmp_path: Path, text: str, encoding: str) -> None:
    doc = load_document(write(tmp_path, "ohje.txt", text, encoding), "ohje.txt")
    check_invariants(doc)
    title, body = text.split("\n\n")
    assert doc.title == title
    assert doc.text == f"{title}\n\n{body}"
    assert [b.kind for b in doc.blocks] == ["paragraph", "paragraph"]


def test_text_paragraphs_and_normalization(tmp_path: Path) -> None:
    decomposed = unicodedata.normalize("NFD", "Päivä")
    text = f"{'x' * 120}\r\n\r\n  {decomposed}\t\t ja  yö  \nrivi kaksi\n\n\n\nLoppu.\n"
    doc = load_document(write(tmp_path, "pitka.TXT", text), "pitka.TXT")
    check_invariants(doc)
    assert doc.title == "pitka"
    assert doc.text == f"{'x' * 120}\n\nPäivä ja yö\nrivi kaksi\n\nLoppu."


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 3,
        bytes(range(1, 32)) * 20,
        b"\x81\x8d\x8f\x90\x9d\xff\xfe\xfd\xfc" * 40,
    ],
    ids=["binary", "control-characters", "invalid-bytes"],
)
def test_text_undecodable(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(UndecodableText) as info:
        load_document(write(tmp_path, "sekava.txt", data), "sekava.txt")
    assert "sekava.txt" in info.value.message


# --- Dispatch ----------------------------------------------------------------------------------


def test_supported_suffixes() -> None:
    expected = {".pdf", ".docx", ".html", ".htm", ".md", ".markdown", ".txt"}
    assert expected == SUPPORTED_SUFFIXES


@pytest.mark.parametrize("name", ["tyhja.txt", "tyhja.pdf", "tyhja.docx"])
def test_zero_bytes(tmp_path: Path, name: str) -> None:
    with pytest.raises(EmptyDocument) as info:
        load_document(write(tmp_path, name, b""), name)
    assert name in info.value.message


@pytest.mark.parametrize(
    ("name", "data"),
    [("tyhja.txt", " \n\t\n "), ("tyhja.html", "<html><nav>vain valikko</nav></html>")],
)
def test_no_text_after_extraction(tmp_path: Path, name: str, data: str) -> None:
    with pytest.raises(EmptyDocument) as info:
        load_document(write(tmp_path, name, data), name)
    assert name in info.value.message


def test_unsupported_suffix(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedFormat) as info:
        load_document(write(tmp_path, "taulukko.xyz", "a,b"), "taulukko.xyz")
    assert "taulukko.xyz" in info.value.message and ".xyz" in info.value.message


def test_too_large_checked_before_reading(tmp_path: Path) -> None:
    path = write(tmp_path, "iso.txt", "a" * 2000)
    with pytest.raises(TooLarge) as info:
        load_document(path, "iso.txt", max_bytes=1000)
    assert "iso.txt" in info.value.message


def test_missing_file_is_an_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as info:
        load_document(tmp_path / "poistettu.md", "poistettu.md")
    assert "poistettu.md" in info.value.message


def test_unexpected_failure_is_wrapped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(data: bytes, source: str) -> Document:
        raise ValueError("odottamaton tila")

    monkeypatch.setitem(loaders._LOADERS, ".txt", (explode, "text file"))
    with pytest.raises(CorruptDocument) as info:
        load_document(write(tmp_path, "rikki.txt", "hei"), "rikki.txt")
    assert "rikki.txt" in info.value.message and "odottamaton tila" in info.value.message
