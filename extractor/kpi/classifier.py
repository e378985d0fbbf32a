"""KPI level classifier: the (一级指标, 二级指标) of a KPI row from its 三级指标 text, its 指标值 and
whatever 二级 text OCR read (often cut, garbled or empty because the cell is merged).

A tiny character-level BERT (trained from scratch by scripts/train_kpi_classifier.py, weights in
models/kpi_classifier/) predicts one of the (level1, level2) pairs of the canonical taxonomy
(data/kpi_taxonomy.yaml) with a probability. ``keyword_baseline`` is the hand-written rule set it is
measured against.

torch and transformers are imported lazily, inside ``KpiClassifier``: the rest of the package
imports without them.
"""
from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Optional, Sequence

import yaml

from ..textnorm import normalize

TAXONOMY_FILE = Path(__file__).parent / "data" / "kpi_taxonomy.yaml"

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
N_PAIRS = 12
# hint tokens, the rule-based readings fed to the model (it learns when to trust them):
KW_HINTS = [f"[K{i}]" for i in range(N_PAIRS)]     # keyword rules on 三级 + 指标值 alone
EXACT_HINTS = [f"[E{i}]" for i in range(N_PAIRS)]  # 二级 text spells a canonical 二级 name (canonical_level2)
PREFIX_HINTS = [f"[P{i}]" for i in range(N_PAIRS)]  # 二级 text only starts like one (the baseline's prefix rule)
NO_L2 = "[N]"                                      # 二级 text empty or unreadable
SPECIALS = [PAD, UNK, CLS, SEP, MASK] + KW_HINTS + EXACT_HINTS + PREFIX_HINTS + [NO_L2]
MAX_L2, MAX_L3, MAX_VALUE = 12, 32, 16
MAX_LEN = 3 + MAX_L2 + 1 + MAX_L3 + 1 + MAX_VALUE + 1


@lru_cache(maxsize=1)
def taxonomy() -> dict[str, list[str]]:
    """一级指标 -> [二级指标 …] in form order."""
    return yaml.safe_load(TAXONOMY_FILE.read_text(encoding="utf-8"))


def pairs() -> list[tuple[str, str]]:
    """All (level1, level2) classes, in taxonomy order."""
    return [(l1, l2) for l1, l2s in taxonomy().items() for l2 in l2s]


def canonical_level2(text: str) -> Optional[tuple[str, str]]:
    """The (level1, level2) pair whose 二级 name ``text`` spells exactly, with or without the trailing
    指 / 指标 (经济效益 -> (效益指标, 经济效益指标); 服务对象满意度指 -> 满意度); None otherwise.
    A bare 成本指标 is the 二级 under 产出指标."""
    t = normalize(text)
    t = re.sub(r"指标?$", "", t)
    if not t:
        return None
    for l1, l2 in pairs():
        if t == l2[:-2]:
            return l1, l2
    return None


# ------------------------------------------------------------------ keyword baseline
_PREFIX_ORDER = [  # the first 2 chars of a known 二级 name; ambiguous prefixes: the commoner reading first
    ("数量", ("产出指标", "数量指标")), ("质量", ("产出指标", "质量指标")), ("时效", ("产出指标", "时效指标")),
    ("成本", ("产出指标", "成本指标")), ("经济", ("效益指标", "经济效益指标")),
    ("社会", ("效益指标", "社会效益指标")), ("生态", ("效益指标", "生态效益指标")),
    ("可持", ("效益指标", "可持续影响指标")), ("服务", ("满意度指标", "服务对象满意度指标")),
]
_RULES = [  # (keywords in 三级 + 指标值, pair), first hit wins
    (("满意",), ("满意度指标", "服务对象满意度指标")),
    (("及时", "时间", "时效", "期限", "月", "日"), ("产出指标", "时效指标")),
    (("费", "成本", "元"), ("产出指标", "成本指标")),
    (("率", "合格", "达标", "质量"), ("产出指标", "质量指标")),
    (("经济", "收入"), ("效益指标", "经济效益指标")),
    (("生态", "环境"), ("效益指标", "生态效益指标")),
    (("持续", "长效", "机制"), ("效益指标", "可持续影响指标")),
    (("社会", "群众", "宣传"), ("效益指标", "社会效益指标")),
    (("数", "量", "个", "次", "篇"), ("产出指标", "数量指标")),
]


