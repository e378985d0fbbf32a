"""A look-alike misread of the department's name (岚县 read as 质县) is outvoted document-wide."""
from extractor.kpi.vote import vote_names
from extractor.model import Cell, Document, Page, Paragraph, Project, Table


def _table(i, dept, cell_text):
    return Table(id=f"p{i}-t0", bbox=[0, 0, 100, 100], n_rows=1, n_cols=1, department=dept,
                 cells=[Cell(row=0, col=0, bbox=[0, 0, 100, 100], text=cell_text, confidence=0.9)])


def test_lookalike_place_is_outvoted():
    good, bad = "岚县对外交流服务中心", "质县对外交流服务中心"
    pages = [Page(page=i, width=100, height=100, tables=[_table(i, good if i != 3 else bad, "")]) for i in range(1, 6)]
    pages[3].tables[0].cells[0].text = f"015-{bad}"
    pages[4].paragraphs = [Paragraph(bbox=[0, 0, 1, 1], text=f"{bad}2023年部门预算")]
    doc = Document(source="x", pages=pages,
                   projects=[Project(table_id="p4-t0", page=4, department=f"015-{good}", implementer=bad)])
    fixes = vote_names(doc)
    assert fixes == {bad: good}
    assert all(t.department == good for t in doc.tables())
    c = pages[3].tables[0].cells[0]
    assert c.text == f"015-{good}" and "~name_vote" in c.checks
    assert pages[4].paragraphs[0].text.startswith(good) and doc.projects[0].implementer == good


def test_different_departments_are_left_alone():
    pages = [Page(page=i, width=100, height=100, tables=[_table(i, d, "")])
             for i, d in enumerate(["某县教育局", "某县教育局", "某县财政局局长办公室"], 1)]
    doc = Document(source="x", pages=pages)
    assert vote_names(doc) == {}
