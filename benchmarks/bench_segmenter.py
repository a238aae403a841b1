"""rjieba vs jieba: token agreement, speed, and the classifier's macro-F1 with each.

    python benchmarks/bench_segmenter.py            # agreement + speed (about a minute)
    python benchmarks/bench_segmenter.py --f1       # + each candidate fitted on the base set
                                                    #   with each segmenter, scored on the seed gold
    python benchmarks/bench_segmenter.py --train    # + `research run` up to train, twice (slow)

Agreement is measured on every non-empty line of the seed reports and of the government
work reports, with the project dictionary, without and with the codebook's seed terms
added (as the classifier's word features do): the share of lines whose raw token
sequence, and whose content tokens, are identical. Speed is the ratio of the two
segmenters' CPU time over the same lines, measured interleaved. ``--f1`` fits every
classifier candidate on the shipped base set once per segmenter and scores it on the seed
reports' real gold (the instrument's base-only scheme: no gold in training). ``--train`` runs the
pipeline up to the train stage on the seeds in two scratch folders that differ only in
``tokenize.segmenter`` and reads the real-gold macro-F1 of the selected model from each.
Results go to benchmarks/results/segmenter.json, which ``benchmarks/run.py`` puts into
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.corpora import GOV, SEEDS  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "segmenter.json"


def corpus_lines() -> dict[str, list[str]]:
    """Non-empty lines of the seed reports and (when present) the government reports."""
    out = {"seeds": []}
    for f in sorted(SEEDS.glob("*.txt")):
        out["seeds"] += [x for x in f.read_text(encoding="utf-8").splitlines() if x.strip()]
    if GOV.exists():
        out["gov-reports"] = []
        for line in GOV.read_text(encoding="utf-8").splitlines():
            content = json.loads(line).get("content") or ""
            out["gov-reports"] += [x for x in content.splitlines() if x.strip()]
    return out


def agreement(lines: dict[str, list[str]]) -> list[dict]:
    from research.corpus.tokenize import Tokenizer, TokenizerSettings
    from research.labels.codebook import load_codebook

    seeds = tuple(sorted({t for terms in load_codebook().seed_terms.values() for t in terms}))
    rows = []
    for extra, what in (((), "project dictionary"), (seeds, "+ codebook seed terms")):
        toks = {
            s: Tokenizer(TokenizerSettings(segmenter=s, extra_words=extra))
            for s in ("jieba", "rjieba")
        }
        for t in toks.values():
            t.raw_tokens("预热")  # dictionary load outside the timing
        for name, texts in lines.items():
            raw, content, cpu = {}, {}, {}
            for seg in ("jieba", "rjieba", "jieba", "rjieba"):  # interleaved; keep the faster
                c0 = time.process_time()
                raw[seg] = [toks[seg].raw_tokens(x) for x in texts]
                dt = time.process_time() - c0
                cpu[seg] = min(dt, cpu.get(seg, dt))
            for seg in ("jieba", "rjieba"):
                content[seg] = [toks[seg].tokens(x) for x in texts]
            n = len(texts)
            rows.append(
                {
                    "corpus": name,
                    "dictionary": what,
                    "lines": n,
                    "raw_identical": sum(a == b for a, b in zip(raw["jieba"], raw["rjieba"])) / n,
                    "content_identical": sum(
                        a == b for a, b in zip(content["jieba"], content["rjieba"])
                    )
                    / n,
                    "speedup_cpu": cpu["jieba"] / cpu["rjieba"],
                }
            )
            print(rows[-1], flush=True)
    return rows


def base_only_f1() -> dict:
    """Macro-F1 on the seed gold of each candidate fitted on the base set, per segmenter."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import f1_score

    from research.classify.base_set import load_base_set
    from research.classify.instrument import make_candidate
    from research.config import load_params
    from research.corpus.prepare import prepare_corpus
    from research.labels.codebook import load_codebook
    from research.settings import CANDIDATES

    cb, params = load_codebook(), load_params(ROOT / "params.yaml")
    base = load_base_set(labels=list(cb.ids))
    units = prepare_corpus(SEEDS, {"tokenize": {"cache": False}}, progress=False).paragraphs
    gold = pd.read_csv(SEEDS / "annotations.csv")[["unit_id", "gold"]].dropna()
    gold = gold.merge(units[["unit_id", "text", "heading"]], on="unit_id")
    out: dict = {}
    for seg in ("jieba", "rjieba"):
        tok = {**(params.get("tokenize") or {}), "segmenter": seg}
        for name in CANDIDATES:
            est = make_candidate(name, cb, tok, int(params.get("seed", 0)))
            est.fit(base[["text", "heading"]], base["label"].to_numpy())
            pred = est.predict(gold[["text", "heading"]])
            out.setdefault(name, {})[seg] = {
                "macro_f1": float(f1_score(gold["gold"], pred, average="macro")),
                "labels": list(map(str, pred)),
            }
            print(seg, name, round(out[name][seg]["macro_f1"], 4), flush=True)
    for r in out.values():
        same = np.mean([a == b for a, b in zip(r["jieba"]["labels"], r["rjieba"]["labels"])])
        r["same_labels"] = float(same)
        for seg in ("jieba", "rjieba"):
            r[seg].pop("labels")
    return {"units": len(gold), "candidates": out}


def train_f1(segmenter: str, work: Path) -> dict:
    """Run the pipeline up to train on the seeds with ``segmenter``; the real-gold scores."""
    import yaml

    shutil.copytree(SEEDS, work / "seeds")
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["paths"]["codebook"] = str((ROOT / params["paths"]["codebook"]).resolve())
    params["tokenize"]["segmenter"] = segmenter
    (work / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), encoding="utf-8")
    t = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "research",
            "--params",
            "params.yaml",
            "run",
            "--only",
            "prepare",
            "weak_labels",
            "train",
        ],
        cwd=work,
        capture_output=True,
        text=True,
    )
    secs = time.perf_counter() - t
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-3:]}
    metrics = json.loads((work / "reports" / "metrics" / "classifier.json").read_text())
    return {"seconds": secs, "metrics": _scores(metrics)}


def _scores(metrics: dict) -> dict:
    """Macro-F1 entries of the classifier metrics (whatever nesting the train stage uses)."""
    found: dict = {}

    def walk(obj, path):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if "macro_f1" in str(k) and isinstance(v, (int, float)):
                    found["/".join(path + [str(k)])] = v
                else:
                    walk(v, path + [str(k)])

    walk(metrics, [])
    return found


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", action="store_true", help="also compare the train stage's macro-F1")
    ap.add_argument("--f1", action="store_true", help="also compare base-only macro-F1 on the gold")
    args = ap.parse_args(argv)
    result = {"agreement": agreement(corpus_lines())}
    if args.f1:
        result["base_only"] = base_only_f1()
    if args.train:
        result["train"] = {}
        for seg in ("jieba", "rjieba"):
            with tempfile.TemporaryDirectory(prefix=f"seg-{seg}-") as tmp:
                result["train"][seg] = train_f1(seg, Path(tmp))
                print(seg, result["train"][seg].get("seconds"), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    if OUT.exists():  # keep earlier results of the optional parts
        old = json.loads(OUT.read_text())
        for key in ("train", "base_only"):
            if key not in result and old.get(key):
                result[key] = old[key]
    OUT.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
