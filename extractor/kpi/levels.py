"""The KPI levels vote: the table structure (一级/二级 text carried down merged cells) against the
level classifier (一级/二级 predicted from the row's 三级 text, 指标值 and whatever 二级 text OCR read).

For every KPI record:
- both agree on the (一级, 二级) pair: the record's confidence rises;
- they disagree: it falls, and the record's notes say what the classifier read instead;
- the structure lost the levels (empty 二级 or 一级: shifted columns, a continuation page without
  the 一级 column) or read a garbled 二级 name: the classifier fills them, and the record's
  confidence is at most the classifier's probability;
- 一级 lost but 二级 read: 一级 is the taxonomy's parent of that 二级.

A 二级 name outside the taxonomy that is not a garbled reading of the classifier's answer (a
department's own category) is kept as printed.
"""
from __future__ import annotations

import re
from typing import Optional, Protocol, Sequence

from rapidfuzz.distance import Levenshtein

from ..model import Document, KpiRecord
from ..textnorm import normalize
from .classifier import canonical_level2, taxonomy

AGREE_KEEP = 0.5  # agreement halves the record's doubt
DISAGREE_WEIGHT = 0.6  # disagreement scales the confidence by (1 - 0.6 * classifier probability)


class LevelModel(Protocol):
    def predict(self, rows: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, float]]: ...


def canonical_level1(text: str) -> Optional[str]:
    """The taxonomy's 一级 name that ``text`` spells, with or without 指标."""
    t = re.sub(r"指标?$", "", normalize(text))
    if not t:
        return None
    for l1 in taxonomy():
        if t == l1[:-2]:
            return l1
    return None


def _garbled(text: str, name: str) -> bool:
    """``text`` reads like an OCR-damaged ``name`` (cut, a char dropped or swapped)."""
    t, n = normalize(text), normalize(name)
    if not t:
        return False
    if n.startswith(t) and len(t) >= 2:
        return True
    return max(Levenshtein.normalized_similarity(t, n), Levenshtein.normalized_similarity(t, re.sub(r"指标$", "", n))) >= 0.5


def _styled(name: str, read: str) -> str:
    """The taxonomy name written the way the table writes it: a short reading ("效量") stands
    for the name without 指标 ("数量"), as printed in many forms."""
    t = normalize(read)
    return name[:-2] if t and len(t) <= len(name) - 2 and not t.endswith("标") else name


def _raise(conf: float) -> float:
    return round(1 - (1 - conf) * AGREE_KEEP, 4)


def reconcile(doc: Document, model: LevelModel) -> None:
    """Vote the structure's levels against ``model`` on every record of ``doc.kpis``."""
    if not doc.kpis:
        return
    preds = model.predict([(k.level3, k.value, k.level2) for k in doc.kpis])
    for k, (p1, p2, prob) in zip(doc.kpis, preds):
        vote(k, p1, p2, prob)


def vote(k: KpiRecord, p1: str, p2: str, prob: float) -> None:
    """One record: the structure's levels against the classifier's (p1, p2) with probability prob."""
    s2 = canonical_level2(k.level2)  # (一级, 二级) the 二级 text spells, or None
    s1 = canonical_level1(k.level1)
    said = f"{p1}/{p2} (p={prob:.2f})"
    if s2 is None:
        if not normalize(k.level2) or _garbled(k.level2, p2):
            k.notes.append(f"二级 {'lost' if not normalize(k.level2) else repr(k.level2) + ' unreadable'}: "
                           f"filled by the level classifier as {said}")
            k.level2 = _styled(p2, k.level2)
            if not normalize(k.level1) or (s1 is None and _garbled(k.level1, p1)):
                k.level1 = p1
            elif s1 is not None and s1 != p1:
                k.notes.append(f"一级 {k.level1} does not hold {p2}")
                prob *= 0.5
            k.confidence = round(min(k.confidence, prob), 4)
        else:  # a 二级 outside the taxonomy, printed clearly: keep it
            k.notes.append(f"二级 {k.level2!r} is not in the taxonomy; the level classifier says {said}")
        return
    t1, t2 = s2
    if not normalize(k.level1):
        k.level1 = t1
        k.notes.append(f"一级 lost: {t1}, the parent of {t2}")
    elif s1 is None and _garbled(k.level1, t1):
        k.notes.append(f"一级 {k.level1!r} unreadable: {t1}, the parent of {t2}")
        k.level1 = t1
    elif s1 is not None and s1 != t1:
        k.notes.append(f"一级 {k.level1} does not hold {t2}")
        k.confidence = round(k.confidence * 0.5, 4)
    if (p1, p2) == (t1, t2):
        k.confidence = _raise(k.confidence)
    else:
        k.notes.append(f"the level classifier says {said}, the table says {t1}/{t2}")
        k.confidence = round(k.confidence * (1 - DISAGREE_WEIGHT * prob), 4)
