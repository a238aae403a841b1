"""Parameter recovery through the package's own stages: planted province and year effects on
domain shares, recovered by prepare → predict → analyse with and without the correction.

Each repetition writes a corpus of .txt reports with a manifest and a text-keyed gold file
(``research.analysis.recovery``: ~300 reports, 31 provinces, 2010–2025, paragraphs from the
base set's writers w1–w3, noise, a random 10% gold sample) into a temporary project, and runs
``research prepare``, the gold re-anchoring, ``research predict`` (a classifier trained once
with ``research train --no-cv`` on writers w4–w6) and ``run_analysis`` (``research analyse``)
from a params.yaml there, per basis (chars, units) and estimator: PCC (uncorrected), ``auto``
(the corrected estimator with the lowest held-out error) and PACC. The multilevel model's
province contrasts and year trends are scored against the planted truth computed on the
units prepare kept.

    python benchmarks/bench_recovery.py [--reps 3] [--n-docs 300] [--gold-frac 0.1]

Writes ``benchmarks/results/recovery.csv`` and ``recovery.md`` (summary),
``recovery_rows.csv`` (every estimate) and ``recovery_runs.csv`` (facts per repetition).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from research.analysis import recovery as rec  # noqa: E402
from research.analysis.inputs import codebook_ids  # noqa: E402
from research.classify.base_set import load_base_set  # noqa: E402

CONDITIONS = {"pcc": "uncorrected (PCC)", "auto": "corrected (auto)", "pacc": "corrected (PACC)"}


def run(a: argparse.Namespace) -> pd.DataFrame:
    ids, _ = codebook_ids(None)
    base = load_base_set(labels=ids)
    pool = base[base["writer"].isin(rec.POOL_WRITERS)]
    par = rec.planted(ids, seed=0, n_provinces=a.n_provinces)
    rows, runs = [], []
    with tempfile.TemporaryDirectory() as tmp:
        model = rec.train_model(Path(tmp) / "model", base, a.model_writers)
        for r in range(a.reps):
            t0, c0 = time.perf_counter(), time.process_time()
            sc, facts = rec.run_rep(
                Path(tmp) / f"rep{r}", pool, ids, par, model, a.n_docs, 100 + r, a.gold_frac,
                n_boot=a.n_boot, me_replicates=a.me_replicates,
            )  # fmt: skip
            facts.update(
                rep=r, seconds=time.perf_counter() - t0, cpu_seconds=time.process_time() - c0
            )
            runs.append(facts)
            rows.append(sc)
            print(f"rep {r}: {facts}", flush=True)
    allrows = pd.concat(rows, ignore_index=True)
    summary = rec.summarise(allrows)
    summary["condition"] = summary["condition"].map(CONDITIONS)
    chosen = allrows[allrows["condition"] == "auto"].groupby("basis")["estimator"].unique()
    a.out.mkdir(parents=True, exist_ok=True)
    allrows.to_csv(a.out / "recovery_rows.csv", index=False)
    pd.DataFrame(runs).to_csv(a.out / "recovery_runs.csv", index=False)
    summary.to_csv(a.out / "recovery.csv", index=False)
    settings = (
        f"{a.reps} corpora of {a.n_docs} reports in {a.n_provinces} provinces, "
        f"{a.gold_frac:.0%} gold, n_boot {a.n_boot}, me_replicates {a.me_replicates}, "
        f"classifier trained on writers {' '.join(a.model_writers)}; "
        + "; ".join(f"auto chose {', '.join(v)} on {b}" for b, v in chosen.items())
    )
    (a.out / "recovery.md").write_text(
        f"Parameter recovery (`python benchmarks/bench_recovery.py --reps {a.reps}`): "
        f"{settings}.\n\n{rec.markdown_table(summary)}",
        encoding="utf-8",
    )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--n-docs", type=int, default=300)
    ap.add_argument("--n-provinces", type=int, default=31)
    ap.add_argument("--gold-frac", type=float, default=0.1)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--me-replicates", type=int, default=20)
    ap.add_argument(
        "--model-writers",
        nargs="+",
        default=list(rec.MODEL_WRITERS),
        help="base-set writers the classifier is trained on (fewer: a weaker classifier)",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    summary = run(ap.parse_args())
    print(summary.to_string(index=False))


if __name__ == "__main__":
    main()
