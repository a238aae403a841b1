"""Parallel and distributed execution give the single-process result; the token cache
is reused across runs and processes.

* joblib processes (loky) for tokenisation and per-document preparation;
* the streaming prepare (any chunk size) equals the in-memory one;
* a local Dask cluster of 2 worker processes (``dask.distributed.LocalCluster``) running
  tokenise, prepare and predict through ``joblib.parallel_backend("dask")`` and a
  ``dask.bag`` over Parquet row groups (see docs/scaling.md).
"""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from research.corpus.prepare import load_prepared, prepare_corpus, prepare_to_dir
from research.corpus.tokenize import TokenCache, TokenizerSettings, tokenize_many

from .conftest import ROOT

PARAMS = {"tokenize": {"cache": False}}


def assert_same_tables(a, b) -> None:
    for name in ("documents", "paragraphs", "items", "removed"):
        pd.testing.assert_frame_equal(
            getattr(a, name).reset_index(drop=True),
            getattr(b, name).reset_index(drop=True),
            obj=name,
        )


@pytest.fixture(scope="module")
def seed_units(prepared_seeds) -> list[str]:
    return prepared_seeds.paragraphs["text"].tolist()


# ---------------------------------------------------------------- one machine
def test_parallel_tokenisation_equals_serial(seed_units, prepared_seeds):
    settings = TokenizerSettings.from_params({})
    serial = tokenize_many(seed_units, settings, n_jobs=1)
    assert [" ".join(t) for t in serial] == prepared_seeds.paragraphs["tokens"].tolist()
    assert tokenize_many(seed_units, settings, n_jobs=2, chunk_size=50) == serial


def test_streaming_and_parallel_prepare_equal_in_memory(prepared_seeds, tmp_path):
    prepare_to_dir(ROOT / "seeds", tmp_path / "one", PARAMS, progress=False, chunk_docs=1)
    assert_same_tables(load_prepared(tmp_path / "one"), prepared_seeds)
    params = {"tokenize": {"cache": False, "n_jobs": 2}}
    prepare_to_dir(ROOT / "seeds", tmp_path / "two", params, progress=False, chunk_docs=3)
    two = load_prepared(tmp_path / "two")
    assert_same_tables(two, prepared_seeds)
    # one row group per chunk: the tables can be read partition by partition
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "two" / "paragraphs.parquet").num_row_groups == 2


def test_one_chunk_is_prepared_without_a_worker_pool(prepared_seeds, monkeypatch):
    """Starting loky's workers costs more than they save on one chunk (the seeds)."""
    import joblib

    def no_pool(*args, **kwargs):
        raise AssertionError("a worker pool was started for a corpus of one chunk")

    monkeypatch.setattr(joblib, "Parallel", no_pool)
    params = {"tokenize": {"cache": False, "n_jobs": 2}}
    assert_same_tables(prepare_corpus(ROOT / "seeds", params, progress=False), prepared_seeds)


def test_bad_document_in_a_later_chunk_stops_the_pool_cleanly(tmp_path, recwarn):
    """The error names the file, nothing is written, and the batches still in flight are
    dropped without joblib's warning about unused results."""
    import shutil

    from research.errors import InputError

    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "seeds", corpus, ignore=shutil.ignore_patterns("*.md", "ann*"))
    bad = sorted(corpus.glob("*.txt"))[3]
    bad.write_text("  \n", encoding="utf-8")
    params = {"tokenize": {"cache": False, "n_jobs": 2}}
    with pytest.raises(InputError, match=bad.name):
        prepare_to_dir(corpus, tmp_path / "out", params, progress=False, chunk_docs=2)
    assert not (tmp_path / "out").exists()
    assert not [w for w in recwarn if "tasks" in str(w.message)]


# ---------------------------------------------------------------- token cache
def test_token_cache_reused_after_unrelated_parameter_change(tmp_path, monkeypatch, seed_units):
    import research.corpus.tokenize as tk

    calls: list[int] = []
    real = tk._tokenize_chunk

    def counting(settings, texts):
        calls.append(len(texts))
        return real(settings, texts)

    monkeypatch.setattr(tk, "_tokenize_chunk", counting)
    params = {
        "paths": {"data": str(tmp_path / "data")},
        "tokenize": {"cache": True},
        "topics": {"k": 8},
    }
    first = prepare_corpus(ROOT / "seeds", params, progress=False)
    n_unique = len(set(first.paragraphs["text"]))
    assert sum(calls) == n_unique  # repeated texts tokenised once
    calls.clear()
    changed = {**params, "topics": {"k": 12}, "train": {"candidates": ["lr_plain"]}}
    again = prepare_corpus(ROOT / "seeds", changed, progress=False)
    assert calls == []  # nothing re-tokenised
    assert_same_tables(again, first)
    # a changed tokeniser setting is a different cache: everything is tokenised again
    params_hmm = {**params, "tokenize": {"cache": True, "hmm": False}}
    prepare_corpus(ROOT / "seeds", params_hmm, progress=False)
    assert sum(calls) == n_unique
    files = sorted(p.name for p in (tmp_path / "data" / "cache").glob("tokens-*.sqlite"))
    assert len(files) == 2


