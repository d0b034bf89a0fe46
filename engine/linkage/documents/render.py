"""Official documents as DOCX (python-docx) and PDF (fpdf2), laid out after GB/T 9704-2012.

Fonts: the DOCX names the standard faces — 方正小标宋简体 for the 版头 and the title, 黑体 for
level-1 headings, 仿宋_GB2312 for the body — as East Asian font names; Word uses them when they
are installed and substitutes its own Chinese faces otherwise (the documented fallback). The PDF
embeds the font it is given: a file on the server (SANJI_PDF_FONT, else Debian's fonts-noto-cjk,
engine/linkage/reports.py `cjk_font`), since PDF readers do not substitute CJK faces themselves.
"""

from __future__ import annotations

import io
from typing import Any

from engine.linkage.documents.content import HEADING, Document
from engine.linkage.reports import PdfUnavailable

RED = (192, 0, 0)
TITLE_FONT, HEADING_FONT, BODY_FONT = "方正小标宋简体", "黑体", "仿宋_GB2312"
UNNUMBERED = "（未编号）"


def _font(run: Any, name: str, size: float, bold: bool = False, color: tuple[int, int, int] | None = None) -> None:
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = RGBColor(*color)
    r_pr = run._element.get_or_add_rPr()
    fonts = r_pr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = r_pr.makeelement(qn("w:rFonts"), {})
        r_pr.append(fonts)
    for attr in ("w:eastAsia", "w:ascii", "w:hAnsi"):
        fonts.set(qn(attr), name)


def _red_rule(paragraph: Any) -> None:
    """The red separator line under the 发文字号 (a bottom border on the paragraph)."""
    from docx.oxml.ns import qn

    p_pr = paragraph._p.get_or_add_pPr()
    border = p_pr.makeelement(qn("w:pBdr"), {})
    bottom = border.makeelement(
        qn("w:bottom"), {qn("w:val"): "single", qn("w:sz"): "12", qn("w:space"): "1", qn("w:color"): "C00000"}
    )
    border.append(bottom)
    p_pr.append(border)


def to_docx(doc: Document) -> bytes:
    from docx import Document as Docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
    from docx.shared import Mm, Pt

    out = Docx()
    section = out.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    normal = out.styles["Normal"]
    normal.paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    normal.paragraph_format.line_spacing = Pt(28)
    normal.paragraph_format.space_after = Pt(0)

    def para(
        text: str,
        font: str,
        size: float,
        align: Any = None,
        indent: bool = False,
        bold: bool = False,
        color: tuple[int, int, int] | None = None,
    ) -> Any:
        p = out.add_paragraph()
        if align is not None:
            p.alignment = align
        if indent:
            p.paragraph_format.first_line_indent = Pt(size * 2)
        _font(p.add_run(text), font, size, bold, color)
        return p

    head = para(
        doc.issuer + "文件" if doc.addressee else doc.issuer, TITLE_FONT, 26, WD_ALIGN_PARAGRAPH.CENTER, color=RED
    )
    head.paragraph_format.line_spacing = Pt(40)
    rule = para(doc.doc_no or UNNUMBERED, BODY_FONT, 16, WD_ALIGN_PARAGRAPH.CENTER)
    _red_rule(rule)
    para("", BODY_FONT, 16)
    title = para(doc.title, TITLE_FONT, 22, WD_ALIGN_PARAGRAPH.CENTER)
    title.paragraph_format.line_spacing = Pt(36)
    para("", BODY_FONT, 16)
    if doc.addressee:
        para(doc.addressee, BODY_FONT, 16)
    for kind, text in doc.body:
        if kind == HEADING:
            para(text, HEADING_FONT, 16, indent=True)
        else:
            para(text, BODY_FONT, 16, indent=True)
    for caption, header, rows in doc.tables:
        if caption:
            para(caption, HEADING_FONT, 16, WD_ALIGN_PARAGRAPH.CENTER)
        table = out.add_table(rows=1 + len(rows), cols=len(header))
        table.style = "Table Grid"
        for r, values in enumerate([header, *rows]):
            for c, value in enumerate(values):
                cell = table.cell(r, c)
                cell.text = ""
                _font(cell.paragraphs[0].add_run(value), HEADING_FONT if r == 0 else BODY_FONT, 12)
                cell.paragraphs[0].paragraph_format.line_spacing = Pt(20)
    para("", BODY_FONT, 16)
    para(doc.signer, BODY_FONT, 16, WD_ALIGN_PARAGRAPH.RIGHT)
    para(doc.date, BODY_FONT, 16, WD_ALIGN_PARAGRAPH.RIGHT)
    buf = io.BytesIO()
    out.save(buf)
    return buf.getvalue()


def to_pdf(doc: Document, font: tuple[str, int] | None, compress: bool = True) -> bytes:
    """A4 with the same parts; `font` is (path, index in a collection) of a CJK font."""
    if font is None:
        raise PdfUnavailable(
            "PDF documents need a Chinese font on the server: install Debian's fonts-noto-cjk "
            "or set SANJI_PDF_FONT to a TTF/TTC file (path#index for a collection)"
        )
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    path, index = font
    if path.lower().endswith(".ttc"):
        pdf.add_font("cjk", "", path, collection_font_number=index)
    else:
        pdf.add_font("cjk", "", path)
    pdf.set_margins(28, 37, 26)
    pdf.set_auto_page_break(True, 35)
    pdf.add_page()
    w = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_text_color(*RED)
    pdf.set_font("cjk", size=26)
    pdf.multi_cell(
        w, 14, doc.issuer + "文件" if doc.addressee else doc.issuer, align="C", new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cjk", size=16)
    pdf.cell(w, 10, doc.doc_no or UNNUMBERED, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(*RED)
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, pdf.get_y() + 2, pdf.l_margin + w, pdf.get_y() + 2)
    pdf.ln(10)
    pdf.set_font("cjk", size=22)
    pdf.multi_cell(w, 12, doc.title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("cjk", size=16)
    if doc.addressee:
        pdf.multi_cell(w, 10, doc.addressee, new_x="LMARGIN", new_y="NEXT")
    for _kind, text in doc.body:
        pdf.multi_cell(w, 10, "　　" + text, new_x="LMARGIN", new_y="NEXT")
    for caption, header, rows in doc.tables:
        pdf.ln(4)
        if caption:
            pdf.set_font("cjk", size=16)
            pdf.cell(w, 10, caption, align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=12)
        with pdf.table(width=int(w), line_height=7, headings_style=FontFace(emphasis=None)) as table:
            for values in [header, *rows]:
                row = table.row()
                for value in values:
                    row.cell(value)
    pdf.ln(10)
    pdf.set_font("cjk", size=16)
    pdf.cell(w, 10, doc.signer, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(w, 10, doc.date, align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
