"""The names every budget disclosure shares (data/budget_names.yaml): the national classification's
科目 names and the standard column heads. A cell text that is one of them was most likely read
right; one that misses one of them by a character or two ("播电视事务", "二年结转", "文幕工资福利支出")
was most likely misread. Both are evidence for the confidence model (extractor/confidence.py)."""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import yaml

from ..textnorm import normalize


def _norm(text: str) -> str:
    """No white space, brackets and colon full-width, as the lexicon writes them."""
    return normalize(text, cjk_punct=True)


@lru_cache(maxsize=1)
def _lexicon() -> tuple[frozenset[str], tuple[re.Pattern, ...], tuple[str, ...]]:
    raw = yaml.safe_load(resources.files("extractor.kpi").joinpath("data/budget_names.yaml").read_text(encoding="utf-8"))
    names = frozenset(_core(n) for group in raw["names"].values() for n in group)
    return names, tuple(re.compile(p) for p in raw.get("patterns", [])), tuple(sorted(n for n in names if len(n) >= 5))


# what may stand before a name without making it another: item numbers (一、 (二) 1. ①) and 其中：
_PREFIX = re.compile(r"^(?:[一二三四五六七八九十]+、|[（(][一二三四五六七八九十\d]+[）)]|\d+[、.．]|[①-⑳]|其中[：:])")


def _core(text: str) -> str:
    return _PREFIX.sub("", _norm(text), count=1).rstrip("：")


@lru_cache(maxsize=20000)
def is_known(text: str) -> bool:
    """The text is a standard name or head, after any item number (whitespace and bracket width
    ignored)."""
    names, patterns, _ = _lexicon()
    t = _norm(text)
    return any(x in names or any(p.match(x) for p in patterns) for x in {t, _core(t)})


@lru_cache(maxsize=20000)
def extra_at_edge(text: str) -> bool:
    """One or two characters more at either end than a standard name or head: a speck read as a
    character ("斋2022年预算数", "文幕工资福利支出")."""
    t = _core(text)
    if len(t) < 3 or is_known(t):
        return False
    return any(len(t) - k >= 3 and (is_known(t[k:]) or is_known(t[:-k])) for k in (1, 2))


@lru_cache(maxsize=20000)
def near_known(text: str) -> bool:
    """Within one edit of a standard name of five characters or more (two edits from eight), and
    not a name itself: a character lost or misread ("播电视事务", "财政专管理资金")."""
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    t = _core(text)
    if len(t) < 4 or is_known(t):
        return False
    _, _, long_names = _lexicon()
    edits = 1 if len(t) < 8 else 2
    hit = process.extractOne(t, long_names, scorer=Levenshtein.distance, score_cutoff=edits)
    return hit is not None