def level2_reading(level2_text: str) -> tuple[Optional[tuple[str, str]], bool]:
    """What the OCR'd 二级 text says on its own: (pair, exact). ``exact`` when it spells a canonical
    name (``canonical_level2``), else the pair whose name it starts like (first 2 chars), else None."""
    t2 = normalize(level2_text)
    exact = canonical_level2(t2)
    if exact:
        return exact, True
    if len(t2) >= 2:
        if t2.startswith("经济成本"):
            return ("成本指标", "经济成本指标"), False
        if t2.startswith("社会成本"):
            return ("成本指标", "社会成本指标"), False
        if t2.startswith("生态环境"):
            return ("成本指标", "生态环境成本指标"), False
        for pre, pair in _PREFIX_ORDER:
            if t2.startswith(pre):
                return pair, False
    return None, False


def keyword_rules(level3: str, value: str) -> tuple[str, str]:
    """The keyword rules on the 三级 text and 指标值 alone; 产出指标/数量指标 when nothing matches."""
    text = normalize(level3) + " " + normalize(value)
    for words, pair in _RULES:
        if any(w in text for w in words):
            return pair
    return "产出指标", "数量指标"


def keyword_baseline(level3: str, value: str, level2_text: str = "") -> tuple[str, str]:
    """Hand-written rules: the OCR'd 二级 text when it starts like a known 二级 name, else keywords of
    the 三级 text and 指标值; 产出指标/数量指标 when nothing matches."""
    pair, _ = level2_reading(level2_text)
    return pair or keyword_rules(level3, value)


# ------------------------------------------------------------------ char tokenizer
def normalize_chars(s: str) -> str:
    """What the model sees of a cell: no white space, full-width ASCII folded, every digit -> 0,
    every Latin letter -> a."""
    s = normalize(s, fold_width=True)
    return re.sub(r"[A-Za-z]", "a", re.sub(r"\d", "0", s))


class CharTokenizer:
    """One token per character; vocab.txt holds one token a line, the specials first."""

    def __init__(self, vocab: Sequence[str]):
        self.vocab = list(vocab)
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self.pad_id, self.unk_id = self.index[PAD], self.index[UNK]
        self.cls_id, self.sep_id = self.index[CLS], self.index[SEP]

    @classmethod
    def load(cls, path: Path) -> "CharTokenizer":
        return cls([ln for ln in Path(path).read_text(encoding="utf-8").split("\n") if ln])

    def save(self, path: Path) -> None:
        Path(path).write_text("\n".join(self.vocab) + "\n", encoding="utf-8")

    def encode(self, level3: str, value: str, level2_text: str) -> tuple[list[int], list[int]]:
        """[CLS] [K<k>] [E<k>|P<k>|N] 二级 [SEP] 三级 [SEP] 指标值 [SEP]; token types 0 / 1 / 2.
        K<k>: the keyword rules' class from 三级 + 指标值; E<k> / P<k>: the class the 二级 text spells
        exactly / starts like; N: no readable 二级. Hints the model learns when to trust."""
        prs = pairs()
        kw = KW_HINTS[prs.index(keyword_rules(level3, value))]
        pair, exact = level2_reading(level2_text)
        l2h = NO_L2 if pair is None else (EXACT_HINTS if exact else PREFIX_HINTS)[prs.index(pair)]
        ids, types = [self.cls_id, self.index[kw], self.index[l2h]], [0, 0, 0]
        for seg, (text, cap) in enumerate(((level2_text, MAX_L2), (level3, MAX_L3), (value, MAX_VALUE))):
            chars = normalize_chars(text)[:cap]
            ids += [self.index.get(c, self.unk_id) for c in chars] + [self.sep_id]
            types += [seg] * (len(chars) + 1)
        return ids, types

    def batch(self, rows: Sequence[tuple[str, str, str]]):
        """(input_ids, token_type_ids, attention_mask) as lists padded to the longest row."""
        enc = [self.encode(l3 or "", v or "", l2 or "") for l3, v, l2 in rows]
        n = max(len(i) for i, _ in enc)
        ids = [i + [self.pad_id] * (n - len(i)) for i, _ in enc]
        typ = [t + [0] * (n - len(t)) for _, t in enc]
        att = [[1] * len(i) + [0] * (n - len(i)) for i, _ in enc]
        return ids, typ, att


