"""Build the binary documents (PDF, DOCX) of the demo knowledge base from demo/sources/.

Each source is a small Markdown subset: `#`/`##`/`###` headings, paragraphs (blank-line
separated), `- ` bullets, `1. ` numbered items, pipe tables (first row is the header) and
`<!-- pagebreak -->` (PDF only). The text formats (.md/.html/.txt) of the knowledge base are
written by hand in demo/knowledge_base/ and are not touched here.

Output is deterministic: fixed PDF creation dates, fixed DOCX core properties and zip timestamps.

    .venv/bin/python demo/build_demo_kb.py
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
OUT = HERE / "knowledge_base"
FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FIXED_DATE = datetime(2025, 3, 1, 9, 0, 0, tzinfo=UTC)
AUTHOR = "Nordvik Home"

# source file in demo/sources/  ->  (output file in demo/knowledge_base/, language)
BUILD: dict[str, tuple[str, str]] = {
    "shipping-international.md": ("shipping-international.pdf", "en"),
    "warranty-terms.md": ("warranty-terms.pdf", "en"),
    "tilauksen-muutokset-ja-peruutukset.md": ("tilauksen-muutokset-ja-peruutukset.pdf", "fi"),
    "odstapienie-od-umowy.md": ("odstapienie-od-umowy.pdf", "pl"),
    "agent-escalation-rules.md": ("agent-escalation-rules.docx", "en"),
    "tone-of-voice-guide.md": ("tone-of-voice-guide.docx", "en"),
    "toimitukset-suomi.md": ("toimitukset-suomi.docx", "fi"),
    "dostawa-i-paczkomaty.md": ("dostawa-i-paczkomaty.docx", "pl"),
    "thailand-shipping.md": ("thailand-shipping.docx", "th"),
}


# --------------------------------------------------------------------------- parsing


@dataclass
class Block:
    kind: str  # "heading", "paragraph", "bullet", "number", "table", "pagebreak"
    text: str = ""
    level: int = 0
    rows: list[list[str]] = field(default_factory=list)


def parse(source: str) -> list[Block]:
    """Parse the Markdown subset into a flat list of blocks."""
    blocks: list[Block] = []
    para: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if para:
            blocks.append(Block("paragraph", " ".join(para)))
            para.clear()
        if table:
            blocks.append(Block("table", rows=[row[:] for row in table]))
            table.clear()

    for raw in source.splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        if line == "<!-- pagebreak -->":
            flush()
            blocks.append(Block("pagebreak"))
            continue
        if line.startswith("|"):
            if para:
                flush()
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if all(re.fullmatch(r":?-{3,}:?", cell) for cell in cells):
                continue  # header separator row
            table.append(cells)
            continue
        heading = re.match(r"^(#{1,3})\s+(.*)$", line)
        if heading:
            flush()
            blocks.append(Block("heading", heading.group(2), level=len(heading.group(1))))
            continue
        if line.startswith("- "):
            flush()
            blocks.append(Block("bullet", line[2:]))
            continue
        numbered = re.match(r"^\d+\.\s+(.*)$", line)
        if numbered:
            flush()
            blocks.append(Block("number", numbered.group(1)))
            continue
        if table:
            flush()
        para.append(line)
    flush()
    return blocks


# --------------------------------------------------------------------------- PDF


def build_pdf(blocks: list[Block], target: Path, lang: str) -> None:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    title = next(b.text for b in blocks if b.kind == "heading" and b.level == 1)

    class Pdf(FPDF):
        def header(self) -> None:
            self.set_font("DejaVu", "", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 6, "Nordvik Home", align="R", new_x="LMARGIN", new_y="NEXT")
            self.ln(2)
            self.set_text_color(0, 0, 0)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("DejaVu", "", 8)
            self.set_text_color(110, 110, 110)
            self.cell(0, 8, f"{title}  |  {self.page_no()}/{{nb}}", align="C")
            self.set_text_color(0, 0, 0)

    pdf = Pdf(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(title)
    pdf.set_author(AUTHOR)
    pdf.set_creator("demo/build_demo_kb.py")
    pdf.set_lang(lang)
    pdf.add_font("DejaVu", "", str(FONT_DIR / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(FONT_DIR / "DejaVuSans-Bold.ttf"))
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    body = 10.5
    line_h = 5.6
    numbered = 0

    for block in blocks:
        if block.kind != "number":
            numbered = 0
        if block.kind == "pagebreak":
            pdf.add_page()
        elif block.kind == "heading":
            size = {1: 18, 2: 13, 3: 11.5}[block.level]
            pdf.ln(3 if block.level > 1 else 0)
            pdf.set_font("DejaVu", "B", size)
            pdf.multi_cell(0, size * 0.55, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2)
        elif block.kind == "paragraph":
            pdf.set_font("DejaVu", "", body)
            pdf.multi_cell(0, line_h, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.ln(2.5)
        elif block.kind in ("bullet", "number"):
            numbered += 1
            marker = "•" if block.kind == "bullet" else f"{numbered}."
            pdf.set_font("DejaVu", "", body)
            pdf.set_x(pdf.l_margin + 3)
            pdf.cell(6, line_h, marker)
            pdf.set_left_margin(pdf.l_margin + 9)
            pdf.multi_cell(0, line_h, block.text, new_x="LMARGIN", new_y="NEXT")
            pdf.set_left_margin(pdf.l_margin - 9)
            pdf.ln(1)
        elif block.kind == "table":
            pdf.set_font("DejaVu", "", 9)
            with pdf.table(
                line_height=5,
                headings_style=FontFace(emphasis="BOLD", fill_color=(225, 232, 240)),
                text_align="LEFT",
            ) as table:
                for row in block.rows:
                    cells = table.row()
                    for cell in row:
                        cells.cell(cell)
            pdf.ln(3)
    pdf.output(str(target))


# --------------------------------------------------------------------------- DOCX


def build_docx(blocks: list[Block], target: Path, lang: str) -> None:
    from docx import Document
    from docx.shared import Pt

    doc = Document()
    title = next(b.text for b in blocks if b.kind == "heading" and b.level == 1)
    props = doc.core_properties
    props.title = title
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.language = lang
    props.created = FIXED_DATE.replace(tzinfo=None)
    props.modified = FIXED_DATE.replace(tzinfo=None)
    props.revision = 1
    doc.styles["Normal"].font.size = Pt(10.5)

    for block in blocks:
        if block.kind == "heading":
            doc.add_heading(block.text, level=block.level)
        elif block.kind == "paragraph":
            doc.add_paragraph(block.text)
        elif block.kind == "bullet":
            doc.add_paragraph(block.text, style="List Bullet")
        elif block.kind == "number":
            doc.add_paragraph(block.text, style="List Number")
        elif block.kind == "table":
            header, *rows = block.rows
            table = doc.add_table(rows=1, cols=len(header))
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, header, strict=True):
                cell.text = ""
                run = cell.paragraphs[0].add_run(text)
                run.bold = True
            for row in rows:
                cells = table.add_row().cells
                for cell, text in zip(cells, row, strict=True):
                    cell.text = text
            doc.add_paragraph()
        # page breaks are a PDF layout concern; DOCX sources do not use them

    buffer = io.BytesIO()
    doc.save(buffer)
    _write_normalized_zip(buffer.getvalue(), target)


def _write_normalized_zip(data: bytes, target: Path) -> None:
    """Rewrite the DOCX zip with fixed timestamps so repeated builds give identical bytes."""
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=(2025, 3, 1, 9, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, src.read(item.filename))


# --------------------------------------------------------------------------- main


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for source_name, (output_name, lang) in BUILD.items():
        blocks = parse((SOURCES / source_name).read_text(encoding="utf-8"))
        target = OUT / output_name
        if target.suffix == ".pdf":
            build_pdf(blocks, target, lang)
        elif target.suffix == ".docx":
            build_docx(blocks, target, lang)
        else:
            raise ValueError(f"unsupported output format: {output_name}")
        print(f"{output_name:45s} {target.stat().st_size / 1024:6.1f} KB")


if __name__ == "__main__":
    main()
