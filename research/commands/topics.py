"""``research topics``: LDA with model selection, tidy topic tables, offline LDAvis, seeded LDA."""

from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 50


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "topics",
        help="topic models: K by a rule, LDA, seeded LDA, prevalence by province/year, topics over time",
        description="Build the topic-model corpus from the prepared units (place and "
        "organisation names stoplisted), sweep K (coherence, held-out perplexity, stability) "
        "and choose it by the stated rule, fit LDA, a codebook-seeded LDA (gensim and tomotopy "
        "compared), a covariate model (GDMR: prevalence by province/level and year, with "
        "intervals), a dynamic model (DTM) and a correlated model (CTM), and write tidy tables "
        "and offline HTML views. All settings come from the `topics:` section of params.yaml "
        "(see docs/topics.md).",
    )
    p.add_argument(
        "--prepared",
        default=None,
        help="folder with paragraphs.parquet (default: <paths.data>/prepared)",
    )
    p.add_argument(
        "--unit",
        choices=["paragraph", "item", "document"],
        default=None,
        help="override topics.unit",
    )
    p.add_argument("--k", type=int, default=None, help="override topics.k (the chosen K)")
    p.add_argument(
        "--backend", choices=["gensim", "tomotopy"], default=None, help="override topics.backend"
    )
    p.add_argument(
        "--no-sweep",
        dest="sweep",
        action="store_const",
        const=False,
        default=None,
        help="skip the K sweep",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from research.config import load_params
    from research.io import check_output
    from research.settings import settings_of
    from research.topics.pipeline import run_topics

    params = load_params(args.params)
    paths = settings_of(params).paths
    for folder in (Path(paths.data) / "topics", Path(paths.models) / "topics"):
        check_output(folder, "dir")
    for sub in ("tables", "metrics", "topics", "figures"):
        check_output(Path(paths.reports) / sub, "dir")
    res = run_topics(
        params, args.prepared, unit=args.unit, k=args.k, backend=args.backend, sweep=args.sweep
    )
    m = res.metrics
    print(
        f"topics: {m['n_units']} {m['unit']} units from {m['n_docs']} documents, "
        f"vocabulary {m['vocab_size']}, {m['n_tokens']} tokens, backend {m['backend']}"
    )
    lda = m.get("lda", {})
    print(
        f"  LDA K={lda.get('k')}: c_v {lda.get('c_v')}, c_npmi {lda.get('c_npmi')}, "
        f"u_mass {lda.get('u_mass')}"
    )
    if "seeded" in m:
        s = m["seeded"]
        counts = ", ".join(f"{k} {v}" for k, v in s["label_counts"].items())
        print(
            f"  seeded LDA K={s['k']} ({s['backend']}): c_v {s['c_v']}; seed terms in vocabulary "
            f"{s['seed_terms_in_vocab']}/{s['seed_terms_total']}; labels: {counts}"
        )
    if "seeded_eval" in m:
        e = m["seeded_eval"]
        print(
            f"  seeded LDA vs gold (n={e['n']}): macro-F1 {e['macro_f1']:.3f}, "
            f"accuracy {e['accuracy']:.3f}, doc share MAE {e['doc_share_mae']:.3f}"
        )
    for name, secs in res.seconds.items():
        print(f"  time: {name} {secs:.2f} s")
    for note in res.notes:
        print(f"  note: {note}")
    print("wrote: " + ", ".join(str(p) for p in res.written))
    return 0