# ------------------------------------------------------------------ the model
class KpiClassifier:
    """``KpiClassifier.load().predict([(level3, value, level2_text), …])`` ->
    ``[(level1, level2, probability), …]``; ``probability`` is the temperature-scaled softmax of the
    predicted pair (calibrated on validation rows, see models/kpi_classifier/README.md)."""

    def __init__(self, model, tokenizer: CharTokenizer, labels: list[tuple[str, str]], device: str):
        self.model = model
        self.tokenizer = tokenizer
        self.labels = labels
        self.device = device
        # temperature scaling of the logits, so that ``prob`` is a calibrated probability; one
        # temperature for rows whose 二级 text reads as a 二级 name, one for rows where it does not
        # (those rest on the 三级 text and 指标值 alone). Chosen by the training script on validation
        # rows, stored in config.json (kpi_temperature, kpi_temperature_no_l2).
        self.temperature = float(getattr(model.config, "kpi_temperature", 1.0) or 1.0)
        self.temperature_no_l2 = float(getattr(model.config, "kpi_temperature_no_l2", self.temperature) or 1.0)

    @classmethod
    def load(cls, path: Optional[str | Path] = None, device: Optional[str] = None) -> "KpiClassifier":
        """Weights from ``path`` (default: extractor.runtime.project_model("kpi_classifier")).
        ``device``: None picks CUDA when torch sees one, else CPU."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from transformers import BertForSequenceClassification

        if path is None:
            from extractor.runtime import project_model

            path = project_model("kpi_classifier")
        path = Path(path)
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"no KPI classifier at {path} (train it: python scripts/train_kpi_classifier.py)")
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model = BertForSequenceClassification.from_pretrained(str(path), local_files_only=True)
        model.to(device).eval()
        tok = CharTokenizer.load(path / "vocab.txt")
        labels = [tuple(x) for x in json.loads((path / "labels.json").read_text(encoding="utf-8"))]
        return cls(model, tok, labels, device)

    def predict(self, rows: Sequence[tuple[str, str, str]], batch_size: int = 256) -> list[tuple[str, str, float]]:
        import torch

        out: list[tuple[str, str, float]] = []
        for i in range(0, len(rows), batch_size):
            chunk = rows[i:i + batch_size]
            ids, typ, att = self.tokenizer.batch(chunk)
            with torch.inference_mode():
                logits = self.model(input_ids=torch.tensor(ids, device=self.device),
                                    token_type_ids=torch.tensor(typ, device=self.device),
                                    attention_mask=torch.tensor(att, device=self.device)).logits
                temp = torch.tensor([[self.temperature if level2_reading(l2 or "")[0] else self.temperature_no_l2]
                                     for _, _, l2 in chunk], device=logits.device)
                prob = torch.softmax(logits.float() / temp, dim=-1)
                p, k = prob.max(dim=-1)
            for pi, ki in zip(p.tolist(), k.tolist()):
                l1, l2 = self.labels[ki]
                out.append((l1, l2, float(pi)))
        return out
