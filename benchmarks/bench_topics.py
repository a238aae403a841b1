"""Benchmark LDA training: gensim LdaModel vs tomotopy LDAModel on the same tokenised corpus.

Corpus: ``../shared/corpora/gov-work-reports/government_work_reports.jsonl`` (72 reports,
traditional characters) through the project's own ``prepare`` (trad→simp normalisation,
paragraph repair) and the topic stage's corpus builder (project tokeniser, params
filtering), paragraph units. Each backend trains K=20 topics with the settings in params
``topics`` (gensim: passes/iterations/chunksize; tomotopy: tomotopy_iterations, one
worker — both single-process and seeded, as the pipeline runs them) in a fresh
subprocess, which reports the wall time of training, its RSS before training (corpus
opened, libraries imported) and its peak RSS (VmHWM). c_v is computed
the same way for both, in the parent, with gensim's ``CoherenceModel`` on each model's
top-10 terms against the same token lists.

    python benchmarks/bench_topics.py [--corpus PATH] [--k 20] [--repeats 3]
    python benchmarks/bench_topics.py --stage [--corpus PATH]

``--stage`` times the whole ``research topics`` stage (K sweep and rule, LDA, seeded LDA
with both backends compared, covariate, dynamic and correlated models) in a fresh process
on the sample corpus (``seeds/``, which must stay under a minute on 2 cores) and on the
corpus (year as the covariate, 10-year periods for the dynamic model), and writes
``benchmarks/results/topics_stage.csv`` with the per-model times, the K the rule chose and
the seeded backend the comparison prefers.

Repeat r uses random seed ``params seed + r``, so the table shows run-to-run spread.

Writes ``benchmarks/results/topics.csv`` (gitignored) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = (
    ROOT.parent / "shared" / "corpora" / "gov-work-reports" / "government_work_reports.jsonl"
)
RESULTS = ROOT / "benchmarks" / "results" / "topics.csv"


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _peak_rss_mb() -> float:
    """Peak RSS of this process (VmHWM). ``getrusage``'s ru_maxrss is not used: on Linux a
    child inherits the parent's high-water mark across fork/exec, which hides the child's own."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(backend: str, corpus_dir: Path, k: int, seed: int, params_path: Path) -> dict:
    """Train one model in this (fresh) process; report time, memory and top terms."""
    from gensim.corpora import Dictionary, MmCorpus

    from research.config import load_params
    from research.topics.lda import LdaSettings, fit_lda, import_tomotopy

    if backend == "tomotopy":
        import_tomotopy()  # import cost is not training cost
    cfg = dict(load_params(params_path).get("topics") or {})
    cfg["backend"] = backend
    settings = LdaSettings.from_params(cfg)
    dictionary = Dictionary.load_from_text(str(corpus_dir / "dictionary.txt"))
    corpus = MmCorpus(str(corpus_dir / "corpus.mm"))
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    fitted = fit_lda(corpus, dictionary, k, settings, seed)
    train_s = time.perf_counter() - t0
    peak = _peak_rss_mb()
    return {
        "backend": backend,
        "train_s": round(train_s, 2),
        "rss_before_mb": round(rss_before, 1),
        "peak_rss_mb": round(peak, 1),
        "top_terms": fitted.top_terms(10),
        "settings": (
            f"passes={settings.passes} iterations={settings.iterations} chunksize={settings.chunksize}"
            if backend == "gensim"
            else f"iterations={settings.tomotopy_iterations} burn_in={settings.tomotopy_burn_in} workers=1"
        ),
    }


def build(corpus: Path, out_dir: Path, params: dict):
    """Prepare the JSONL corpus and build the topic corpus exactly as the pipeline does."""
    from research.corpus.prepare import prepare_corpus
    from research.corpus.tokenize import TokenizerSettings
    from research.topics.corpus import build_corpus
    from research.topics.pipeline import topics_config

    t0 = time.perf_counter()
    prepared = prepare_corpus(corpus, params, progress=False)
    prep_s = time.perf_counter() - t0
    units = prepared.paragraphs
    units = units[units["kind"] == "body"].sort_values(["doc_id", "para_id"])
    units = units[["unit_id", "doc_id", "text"]].assign(para_unit_id=units["unit_id"])
    cfg = topics_config(params)
    t0 = time.perf_counter()
    tc = build_corpus(
        units.reset_index(drop=True),
        out_dir,
        TokenizerSettings.from_params(params.get("tokenize")),
        no_below=int(cfg["no_below"]),
        no_above=float(cfg["no_above"]),
        keep_n=cfg.get("keep_n"),
        extra_stopwords=cfg.get("extra_stopwords") or [],
    )
    tok_s = time.perf_counter() - t0
    return tc, prep_s, tok_s


# ---------------------------------------------------------------- the whole stage


