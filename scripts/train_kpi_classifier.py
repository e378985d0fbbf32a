"""Train the KPI level classifier (extractor/kpi/classifier.py) and write models/kpi_classifier/.

Data
  * real KPI rows from the seed transcripts ../shared/seeds/*.txt (both halves of the 8-column grid,
    一级/二级 carried down over merged cells); seed 002_* is held out whole for the test set;
  * generated rows: the scan generator's KPI tables (scripts/synth/vary.py: synth_kpi_table over
    its _L3_POOL, and vary_kpi over the tables of the training seeds); a slice of the generated
    tables is held out for the test set;
  * simulated OCR damage on the input 二级 text (cut to 2–6 chars, a char dropped, a look-alike char,
    trailing 指/指标 missing, empty) and on the 三级 text (cut at the cell edge).

Usage:  python scripts/train_kpi_classifier.py [--seed 13] [--epochs 8] [--out models/kpi_classifier]
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from extractor.kpi.classifier import (SPECIALS, CharTokenizer, MAX_LEN, canonical_level2,  # noqa: E402
                                      keyword_baseline, normalize_chars, pairs, taxonomy)
from synth import kpi as kpimod  # noqa: E402
from synth import vary  # noqa: E402

SEEDS = ROOT.parent / "shared" / "seeds"
TEST_SEED_PREFIX = "002_"

# ------------------------------------------------------------------ seed transcripts
_L1_NAMES = {"产出指标", "产出", "效益指标", "效益", "满意度指标", "满意度", "成本指标"}
_COST_L2 = {"经济成本指标", "社会成本指标", "生态环境成本指标"}


def _n(s: str) -> str:
    return re.sub(r"\s+", "", s)


def _is_l1(tok: str) -> bool:
    return _n(tok) in _L1_NAMES


def _looks_value(s: str) -> bool:
    return bool(re.match(r"^[≥≤<>=＞＜]*\s*[\d.,]+\s*[%％\w/]{0,6}$|^\d{4}年|^[≥≤<>]", s.strip())) or len(s.strip()) <= 3


def parse_seed_kpi(path: Path) -> list[dict]:
    """KPI rows of one transcript: dict(l1, l2, l2_text, l3, value, src); one per half of the grid.
    l2_text is the 二级 text written in that row ('' where the merged cell left it out)."""
    out = []
    in_kpi = False
    cur = None  # carried (l1, l2)
    for ln_no, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines()):
        toks = [c.strip() for c in line.split("\t") if c.strip()]
        if not toks:
            continue
        joined = _n("".join(toks))
        if "一级指标" in joined and "指标值" in joined:
            in_kpi, cur = True, None
            continue
        if not in_kpi:
            continue
        if _n(toks[0]).startswith(("负责人", "项目名称")) or len(toks) == 1 and not canonical_level2(toks[0]):
            in_kpi = False
            continue
        toks = [t for t in toks if _n(t) not in ("绩效指标", "绩效指")]
        if toks and _is_l1(toks[0]):
            is_cost_l2 = _n(toks[0]) == "成本指标" and not (len(toks) > 1 and canonical_level2(toks[1])
                                                          and canonical_level2(toks[1])[1] in _COST_L2)
            if not is_cost_l2:
                toks = toks[1:]
                cur = None
        segs: list[list[str]] = [[]]
        heads: list = [None]
        for t in toks:
            c = canonical_level2(t)
            if c:
                segs.append([])
                heads.append((c, t))
            else:
                segs[-1].append(t)
        if not segs[0] and len(segs) > 1:
            segs, heads = segs[1:], heads[1:]
        if len(segs) == 1 and heads[0] is None and len(segs[0]) == 4:
            segs, heads = [segs[0][:2], segs[0][2:]], [None, None]
        for seg, head in list(zip(segs, heads))[:2]:
            if head:
                cur = head[0]
            if cur is None:
                continue
            if len(seg) >= 2:
                l3, v = seg[0], seg[1]
            elif len(seg) == 1:
                l3, v = ("", seg[0]) if _looks_value(seg[0]) else (seg[0], "")
            else:
                continue
            out.append(dict(l1=cur[0], l2=cur[1], l2_text=head[1] if head else "", l3=l3, value=v,
                            src=f"{path.name}:{ln_no + 1}"))
    return out


# ------------------------------------------------------------------ generated rows
def _rows_of_table(kt, src: str) -> list[dict]:
    """Both halves of a KpiTable's rows; 二级 text only on the first row of a merged run."""
    out = []
    for half in ("a", "b"):
        prev = None
        for r in kt.rows:
            l2t = r.l2 if half == "a" else r.l2b
            l3, v = (r.l3, r.value) if half == "a" else (r.l3b, r.valueb)
            c = canonical_level2(l2t) or canonical_level2(r.l2)
            if c is None:
                continue
            if r.l1 == "成本指标" and c[1] == "成本指标":
                c = ("成本指标", "经济成本指标")
            first = (r.l1, l2t) != prev
            prev = (r.l1, l2t)
            if not (l3 or v):
                continue
            out.append(dict(l1=c[0], l2=c[1], l2_text=l2t if first else "", l3=l3, value=v, src=src))
    return out