def test_token_cache_is_incremental_and_survives_corruption(tmp_path, seed_units):
    settings = TokenizerSettings.from_params({})
    half = seed_units[: len(seed_units) // 2]
    tokenize_many(half, settings, cache_dir=tmp_path)
    cache = TokenCache(tmp_path, settings)
    assert len(cache) == len(set(half))
    cache.close()
    full = tokenize_many(seed_units, settings, cache_dir=tmp_path)
    assert full == tokenize_many(seed_units, settings)
    cache = TokenCache(tmp_path, settings)
    assert len(cache) == len(set(seed_units))
    cache.close()
    path = cache.path
    for extra in path.parent.glob(path.name + "-*"):  # WAL side files
        extra.unlink()
    path.write_bytes(b"this is not a database" * 100)
    assert tokenize_many(half, settings, cache_dir=tmp_path) == full[: len(half)]
    with sqlite3.connect(path) as db:
        assert db.execute("select count(*) from tokens").fetchone()[0] == len(set(half))


# ---------------------------------------------------------------- a local cluster
@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip("distributed")
    pytest.importorskip("dask.bag")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=50,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _toy_model(prepared):
    """A small scikit-learn model with predict_proba, fitted on the seed annotations."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from research.corpus.tokenize import get_tokenizer

    ann = pd.read_csv(ROOT / "seeds" / "annotations.csv")
    X = pd.DataFrame({"text": ann["text"], "heading": ""})
    features = ColumnTransformer([("w", TfidfVectorizer(analyzer=get_tokenizer().tokens), "text")])
    return make_pipeline(features, LogisticRegression(max_iter=500)).fit(X, ann["gold"])


@pytest.mark.slow
def test_local_cluster_gives_single_process_results(
    dask_client, prepared_seeds, seed_units, tmp_path
):
    import dask.bag as db
    import joblib
    import pyarrow.parquet as pq

    from research.classify.predict import predict_frame
    from research.corpus.tokenize import tokenize_row_group

    assert len(dask_client.scheduler_info()["workers"]) == 2
    settings = TokenizerSettings.from_params({})
    serial_tokens = tokenize_many(seed_units, settings)

    # tokenise and prepare: joblib's Dask backend runs the same code on the cluster
    with joblib.parallel_backend("dask"):
        assert tokenize_many(seed_units, settings, n_jobs=2, chunk_size=40) == serial_tokens
        distributed = prepare_corpus(
            ROOT / "seeds", {"tokenize": {"cache": False, "n_jobs": 2}}, progress=False
        )
    assert_same_tables(distributed, prepared_seeds)

    # tokenise: a dask.bag over the Parquet row groups of a streamed paragraphs table
    out = tmp_path / "prepared"
    prepare_to_dir(ROOT / "seeds", out, PARAMS, progress=False, chunk_docs=1)
    path = str(out / "paragraphs.parquet")
    n_groups = pq.ParquetFile(path).num_row_groups
    assert n_groups == 5
    bag = db.from_sequence(range(n_groups), npartitions=n_groups)
    parts = bag.map(lambda i: tokenize_row_group(path, i, settings)).compute()
    tokens = pd.concat(parts, ignore_index=True)
    assert tokens["unit_id"].tolist() == prepared_seeds.paragraphs["unit_id"].tolist()
    assert tokens["tokens"].tolist() == [" ".join(t) for t in serial_tokens]

    # predict: each row group predicted on a worker, concatenated in order
    model = _toy_model(prepared_seeds)
    labels = sorted(model.classes_)
    body = prepared_seeds.paragraphs[prepared_seeds.paragraphs.kind == "body"].reset_index(
        drop=True
    )
    single = predict_frame(model, body, labels, "other", normalize=False).table

    def predict_group(i: int) -> pd.DataFrame:
        units = pq.ParquetFile(path).read_row_group(i).to_pandas()
        units = units[units["kind"] == "body"].reset_index(drop=True)
        return predict_frame(model, units, labels, "other", normalize=False).table

    parts = db.from_sequence(range(n_groups), npartitions=n_groups).map(predict_group).compute()
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), single)
