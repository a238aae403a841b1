"""Build the shipped base training set from the raw writer and annotator files.

    python tools/build_base_set.py            # writes research/resources/base_set/*

Inputs (committed, never edited): ``research/resources/base_set/raw/``
  - ``writers/<w>.jsonl``: paragraphs written by language-model writer session <w>, each
    with the label it was written to carry (``label``, ``secondary``) and its brief
    (province, place, level, year, genre, case);
  - ``annotations/<w>.jsonl``: the same paragraphs labelled BLIND by a separate
    language-model annotator session (it saw only the text and the codebook);
  - ``adjudication.jsonl``: for every disagreement, a third session's decision against the
    codebook (a label, or ``drop``), made seeing both labels unattributed;
  - ``excluded.csv``: paragraphs removed for a stated reason (factual or dating errors the
    writers reported in their own work).
Outputs: ``base_set.csv`` (kept paragraphs, final label and every label behind it),
``dropped.csv`` (every removed paragraph and why), ``agreement.json`` (writer vs blind
annotator: accuracy, Cohen's κ, Krippendorff's α, per category), ``coverage.csv``
(counts by province, level, year, genre, label, case, length band), ``diversity.json``.

The rule for near-duplicates: two paragraphs whose character 4-gram sets have Jaccard
similarity ≥ 0.6, or where ≥ 90% of the shorter one's 4-grams occur in the other, are
near-duplicates; the one later in (writer, id) order is dropped.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "research" / "resources" / "base_set"
RAW = OUT / "raw"
LABELS = ["ideology", "employment", "rights", "family", "organization", "other"]
NEAR_DUP_JACCARD = 0.6
NEAR_DUP_CONTAINED = 0.9  # ... or 90% of the shorter one's 4-grams appear in the other
GRAM = 4
LENGTH_BANDS = [(0, 50, "≤50"), (51, 150, "51–150"), (151, 350, "151–350"), (351, 10_000, ">350")]
CAMPAIGNS = [
    "双学双比",
    "巾帼建功",
    "巾帼脱贫",
    "乡村振兴",
    "家庭家教家风",
    "家风",
    "最美家庭",
    "美丽庭院",
    "妇联改革",
    "反家庭暴力法",
    "民法典",
    "家庭教育促进法",
    "妇女权益保障法",
    "党史学习教育",
    "主题教育",
    "二十大",
    "十九大",
    "十八大",
    "两癌",
    "春蕾",
    "母亲邮包",
    "12338",
    "巧媳妇",
    "巾帼家政",
    "直播带货",
    "儿童之家",
    "妇女之家",
    "宣讲",
    "三八红旗手",
    "巾帼文明岗",
]
_KEY = re.compile(r"[^\u3400-\u9fffA-Za-z0-9]")


def read_jsonl(path: Path) -> pd.DataFrame:
    return pd.DataFrame(
        [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    )


def grams(text: str) -> set[str]:
    k = _KEY.sub("", text)
    return {k[i : i + GRAM] for i in range(max(1, len(k) - GRAM + 1))}


def near_duplicates(texts: list[str]) -> dict[int, int]:
    """{index: index of the earlier paragraph it nearly repeats} (Jaccard of 4-grams)."""
    sets = [grams(t) for t in texts]
    index: dict[str, list[int]] = {}
    dup: dict[int, int] = {}
    for i, s in enumerate(sets):
        cand = Counter(j for g in s for j in index.get(g, ()))
        for j, shared in cand.most_common():
            jaccard = shared / (len(s) + len(sets[j]) - shared)
            contained = shared / max(min(len(s), len(sets[j])), 1)
            if jaccard >= NEAR_DUP_JACCARD or contained >= NEAR_DUP_CONTAINED:
                dup[i] = j
                break
        if i not in dup:
            for g in s:
                index.setdefault(g, []).append(i)
    return dup


def agreement(a: pd.Series, b: pd.Series) -> dict:
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    codes = {lab: i for i, lab in enumerate(LABELS)}
    out = {
        "n": int(len(a)),
        "raters": "writer's intended label vs blind annotator (both language-model sessions)",
        "accuracy": round(float((a == b).mean()), 4),
        "cohen_kappa": round(float(cohen_kappa_score(a, b)), 4),
        "krippendorff_alpha": round(
            float(
                krippendorff.alpha(
                    reliability_data=np.array([a.map(codes), b.map(codes)], dtype=float),
                    level_of_measurement="nominal",
                )
            ),
            4,
        ),
        "per_category": {},
    }
    for lab in LABELS:
        x, y = (a == lab), (b == lab)
        out["per_category"][lab] = {
            "n_writer": int(x.sum()),
            "n_annotator": int(y.sum()),
            "n_both": int((x & y).sum()),
            "cohen_kappa": round(float(cohen_kappa_score(x, y)), 4),
            "krippendorff_alpha": round(
                float(
                    krippendorff.alpha(
                        reliability_data=np.array([x, y], dtype=float),
                        level_of_measurement="nominal",
                    )
                ),
                4,
            ),
        }
    return out


def length_band(n: int) -> str:
    return next(name for lo, hi, name in LENGTH_BANDS if lo <= n <= hi)


def main() -> int:
    writers = sorted(p.stem for p in (RAW / "writers").glob("*.jsonl"))
    rows = []
    for w in writers:
        wr = read_jsonl(RAW / "writers" / f"{w}.jsonl").assign(writer=w)
        an = read_jsonl(RAW / "annotations" / f"{w}.jsonl")
        an = an.rename(
            columns={
                "label": "annotator_label",
                "secondary": "annotator_secondary",
                "confidence": "annotator_confidence",
                "note": "annotator_note",
            }
        )
        m = wr.merge(an, on="wid", how="left", validate="one_to_one")
        if m["annotator_label"].isna().any():
            print(
                f"error: {w}: {int(m['annotator_label'].isna().sum())} paragraphs not annotated",
                file=sys.stderr,
            )
            return 1
        rows.append(m)
    df = pd.concat(rows, ignore_index=True).rename(
        columns={"label": "writer_label", "secondary": "writer_secondary", "note": "writer_note"}
    )
    df["text"] = df["text"].str.strip()
    n_written = len(df)
    agree = agreement(df["writer_label"], df["annotator_label"])

    adj = (
        read_jsonl(RAW / "adjudication.jsonl")
        if (RAW / "adjudication.jsonl").exists()
        else pd.DataFrame(columns=["wid", "decision", "reason"])
    )
    adj = adj.set_index("wid")
    excluded = (
        pd.read_csv(RAW / "excluded.csv", dtype=str)
        if (RAW / "excluded.csv").exists()
        else pd.DataFrame(columns=["wid", "reason"])
    )
    excluded = excluded.set_index("wid")["reason"]

    label, resolution, dropped = [], [], []
    for r in df.itertuples():
        if r.wid in excluded.index:
            label.append(None)
            resolution.append("excluded")
            dropped.append({"wid": r.wid, "reason": f"excluded: {excluded[r.wid]}"})
        elif r.writer_label == r.annotator_label:
            label.append(r.writer_label)
            resolution.append("agreed")
        elif r.wid in adj.index and adj.loc[r.wid, "decision"] in LABELS:
            label.append(adj.loc[r.wid, "decision"])
            resolution.append("adjudicated")
        else:
            reason = adj.loc[r.wid, "reason"] if r.wid in adj.index else "no adjudication"
            label.append(None)
            resolution.append("disagreement dropped")
            dropped.append(
                {"wid": r.wid, "reason": f"disagreement dropped at adjudication: {reason}"}
            )
    df["label"], df["resolution"] = label, resolution
    kept = df[df["label"].notna()].reset_index(drop=True)
    dups = near_duplicates(kept["text"].tolist())
    for i, j in sorted(dups.items()):
        dropped.append(
            {
                "wid": kept.loc[i, "wid"],
                "reason": f"near-duplicate of {kept.loc[j, 'wid']} (4-gram Jaccard ≥ {NEAR_DUP_JACCARD} or containment ≥ {NEAR_DUP_CONTAINED})",
            }
        )
    kept = kept.drop(index=list(dups)).reset_index(drop=True)
    kept["secondary"] = np.where(
        kept["label"] == kept["writer_label"], kept["writer_secondary"].fillna(""), ""
    )
    kept["secondary"] = [
        ";".join(s for s in str(sec).split(";") if s and s != lab)
        for sec, lab in zip(kept["secondary"], kept["label"])
    ]
    kept["n_chars"] = kept["text"].str.len()
    kept = kept.rename(columns={"wid": "unit_id"})
    cols = [
        "unit_id",
        "text",
        "label",
        "secondary",
        "writer",
        "province",
        "place",
        "level",
        "year",
        "genre",
        "case",
        "n_chars",
        "writer_label",
        "writer_secondary",
        "annotator_label",
        "annotator_secondary",
        "annotator_confidence",
        "resolution",
        "writer_note",
        "annotator_note",
    ]
    kept[cols].to_csv(OUT / "base_set.csv", index=False, encoding="utf-8")
    pd.DataFrame(dropped, columns=["wid", "reason"]).merge(
        df[["wid", "writer", "text", "writer_label", "annotator_label"]], on="wid", how="left"
    ).to_csv(OUT / "dropped.csv", index=False, encoding="utf-8")

    cov = []
    kept["length_band"] = kept["n_chars"].map(length_band)
    for dim in [
        "label",
        "province",
        "level",
        "year",
        "genre",
        "case",
        "length_band",
        "writer",
        "resolution",
    ]:
        for val, n in kept[dim].astype(str).value_counts().sort_index().items():
            cov.append({"dimension": dim, "value": val, "n": int(n)})
    pd.DataFrame(cov).to_csv(OUT / "coverage.csv", index=False, encoding="utf-8")

    chars = "".join(_KEY.sub("", t) for t in kept["text"])
    bigrams = [chars[i : i + 2] for i in range(len(chars) - 1)]
    diversity = {
        "n_paragraphs": len(kept),
        "n_chars": int(kept["n_chars"].sum()),
        "distinct_chars": len(set(chars)),
        "distinct_char_bigrams": len(set(bigrams)),
        "distinct_bigram_ratio": round(len(set(bigrams)) / max(len(bigrams), 1), 4),
        "length_quantiles": {
            str(q): float(kept["n_chars"].quantile(q)) for q in (0.1, 0.25, 0.5, 0.75, 0.9)
        },
        "campaign_paragraphs": {
            c: int(kept["text"].str.contains(c, regex=False).sum()) for c in CAMPAIGNS
        },
    }
    summary = {
        "written": n_written,
        "kept": len(kept),
        "agreed": int((df["resolution"] == "agreed").sum()),
        "adjudicated": int((kept["resolution"] == "adjudicated").sum()),
        "dropped_disagreement": int((df["resolution"] == "disagreement dropped").sum()),
        "excluded": int((df["resolution"] == "excluded").sum()),
        "near_duplicates_removed": len(dups),
    }
    (OUT / "agreement.json").write_text(
        json.dumps({"summary": summary, **agree}, ensure_ascii=False, indent=2) + "\n",
        encoding="utf-8",
    )
    (OUT / "diversity.json").write_text(
        json.dumps(diversity, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