def _seed_kpi_table(rows: list[dict]):
    """A KpiTable of one seed table's left-half rows, for vary_kpi."""
    kt = kpimod.KpiTable()
    kt.fields = {"项目名称": "x", "主管部门及代码": "", "实施单位": ""}
    kt.funds = {"实施期": {"total": "10,000", "市县": "10,000"}, "年度": {"total": "10,000", "市县": "10,000"}}
    kt.rows = [kpimod.KpiRow(r["l1"], r["l2"], r["l3"], r["value"], r["l2"], r["l3"], r["value"]) for r in rows]
    return kt


def generated_tables(rng: random.Random, n_synth: int, seed_tables: list[list[dict]], n_vary: int):
    """[(table_id, rows)]: synth_kpi_table tables, then vary_kpi variations of the given seed tables."""
    out = []
    for i in range(n_synth):
        year = rng.choice([2021, 2022, 2023, 2024, 2025])
        spec = vary.synth_kpi_table(rng, dept=vary.make_dept(rng), code=f"{rng.randint(1, 999):03d}", year=year,
                                    n_rows=rng.choice([None, None, rng.randint(12, 30)]))
        out.append((f"synth{i}", _rows_of_table(spec.data, f"synth{i}")))
    for i in range(n_vary if seed_tables else 0):
        base = rng.choice(seed_tables)
        kt = vary.vary_kpi(rng, _seed_kpi_table(base), dept=vary.make_dept(rng), code="001",
                           year=rng.choice([2023, 2024, 2025]))
        out.append((f"vary{i}", _rows_of_table(kt, f"vary{i}")))
    return out


# ------------------------------------------------------------------ OCR damage
LOOKALIKE = {"数": "效", "量": "暈", "质": "贡", "时": "吋", "效": "郊", "成": "戍", "本": "木", "经": "轻",
             "济": "挤", "社": "杜", "会": "合", "生": "王", "态": "杰", "可": "司", "持": "特", "续": "绩",
             "影": "景", "响": "晌", "服": "眼", "务": "各", "对": "时", "象": "像", "满": "瞒", "意": "竞",
             "度": "席", "指": "拍", "标": "杯", "益": "盖", "环": "坏", "境": "镜", "率": "卒", "费": "贵",
             "次": "欠", "人": "入", "元": "无", "万": "方", "年": "午", "月": "目", "日": "曰"}


def damage_l2(rng: random.Random, t: str) -> str:
    if not t:
        return t
    r = rng.random()
    if r < 0.30:
        return t                                    # read right
    if r < 0.45:
        return re.sub(r"指标?$", "", t) if t.endswith("指标") or t.endswith("指") else t[:-1]
    if r < 0.60:
        return t[:rng.randint(2, 6)]                # cut at 2–6 chars
    if r < 0.70:
        i = rng.randrange(len(t))
        return t[:i] + t[i + 1:]                    # a char dropped
    if r < 0.82:
        i = rng.randrange(len(t))
        return t[:i] + LOOKALIKE.get(t[i], t[i]) + t[i + 1:]   # a look-alike char
    return ""                                       # not read / merged away


def damage_l3(rng: random.Random, t: str) -> str:
    if len(t) > 6 and rng.random() < 0.3:
        t = t[:rng.randint(5, min(12, len(t) - 1))]  # cut at the cell edge
    if t and rng.random() < 0.05:
        i = rng.randrange(len(t))
        t = t[:i] + LOOKALIKE.get(t[i], t[i]) + t[i + 1:]
    return t


def damage(rng: random.Random, r: dict) -> dict:
    d = dict(r)
    d["l2_text"] = damage_l2(rng, r["l2_text"])
    d["l3"] = damage_l3(rng, r["l3"])
    if d["value"] and rng.random() < 0.05:
        d["value"] = vary.regen_kpi_value(rng, d["value"], rng.choice([2023, 2024, 2025]))
    return d


def key(r: dict) -> tuple:
    return normalize_chars(r["l3"]), normalize_chars(r["value"]), normalize_chars(r["l2_text"])


