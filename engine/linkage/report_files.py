"""Linkage reports as files: the XLSX workbook (openpyxl) and the PDF in the official-document
layout (fpdf2 with a CJK font from disk, when one is there) of a report that
engine/linkage/reports.py `build` made. Re-exported from engine.linkage.reports.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from engine.errors import SanjiError
from engine.infra.exports import put
from engine.infra.settings import Settings

CJK_FONTS = (  # Debian's fonts-noto-cjk; the Simplified Chinese face of each collection
    ("/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2),
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2),
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)


class PdfUnavailable(SanjiError):
    status, code = 503, "pdf_unavailable"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


# ---- XLSX -------------------------------------------------------------------------------------------------


def to_xlsx(report: dict[str, Any]) -> bytes:
    """The figures sheet and the text sheet; every cell through engine.infra.exports.put (org names,
    document numbers and record kinds are typed by people and scripts)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    ws = wb.active
    ws.title = "联动情况"
    kinds = report["record_kinds"]
    header = (
        ["单位 / 支部", "承办任务", "已办结", "逾期办结", "按期办结率", "在办", "已逾期", "发起流程"]
        + list(kinds.values())
        + ["学习人数", "每日学习完成率", "每月一文章完成率"]
    )
    width = len(header)
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    center = Alignment(horizontal="center", vertical="center", wrap_text=True)
    lines = [
        (report["issuer"], Font(bold=True, size=16, color="C00000")),
        (report["doc_no"] or "（未编号稿）", Font(size=11)),
        (report["title"], Font(bold=True, size=14)),
        (
            f"统计期间：{report['from']} 至 {report['to']}（截至 {report['as_of'][:10]}）　成文日期：{report['date']}",
            Font(size=10),
        ),
    ]
    for i, (text, font) in enumerate(lines, start=1):
        cell = put(ws, i, 1, text)
        cell.font, cell.alignment = font, center
        ws.merge_cells(start_row=i, start_column=1, end_row=i, end_column=width)
    top = len(lines) + 2
    for c, text in enumerate(header, start=1):
        cell = put(ws, top, c, text)
        cell.font, cell.alignment, cell.border = Font(bold=True), center, box

    def line(values: list[Any], r: int, bold: bool = False) -> None:
        for c, v in enumerate(values, start=1):
            cell = put(ws, r, c, v)
            cell.border = box
            if bold:
                cell.font = Font(bold=True)
            if isinstance(v, float) and c in (5, width - 1, width):
                cell.number_format = "0.0%"

    r = top + 1
    for row in report["rows"] + [{"name": "合计", **report["totals"], "study": report["totals"]["study"] or {}}]:
        t = row["tasks"]
        s = row.get("study") or {}
        line(
            [
                row["name"],
                t["offered"],
                t["completed"],
                t["completed_late"],
                t["on_time_rate"],
                t["open"],
                t["overdue"],
                row["instances"],
            ]
            + [row["records"].get(k, 0) for k in kinds]
            + [s.get("people"), s.get("daily_rate"), s.get("article_rate")],
            r,
            bold=row["name"] == "合计",
        )
        r += 1
    ws.column_dimensions["A"].width = 34
    for c in range(2, width + 1):
        ws.column_dimensions[get_column_letter(c)].width = 12
    text = wb.create_sheet("报告正文")
    text.column_dimensions["A"].width = 100
    for i, para in enumerate(
        [report["title"], report["addressee"]] + report["paragraphs"] + ["", report["issuer"], report["date"]], start=1
    ):
        put(text, i, 1, para).alignment = Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---- PDF --------------------------------------------------------------------------------------------------


def cjk_font(settings: Settings) -> tuple[str, int] | None:
    if settings.pdf_font:
        font, _, number = settings.pdf_font.partition("#")
        return (font, int(number or 0)) if Path(font).is_file() else None
    for path, index in CJK_FONTS:
        if Path(path).is_file():
            return path, index
    return None


def to_pdf(report: dict[str, Any], settings: Settings, compress: bool = True) -> bytes:
    """A4, the official-document layout: red issuer line, document number, red rule, title,
    text, figures table, issuer and date at the end. Needs a CJK font file on disk."""
    font = cjk_font(settings)
    if font is None:
        raise PdfUnavailable(
            "PDF reports need a Chinese font on the server: install Debian's fonts-noto-cjk "
            "or set SANJI_PDF_FONT to a TTF/TTC file (path#index for a collection)"
        )
    try:
        from fpdf import FPDF
    except ImportError:  # pragma: no cover - fpdf2 is a declared dependency
        raise PdfUnavailable("the fpdf2 package is not installed") from None
    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    path, index = font
    if path.lower().endswith(".ttc"):
        pdf.add_font("cjk", "", path, collection_font_number=index)
    else:
        pdf.add_font("cjk", "", path)
    pdf.set_margins(26, 30, 26)
    pdf.set_auto_page_break(True, 25)
    pdf.add_page()
    w = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_text_color(192, 0, 0)
    pdf.set_font("cjk", size=24)
    pdf.cell(w, 14, report["issuer"], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("cjk", size=12)
    pdf.cell(w, 10, report["doc_no"] or "（未编号稿）", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(192, 0, 0)
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, pdf.get_y() + 2, pdf.l_margin + w, pdf.get_y() + 2)
    pdf.ln(8)
    pdf.set_font("cjk", size=16)
    pdf.multi_cell(w, 9, report["title"], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("cjk", size=12)
    pdf.multi_cell(w, 8, report["addressee"], new_x="LMARGIN", new_y="NEXT")
    for para in report["paragraphs"]:
        pdf.multi_cell(w, 8, "　　" + para, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("cjk", size=9)
    cols = ["单位 / 支部", "承办", "办结", "逾期办结", "在办", "已逾期", "每日学习", "每月文章"]
    widths = [w - 7 * 16, 16, 16, 16, 16, 16, 16, 16]
    for text, cw in zip(cols, widths):
        pdf.cell(cw, 7, text, border=1, align="C")
    pdf.ln()
    for row in report["rows"]:
        t, s = row["tasks"], row["study"]
        for text, cw in zip(
            [
                row["name"],
                t["offered"],
                t["completed"],
                t["completed_late"],
                t["open"],
                t["overdue"],
                _pct(s["daily_rate"]),
                _pct(s["article_rate"]),
            ],
            widths,
        ):
            pdf.cell(cw, 7, str(text), border=1, align="L" if cw == widths[0] else "C")
        pdf.ln()
    pdf.ln(10)
    pdf.set_font("cjk", size=12)
    pdf.cell(w, 8, report["issuer"], align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(w, 8, report["date"], align="R", new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
