"""Benchmark `research predict` throughput (paragraphs per second, one core).

Builds N distinct paragraphs by recombining sentences of the seed body units (so that no
cache can short-cut the tokeniser), then times ``predict_frame`` — normalisation, jieba
tokenisation, features and model — on one BLAS thread in one process.

    python benchmarks/bench_predict.py --n 5000 --model models/classifier
"""

from __future__ import annotations

import argparse
import os
import random
import re
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--model", default="models/classifier")
    ap.add_argument("--units", default="data/prepared/paragraphs.parquet")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import pandas as pd

    from research.classify.persist import load_model
    from research.classify.predict import predict_frame
    from research.config import load_params
    from research.labels.codebook import load_codebook

    params = load_params()
    cb = load_codebook()
    model, card = load_model(args.model, cb)
    units = pd.read_parquet(args.units)
    units = units[units["kind"] == "body"]
    sents = [s for t in units["text"] for s in re.split(r"(?<=[。；！])", t) if len(s) > 4]
    rng = random.Random(args.seed)
    texts = ["".join(rng.sample(sents, rng.randint(1, 4))) for _ in range(args.n)]
    df = pd.DataFrame({"text": texts})
    n_chars = sum(map(len, texts))
    predict_frame(model, df.head(20), card["labels"], cb.other_id, params=params)  # load jieba etc.
    t0 = time.perf_counter()
    out = predict_frame(model, df, card["labels"], cb.other_id, params=params)
    secs = time.perf_counter() - t0
    print(f"model: {card['chosen']}")
    print(
        f"{len(out.table)} paragraphs ({n_chars / len(texts):.0f} chars on average) in {secs:.2f}s: "
        f"{len(texts) / secs:,.0f} paragraphs/s, {n_chars / secs:,.0f} chars/s"
    )


if __name__ == "__main__":
    main()
