import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT / "scripts"))  # the scan generator (scripts/synth)
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def pipeline():
    """One pipeline (models loaded once) for the whole test session."""
    from extractor.pipeline import Pipeline

    return Pipeline()


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    d = SHARED / "seeds"
    if not d.exists():
        pytest.skip("../shared/seeds is not beside the repository")
    return d


# a 支出 table (科目编码, 科目名称, 合计, 基本支出, 项目支出) whose every invariant holds; tests plant errors in copies
BUDGET_HEADER = ["科目编码", "科目名称", "合计", "基本支出", "项目支出"]
BUDGET_ROWS = [
    ["201", "一般公共服务支出", "1,021.29", "821.29", "200.00"],
    ["20131", "党委办公厅（室）及相关机构事务", "1,021.29", "821.29", "200.00"],
    ["2013101", "行政运行", "821.29", "821.29", ""],
    ["2013102", "一般行政管理事务", "200.00", "", "200.00"],
    ["221", "住房保障支出", "8.91", "8.91", ""],
    ["22102", "住房改革支出", "8.91", "8.91", ""],
    ["2210201", "住房公积金", "8.91", "8.91", ""],
    ["合计", "", "1,030.20", "830.20", "200.00"],
]