def stage(corpus: Path, params_path: Path, overrides: dict, label: str) -> dict:
    """Run ``research prepare`` + ``research topics`` on ``corpus`` in a temp workspace;
    wall time of the topics stage (fresh process), per-model times, K and seeded choice."""
    import pandas as pd
    import yaml

    with tempfile.TemporaryDirectory(prefix="bench_stage_") as tmp:
        tmp = Path(tmp)
        params = yaml.safe_load(params_path.read_text(encoding="utf-8"))
        params["paths"].update(
            data=str(tmp / "data"),
            reports=str(tmp / "reports"),
            models=str(tmp / "models"),
            codebook=str(ROOT / params["paths"].get("codebook", "")),
        )
        ann = ROOT / params["paths"].get("annotations", "seeds/annotations.csv")
        params["paths"]["annotations"] = str(ann if label == "sample" else tmp / "none.csv")
        params["topics"].update(overrides)
        (tmp / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), "utf-8")
        env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning", "MPLBACKEND": "Agg"}
        base = [sys.executable, "-m", "research", "--params", str(tmp / "params.yaml")]
        prep = tmp / "data" / "prepared"
        subprocess.run(
            [*base, "prepare", str(corpus), "--out", str(prep), "--quiet"],
            check=True,
            capture_output=True,
            env=env,
            cwd=ROOT,
        )
        t0 = time.perf_counter()
        out = subprocess.run(
            [*base, "topics"], check=True, capture_output=True, text=True, env=env, cwd=ROOT
        ).stdout
        wall = time.perf_counter() - t0
        row = {"corpus": label, "stage_wall_s": round(wall, 1)}
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("time: "):
                name, secs = line[6:].rsplit(" ", 2)[0], line.rsplit(" ", 2)[1]
                row[f"{name} s"] = float(secs)
            elif line.startswith("topics: "):
                row["corpus_size"] = line[8:]
        tables = tmp / "reports" / "tables"
        if (tables / "k_sweep.csv").exists():
            sweep = pd.read_csv(tables / "k_sweep.csv")
            row["k"] = int(sweep.loc[sweep["chosen"], "k"].iloc[0])
            row["k_why"] = sweep.loc[sweep["chosen"], "why"].iloc[0]
        if (tables / "seeded_backends.csv").exists():
            comp = pd.read_csv(tables / "seeded_backends.csv")
            print(comp.to_string(index=False))
            row["seeded_best"] = comp.loc[comp["chosen"], "backend"].iloc[0]
        print(out)
        return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    ap.add_argument("--params", type=Path, default=ROOT / "params.yaml")
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backends", default="gensim,tomotopy")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument(
        "--stage",
        action="store_true",
        help="time the whole `research topics` stage on the sample corpus (seeds/) and on the "
        "corpus (year covariate), instead of the LDA backend comparison",
    )
    ap.add_argument("--sample-only", action="store_true", help="--stage on seeds/ only")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--corpus-dir", type=Path, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        print(
            json.dumps(
                worker(args.worker, args.corpus_dir, args.k, args.seed, args.params),
                ensure_ascii=False,
            )
        )
        return 0

    import pandas as pd
    from gensim.models.coherencemodel import CoherenceModel

    from research.config import load_params

    if not args.corpus.exists():
        print(f"corpus not found: {args.corpus} (benchmark skipped)", file=sys.stderr)
        return 1
    if args.stage:
        rows = [stage(ROOT / "seeds", args.params, {}, "sample")]
        if not args.sample_only:
            rows.append(
                stage(args.corpus, args.params, {"dynamic_period_years": 10}, args.corpus.stem)
            )
        df = pd.DataFrame(rows)
        df["machine"] = (
            f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}"
        )
        out = args.out.with_name("topics_stage.csv")
        out.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(out, index=False)
        print(df.T.to_string())
        print(f"wrote {out}")
        return 0
    params = load_params(args.params)
    seed = int(params.get("seed", 0))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_topics_") as tmp:
        tc, prep_s, tok_s = build(args.corpus, Path(tmp), params)
        n_units, n_tokens, vocab = len(tc), int(tc.units["n_tokens"].sum()), len(tc.dictionary)
        print(
            f"corpus: {n_units} paragraphs, {n_tokens} tokens, vocabulary {vocab} "
            f"(prepare {prep_s:.1f}s, tokenise+dictionary {tok_s:.1f}s)",
            flush=True,
        )
        for rep in range(args.repeats):
            for backend in args.backends.split(","):
                cmd = [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--worker",
                    backend,
                    "--corpus-dir",
                    tmp,
                    "--k",
                    str(args.k),
                    "--seed",
                    str(seed + rep),
                    "--params",
                    str(args.params),
                ]
                env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
                out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                cm = CoherenceModel(
                    topics=r.pop("top_terms"),
                    texts=tc.texts,
                    dictionary=tc.dictionary,
                    coherence="c_v",
                    topn=10,
                    processes=1,
                )
                r["c_v"] = round(float(cm.get_coherence()), 4)
                r.update(
                    corpus=args.corpus.stem,
                    unit="paragraph",
                    n_units=n_units,
                    n_tokens=n_tokens,
                    vocab=vocab,
                    k=args.k,
                    repeat=rep,
                )
                rows.append(r)
                print(
                    f"  {backend:9s} train {r['train_s']:7.1f}s  peak RSS {r['peak_rss_mb']:7.1f} MB  "
                    f"c_v {r['c_v']:.4f}",
                    flush=True,
                )
    df = pd.DataFrame(rows)[
        [
            "corpus",
            "unit",
            "n_units",
            "n_tokens",
            "vocab",
            "k",
            "backend",
            "repeat",
            "train_s",
            "peak_rss_mb",
            "rss_before_mb",
            "c_v",
            "settings",
        ]
    ]
    df["machine"] = f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    summary = (
        df.groupby("backend")[["train_s", "peak_rss_mb", "rss_before_mb", "c_v"]]
        .agg(["mean", "std"])
        .round(3)
    )
    print(summary.to_string())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