# ------------------------------------------------------------------ evaluation
def accuracy(pred: list[tuple[str, str]], gold: list[dict]) -> dict:
    n = len(gold)
    a1 = sum(p[0] == g["l1"] for p, g in zip(pred, gold)) / n
    a2 = sum(p[1] == g["l2"] for p, g in zip(pred, gold)) / n
    ap = sum((p[0], p[1]) == (g["l1"], g["l2"]) for p, g in zip(pred, gold)) / n
    return {"n": n, "level1": round(a1, 4), "level2": round(a2, 4), "pair": round(ap, 4)}


def seed_tables_of(rows: list[dict]) -> list[list[dict]]:
    """Split a transcript's rows into tables (a new table where 产出指标 comes back)."""
    tabs: list[list[dict]] = []
    for r in rows:
        if not tabs or (r["l2"] == "数量指标" and tabs[-1] and tabs[-1][-1]["l2"] != "数量指标"):
            tabs.append([])
        tabs[-1].append(r)
    return tabs


def build_data(seed: int, n_synth: int, n_vary: int, real_repeats: int):
    rng = random.Random(seed)
    seed_files = sorted(SEEDS.glob("*.txt"))
    train_real, test_real = [], []
    for p in seed_files:
        rows = parse_seed_kpi(p)
        (test_real if p.name.startswith(TEST_SEED_PREFIX) else train_real).extend(rows)
    train_tables = [t for f in sorted({r["src"].split(":")[0] for r in train_real})
                    for t in seed_tables_of([r for r in train_real if r["src"].startswith(f + ":")])]
    gen = generated_tables(rng, n_synth, train_tables, n_vary)
    rng.shuffle(gen)
    n_hold = max(1, len(gen) // 10)
    gen_test = [r for _, rows in gen[:n_hold] for r in rows]
    gen_train = [r for _, rows in gen[n_hold:] for r in rows]

    drng = random.Random(seed + 1)
    test = [dict(damage(drng, r), part="seed002") for r in test_real]
    test_gen = [dict(damage(drng, r), part="generated") for r in gen_test]

    train = []
    for _ in range(real_repeats):
        train += [damage(drng, r) for r in train_real]
    train += [damage(drng, r) for r in gen_train]
    train += [damage(drng, r) for r in gen_train]
    pool = train_real + gen_train
    extra = []
    for r in train:
        u = drng.random()
        if u < 0.05:
            extra.append(dict(r, l3=""))                       # 三级 unreadable
        elif u < 0.10:
            extra.append(dict(r, value=""))                    # 指标值 unreadable
        elif u < 0.20 and canonical_level2(r["l2_text"]) or (u < 0.20 and len(r["l2_text"]) >= 4):
            o = drng.choice(pool)                              # a readable 二级 outweighs the 三级 text
            if (o["l1"], o["l2"]) != (r["l1"], r["l2"]):
                extra.append(dict(r, l3=damage_l3(drng, o["l3"]), value=o["value"]))
    train += extra
    # never train on a test row: drop training rows whose input equals a held-out generated row's
    test_gen_keys = {key(r) for r in test_gen}
    train = [r for r in train if key(r) not in test_gen_keys]
    # dedupe generated test rows (many identical pool rows)
    seen, tg = set(), []
    for r in test_gen:
        k = key(r) + (r["l1"], r["l2"])
        if k not in seen:
            seen.add(k)
            tg.append(r)
    return dict(train=train, test_seed=test, test_gen=tg, train_real=train_real, test_real=test_real,
                gen_train=gen_train, gen_test=gen_test)


# ------------------------------------------------------------------ training
def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--n-synth", type=int, default=500)
    ap.add_argument("--n-vary", type=int, default=300)
    ap.add_argument("--real-repeats", type=int, default=25)
    ap.add_argument("--hidden", type=int, default=96)
    ap.add_argument("--char-dropout", type=float, default=0.07)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "models" / "kpi_classifier"))
    ap.add_argument("--metrics", default=None, help="write metrics JSON here (default: <out>/metrics.json)")
    args = ap.parse_args(argv)

    import numpy as np
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    t0 = time.time()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    data = build_data(args.seed, args.n_synth, args.n_vary, args.real_repeats)
    train, test_seed, test_gen = data["train"], data["test_seed"], data["test_gen"]
    labels = pairs()
    lab_idx = {p: i for i, p in enumerate(labels)}
    print(f"train rows {len(train)} (real seed rows {len(data['train_real'])}, generated rows "
          f"{len(data['gen_train'])}); test: seed 002 {len(test_seed)}, generated {len(test_gen)}")
    print("train label counts:", Counter((r["l1"], r["l2"]) for r in train).most_common())

    # vocabulary: specials, digits/ASCII, every char of the taxonomy, training text and look-alikes
    chars = Counter()
    for r in train:
        for f in ("l3", "value", "l2_text"):
            chars.update(normalize_chars(r[f]))
    base = set("0%.-+/~()<>=≥≤＞＜、，,：:《》“”")
    base |= set("".join(l1 + "".join(l2s) for l1, l2s in taxonomy().items()))
    base |= set("".join(LOOKALIKE.keys()) + "".join(LOOKALIKE.values()))
    vocab = SPECIALS + sorted(base | {c for c, n in chars.items() if n >= 2} - set(SPECIALS))
    tok = CharTokenizer(vocab)

    config = BertConfig(vocab_size=len(vocab), hidden_size=args.hidden, num_hidden_layers=2,
                        num_attention_heads=4, intermediate_size=2 * args.hidden,
                        max_position_embeddings=MAX_LEN + 8, type_vocab_size=3,
                        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
                        num_labels=len(labels), pad_token_id=tok.pad_id,
                        id2label={i: f"{a}/{b}" for i, (a, b) in enumerate(labels)},
                        label2id={f"{a}/{b}": i for i, (a, b) in enumerate(labels)})
    model = BertForSequenceClassification(config)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"vocab {len(vocab)}, params {n_params}")

    def tensors(rows):
        ids, typ, att = tok.batch([(r["l3"], r["value"], r["l2_text"]) for r in rows])
        return torch.tensor(ids), torch.tensor(typ), torch.tensor(att)

    y_all = torch.tensor([lab_idx[(r["l1"], r["l2"])] for r in train])
    ids_all, typ_all, att_all = tensors(train)
    bs = 64
    steps = args.epochs * ((len(train) + bs - 1) // bs)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.1)
    g = torch.Generator().manual_seed(args.seed)
    model.train()
    step = 0
    for ep in range(args.epochs):
        perm = torch.randperm(len(train), generator=g)
        tot, nb = 0.0, 0
        for i in range(0, len(train), bs):
            idx = perm[i:i + bs]
            att = att_all[idx]
            n = int(att.sum(1).max())
            ids = ids_all[idx, :n].clone()
            drop = (torch.rand(ids.shape, generator=g) < args.char_dropout) & (ids >= len(SPECIALS))
            ids[drop] = tok.unk_id                                 # char dropout: unseen chars read as [UNK]
            out = model(input_ids=ids, token_type_ids=typ_all[idx, :n], attention_mask=att[:, :n],
                        labels=y_all[idx])
            opt.zero_grad()
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            step += 1
            tot += float(out.loss)
            nb += 1
        print(f"epoch {ep + 1}/{args.epochs} loss {tot / nb:.4f}  ({time.time() - t0:.0f}s)")
    train_s = time.time() - t0

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tok.save(out / "vocab.txt")
    (out / "labels.json").write_text(json.dumps([list(p) for p in labels], ensure_ascii=False, indent=1),
                                     encoding="utf-8")

    # ---------------------------------------------------------------- evaluation
    from extractor.kpi.classifier import KpiClassifier

    clf = KpiClassifier.load(out, device="cpu")

    def evaluate(rows):
        inp = [(r["l3"], r["value"], r["l2_text"]) for r in rows]
        pm = [(a, b) for a, b, _ in clf.predict(inp)]
        pb = [keyword_baseline(*x) for x in inp]
        return {"classifier": accuracy(pm, rows), "baseline": accuracy(pb, rows)}

    train_l3 = {normalize_chars(r["l3"]) for r in train}
    blank = lambda rows: [dict(r, l2_text="") for r in rows]  # noqa: E731
    unseen = [r for r in test_seed if normalize_chars(r["l3"]) not in train_l3]
    metrics = {
        "seed": args.seed, "train_rows": len(train), "train_real_rows": len(data["train_real"]),
        "train_generated_rows": len(data["gen_train"]), "test_seed002_rows": len(test_seed),
        "test_generated_rows": len(test_gen), "vocab": len(vocab), "params": n_params,
        "train_seconds": round(train_s, 1), "threads": args.threads, "epochs": args.epochs,
        "test_seed002": evaluate(test_seed),
        "test_seed002_l2_empty": evaluate(blank(test_seed)),
        "test_seed002_unseen_l3": evaluate(unseen),
        "test_generated": evaluate(test_gen),
        "test_generated_l2_empty": evaluate(blank(test_gen)),
        "test_all": evaluate(test_seed + test_gen),
    }
    Path(args.metrics or out / "metrics.json").write_text(json.dumps(metrics, ensure_ascii=False, indent=1),
                                                          encoding="utf-8")
    print(json.dumps(metrics, ensure_ascii=False, indent=1))
    return metrics


if __name__ == "__main__":
    main()
