"""Benchmark the pipeline stages on three corpora and write BENCHMARKS.md.

    python benchmarks/run.py            # seeds, gov reports, 10,000 generated documents
    python benchmarks/run.py --quick    # 1,000 generated documents, fewer repeats
    python -m benchmarks.run --docs 3000 --skip-run

Corpora: ``seeds/``; ``../shared/corpora/gov-work-reports/`` (skipped when absent); and a
generated corpus of real paragraphs recombined into new documents (benchmarks/corpora.py).

Every measured stage runs in a fresh subprocess (``--worker``) that times only the stage
itself (after imports) and reports wall and CPU seconds; the parent polls the worker's
process tree with psutil for its peak RSS (the sum over the worker and any processes it
starts, e.g. joblib workers). Each stage is compared with its *floor* measured in the
same run on the same input, interleaved with it:

* prepare → bare ``rjieba.cut`` (the project's segmenter, default dictionary, its load
  included) over the documents' normalised text;
* predict (the ``research predict`` CLI, model load, reading and writing included) → bare
  ``rjieba.cut`` over the body units' text, and bare ``jieba.lcut`` (the old segmenter) as
  a second yardstick; predict in process (model loaded) as paragraphs per CPU second.

Also measured: tokenisation with 1 and 2 processes (and the machine's own 2-process
speed-up on a pure-Python CPU loop, as a yardstick on a shared machine), the token
cache (cold vs warm re-run), LDA training (research.topics), and ``research run`` on the
seeds, fresh and re-run with nothing changed, per stage (``benchmarks/bench_pipeline.py``). Each row notes the machine's 1-minute load average. Results go to
benchmarks/results/*.csv (gitignored); BENCHMARKS.md is generated from them, with the
issue's targets marked met / NOT met — no number in it is typed by hand.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


from benchmarks.corpora import GOV, SEEDS, generate_corpus  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
REPORT = ROOT / "BENCHMARKS.md"
FIELDS = [
    "corpus",
    "stage",
    "jobs",
    "docs",
    "units",
    "chars",
    "wall_s",
    "cpu_s",
    "rate",
    "rate_unit",
    "floor",
    "floor_wall_s",
    "floor_cpu_s",
    "ratio_wall",
    "ratio_cpu",
    "peak_rss_mb",
    "load1",
    "note",
]
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: the predict targets are the issue's on this many distinct paragraphs; on fewer, fixed
#: costs (imports, loading the model, the first batch) weigh in: reported, not judged
PREDICT_TARGET_UNITS = 20_000


# ====================================================================== workers
def _clock():
    return time.perf_counter(), time.process_time()


def _since(t):
    return {"wall_s": time.perf_counter() - t[0], "cpu_s": time.process_time() - t[1]}


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def worker_prepare(a: dict) -> dict:
    from research.corpus.prepare import prepare_to_dir

    params = {"tokenize": {"cache": False, "n_jobs": a["jobs"]}}
    t = _clock()
    c0 = _children_cpu()
    _, stats = prepare_to_dir(a["corpus"], a["out"], params, progress=False)
    res = _since(t)
    res["cpu_s"] += _children_cpu() - c0
    res.update(
        docs=stats.documents,
        units=sum(stats.kinds.values()),
        chars=_text_chars(Path(a["out"]) / "documents.parquet"),
    )
    return res


def _text_chars(path: Path) -> int:
    """Characters of the normalised text column, one row group at a time (low memory)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    return sum(
        pc.sum(pc.utf8_length(pf.read_row_group(i, columns=["text"]).column("text"))).as_py() or 0
        for i in range(pf.num_row_groups)
    )


def _floor_texts(a: dict) -> list[str]:
    """The texts a floor segments: documents' normalised text, or the body units' text."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    if a.get("source") == "units":
        t = pq.read_table(Path(a["prepared"]) / "paragraphs.parquet", columns=["kind", "text"])
        return t.filter(pc.equal(t["kind"], "body")).column("text").to_pylist()
    return (
        pq.read_table(Path(a["prepared"]) / "documents.parquet", columns=["text"])
        .column("text")
        .to_pylist()
    )


def worker_seg_floor(a: dict) -> dict:
    """Bare segmentation of the same texts, default dictionary, its load included:
    ``rjieba`` (the project's segmenter, the floor) or ``jieba`` (the old one, a yardstick)."""
    texts = _floor_texts(a)
    if a.get("segmenter", "rjieba") == "rjieba":
        import rjieba

        t = _clock()
        cut = rjieba.Jieba().cut
    else:
        import jieba

        jieba.setLogLevel(60)
        t = _clock()
        jieba.initialize()
        cut = jieba.lcut
    n = 0
    for x in texts:
        n += len(cut(x))
    res = _since(t)
    res.update(docs=len(texts), units=len(texts), chars=sum(map(len, texts)), tokens=n)
    return res


def worker_predict_inproc(a: dict) -> dict:
    """``predict_frame`` in process on up to N distinct body units, model loaded, one core."""
    import pandas as pd

    from research.classify.persist import load_model
    from research.classify.predict import predict_frame
    from research.config import load_params
    from research.labels.codebook import load_codebook

    units = _load_units_for_predict(a["prepared"])
    units = units.drop_duplicates("text").head(int(a.get("n", PREDICT_TARGET_UNITS)))
    X = pd.DataFrame(
        {
            "text": units["text"].astype(str).tolist(),
            "heading": units["heading"].astype(str).tolist(),
        }
    )
    cb = load_codebook()
    model, card = load_model(a["model"], cb)
    params = load_params(ROOT / "params.yaml")
    predict_frame(model, X.head(20), card["labels"], cb.other_id, params=params, normalize=False)
    t = _clock()
    predict_frame(model, X, card["labels"], cb.other_id, params=params, normalize=False)
    res = _since(t)
    res.update(units=len(X), chars=int(X["text"].str.len().sum()))
    return res


def _unit_texts(prepared: str) -> list[str]:
    import pyarrow.parquet as pq

    return (
        pq.read_table(Path(prepared) / "paragraphs.parquet", columns=["text"])
        .column("text")
        .to_pylist()
    )


def worker_tokenize(a: dict) -> dict:
    from research.corpus.tokenize import TokenizerSettings, get_tokenizer, tokenize_many

    texts = _unit_texts(a["prepared"])
    settings = TokenizerSettings.from_params({})
    if a["jobs"] > 1:  # start the pool (and load jieba in it) outside the timing
        from joblib import Parallel, delayed

        Parallel(n_jobs=a["jobs"])(delayed(_warm)(settings) for _ in range(a["jobs"] * 2))
    else:
        _ = get_tokenizer(settings).jieba  # load the dictionary before timing
    t = _clock()
    c0 = _children_cpu()
    tokenize_many(texts, settings, n_jobs=a["jobs"], cache_dir=a.get("cache"))
    res = _since(t)
    res["cpu_s"] += _children_cpu() - c0
    res.update(units=len(texts), chars=sum(map(len, texts)))
    return res


def _warm(settings) -> int:
    from research.corpus.tokenize import get_tokenizer

    _ = get_tokenizer(settings).jieba
    return os.getpid()


def worker_calibrate(a: dict) -> dict:
    """A pure-Python CPU loop in 1 and in 2 processes: how much parallelism is available."""
    from joblib import Parallel, delayed

    n = a.get("n", 15_000_000)
    Parallel(n_jobs=2)(delayed(_spin)(1000) for _ in range(2))
    t = time.perf_counter()
    _spin(n)
    _spin(n)
    serial = time.perf_counter() - t
    t = time.perf_counter()
    Parallel(n_jobs=2)(delayed(_spin)(n) for _ in range(2))
    par = time.perf_counter() - t
    return {"wall_s": serial, "parallel_s": par, "speedup": serial / par}


def _spin(n: int) -> int:
    s = 0
    for i in range(n):
        s += i & 7
    return s


def _load_units_for_predict(prepared: str):
    from research.io import read_table

    units = read_table(Path(prepared) / "paragraphs.parquet")
    return units[units["kind"] == "body"].reset_index(drop=True)


def worker_predict(a: dict) -> dict:
    """``research predict <prepared>/paragraphs.parquet`` as a user runs it (streamed in
    row batches), timed whole: model load, reading, normalisation, features, writing."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from research.cli import main

    paragraphs = Path(a["prepared"]) / "paragraphs.parquet"
    meta = pq.read_table(paragraphs, columns=["kind", "text"])
    body = meta.filter(pc.equal(meta["kind"], "body"))
    n_units, n_chars = body.num_rows, int(pc.sum(pc.utf8_length(body["text"])).as_py() or 0)
    del meta, body
    t = _clock()
    code = main(
        [
            "--params",
            str(ROOT / "params.yaml"),
            "predict",
            str(paragraphs),
            "--output",
            str(a["out"]),
            "--model",
            str(a["model"]),
        ]
    )
    res = _since(t)
    if code != 0:
        return {"error": f"research predict exited {code}"}
    card = json.loads((Path(a["model"]) / "model_card.json").read_text(encoding="utf-8"))
    res.update(units=n_units, chars=n_chars, model=card.get("chosen", ""))
    return res


def worker_lda(a: dict) -> dict:
    from research.config import load_params
    from research.corpus.tokenize import TokenizerSettings
    from research.topics.corpus import build_corpus, load_units
    from research.topics.lda import LdaSettings, fit_lda
    from research.topics.pipeline import topics_config

    params = load_params(ROOT / "params.yaml")
    cfg = topics_config(params)
    units = load_units(a["prepared"], cfg.get("unit", "paragraph"))
    t = _clock()
    tc = build_corpus(
        units,
        a["out"],
        TokenizerSettings.from_params(params.get("tokenize")),
        no_below=cfg.get("no_below", 2),
        no_above=cfg.get("no_above", 0.5),
    )
    corpus_s = time.perf_counter() - t[0]
    settings = LdaSettings.from_params(cfg)
    t = _clock()
    fit_lda(tc.corpus, tc.dictionary, int(cfg.get("k", 8)), settings, int(params.get("seed", 0)))
    res = _since(t)
    res.update(
        units=len(units), corpus_s=corpus_s, backend=settings.backend, k=int(cfg.get("k", 8))
    )
    return res


WORKERS = {
    name[len("worker_") :]: fn for name, fn in globals().items() if name.startswith("worker_")
}


# ====================================================================== measuring
def measure(task: str, args: dict, env: dict | None = None, timeout: float = 3600) -> dict:
    """Run one worker in a subprocess; add its peak RSS (process tree, psutil polling)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", task, json.dumps(args)]
    return measure_cmd(cmd, env=env, timeout=timeout, json_out=True)


def measure_cmd(
    cmd: list[str],
    env: dict | None = None,
    cwd: Path | None = None,
    timeout: float = 3600,
    json_out: bool = False,
) -> dict:
    import psutil

    full_env = {**os.environ, **ONE_THREAD, **(env or {})}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, cwd=cwd, text=True
    )
    peak = 0
    try:
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                procs = [ps, *ps.children(recursive=True)]
                rss = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        rss += p.memory_info().rss
                peak = max(peak, rss)
            except psutil.Error:
                pass
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                break
            time.sleep(0.05)
    finally:
        out, err = proc.communicate()
    total = time.perf_counter() - t0
    res: dict = {
        "peak_rss_mb": round(peak / 2**20, 1),
        "process_s": round(total, 2),
        "returncode": proc.returncode,
    }
    if json_out:
        lines = [ln for ln in out.splitlines() if ln.startswith("{")]
        if proc.returncode == 0 and lines:
            res.update(json.loads(lines[-1]))
        else:
            res["error"] = (err or out).strip().splitlines()[-1:] or ["failed"]
    else:
        res["wall_s"] = total
        if proc.returncode != 0:
            res["error"] = (err or out).strip().splitlines()[-3:]
    return res


# ====================================================================== the run
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rows: list[dict] = []
        self.extra: dict = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="research-bench-"))
        self.model: str | None = None

    def log(self, msg: str) -> None:
        print(msg, flush=True)

    def add(self, **row) -> dict:
        row = {k: row.get(k, "") for k in FIELDS}
        if row["load1"] == "":
            row["load1"] = round(os.getloadavg()[0], 1)  # the machine is shared: note its load
        for k in ("wall_s", "cpu_s", "floor_wall_s", "floor_cpu_s"):
            if isinstance(row[k], float):
                row[k] = round(row[k], 3)
        for k in ("ratio_wall", "ratio_cpu"):
            if isinstance(row[k], float):
                row[k] = round(row[k], 2)
        if isinstance(row["rate"], float):
            row["rate"] = round(row["rate"])
        self.rows.append(row)
        shown = {k: v for k, v in row.items() if v not in ("", None)}
        self.log(f"  {shown}")
        return row

    def add_measured(
        self, res: dict, corpus: str, stage: str, note: str, by: str = "chars", per: str = "wall_s"
    ) -> dict:
        """A one-process row from a worker's result; rate = ``by`` per ``per``."""
        unit = {"chars": "chars/s", "units": "units/s"}[by]
        return self.add(
            corpus=corpus,
            stage=stage,
            jobs=1,
            docs=res.get("docs", "") if by == "chars" else "",
            units=res.get("units", "") if by == "units" else "",
            chars=res.get("chars", ""),
            wall_s=res["wall_s"],
            cpu_s=res["cpu_s"],
            rate=res[by] / res[per],
            rate_unit=unit if per == "wall_s" else f"{by} per CPU-second",
            peak_rss_mb=res["peak_rss_mb"],
            note=note,
        )

    # -------------------------------------------------------------- per corpus
    def prepare(self, name: str, corpus: Path) -> Path | None:
        reps = 1 if name.startswith("generated") else self.args.repeats
        best = None
        floor = None
        for _r in range(reps):  # alternate stage and floor; keep the fastest of each
            out = self.tmp / f"prepared-{name}"
            if out.exists():
                shutil.rmtree(out)
            res = measure("prepare", {"corpus": str(corpus), "out": str(out), "jobs": 1})
            if "error" in res:
                self.add(corpus=name, stage="prepare", jobs=1, note=f"failed: {res['error']}")
                return None
            fl = measure("seg_floor", {"prepared": str(out), "segmenter": "rjieba"})
            best = res if best is None or res["cpu_s"] < best["cpu_s"] else best
            floor = fl if floor is None or fl["cpu_s"] < floor["cpu_s"] else floor
        self.add(
            corpus=name,
            stage="prepare",
            jobs=1,
            docs=best["docs"],
            units=best["units"],
            chars=best["chars"],
            wall_s=best["wall_s"],
            cpu_s=best["cpu_s"],
            rate=best["chars"] / best["wall_s"],
            rate_unit="chars/s",
            floor="rjieba.cut",
            floor_wall_s=floor["wall_s"],
            floor_cpu_s=floor["cpu_s"],
            ratio_wall=best["wall_s"] / floor["wall_s"],
            ratio_cpu=best["cpu_s"] / floor["cpu_s"],
            peak_rss_mb=best["peak_rss_mb"],
            note=f"best of {reps}; streaming prepare_to_dir, no token cache",
        )
        self.add_measured(
            floor,
            name,
            "rjieba.cut (floor)",
            "bare rjieba over the documents' normalised text, default dictionary",
        )
        if self.args.jobs > 1:
            out2 = self.tmp / f"prepared-{name}-j"
            res = measure(
                "prepare", {"corpus": str(corpus), "out": str(out2), "jobs": self.args.jobs}
            )
            if "error" not in res:
                self.add(
                    corpus=name,
                    stage="prepare",
                    jobs=self.args.jobs,
                    docs=res["docs"],
                    units=res["units"],
                    chars=res["chars"],
                    wall_s=res["wall_s"],
                    rate=res["chars"] / res["wall_s"],
                    rate_unit="chars/s",
                    peak_rss_mb=res["peak_rss_mb"],
                    note=f"speed-up {best['wall_s'] / res['wall_s']:.2f}x vs 1 process "
                    "(per-document work and tokenisation in joblib processes)",
                )
            shutil.rmtree(out2, ignore_errors=True)
        return self.tmp / f"prepared-{name}"

    def tokenize(self, name: str, prepared: Path) -> None:
        one = measure("tokenize", {"prepared": str(prepared), "jobs": 1})
        two = measure("tokenize", {"prepared": str(prepared), "jobs": self.args.jobs})
        if "error" in one or "error" in two:
            self.add(
                corpus=name,
                stage="tokenize",
                note=f"failed: {one.get('error') or two.get('error')}",
            )
            return
        for res, jobs in ((one, 1), (two, self.args.jobs)):
            note = (
                "" if jobs == 1 else f"speed-up {one['wall_s'] / res['wall_s']:.2f}x vs 1 process"
            )
            self.add(
                corpus=name,
                stage="tokenize",
                jobs=jobs,
                units=res["units"],
                chars=res["chars"],
                wall_s=res["wall_s"],
                cpu_s=res["cpu_s"] if jobs == 1 else "",
                rate=res["chars"] / res["wall_s"],
                rate_unit="chars/s",
                peak_rss_mb=res["peak_rss_mb"],
                note=note,
            )
        self.extra.setdefault("tokenize_speedup", {})[name] = one["wall_s"] / two["wall_s"]
        if name.startswith("generated"):
            return
        cache = self.tmp / f"cache-{name}"
        cold = measure("tokenize", {"prepared": str(prepared), "jobs": 1, "cache": str(cache)})
        warm = measure("tokenize", {"prepared": str(prepared), "jobs": 1, "cache": str(cache)})
        if "error" not in cold and "error" not in warm:
            for label, res in (("cold", cold), ("warm", warm)):
                self.add(
                    corpus=name,
                    stage=f"tokenize, cache {label}",
                    jobs=1,
                    units=res["units"],
                    chars=res["chars"],
                    wall_s=res["wall_s"],
                    cpu_s=res["cpu_s"],
                    rate=res["chars"] / res["wall_s"],
                    rate_unit="chars/s",
                    peak_rss_mb=res["peak_rss_mb"],
                    note="SQLite cache, first run"
                    if label == "cold"
                    else f"re-run: {cold['wall_s'] / warm['wall_s']:.0f}x faster, nothing re-tokenised",
                )

    def predict(self, name: str, prepared: Path) -> None:
        if self.benchmark_model() is None:
            self.add(corpus=name, stage="predict", note="skipped: no trained model")
            return
        res = measure(
            "predict",
            {
                "prepared": str(prepared),
                "model": self.model,
                "out": str(self.tmp / f"pred-{name}.parquet"),
            },
        )
        if "error" in res:
            self.add(corpus=name, stage="predict", note=f"failed: {res['error']}")
            return
        fl = measure("seg_floor", {"prepared": str(prepared), "source": "units"})
        jb = measure(
            "seg_floor", {"prepared": str(prepared), "source": "units", "segmenter": "jieba"}
        )
        row = dict(
            corpus=name,
            stage="predict (CLI)",
            jobs=1,
            units=res["units"],
            chars=res["chars"],
            wall_s=res["wall_s"],
            cpu_s=res["cpu_s"],
            rate=res["units"] / res["wall_s"],
            rate_unit="units/s",
            peak_rss_mb=res["peak_rss_mb"],
            note=f"research predict on body units (streamed row batches), model {res.get('model', '')}; "
            "RSS of the whole predict process (read table, predict, write)",
        )
        for f, what in ((fl, "rjieba.cut"), (jb, "jieba.lcut")):
            if "error" in f:
                row["note"] += f"; {what} floor not measured: {f['error']}"
                continue
            self.add_measured(
                f,
                name,
                f"{what} (floor, body units)",
                "bare segmentation of the same texts, default dictionary, load included",
                by="units",
            )
        if "error" not in fl:
            row.update(
                floor="rjieba.cut",
                floor_wall_s=fl["wall_s"],
                floor_cpu_s=fl["cpu_s"],
                ratio_wall=res["wall_s"] / fl["wall_s"],
                ratio_cpu=res["cpu_s"] / fl["cpu_s"],
            )
        if "error" not in jb:
            row["note"] += (
                f"; ÷ bare jieba.lcut on the same texts: {res['cpu_s'] / jb['cpu_s']:.2f}× (CPU), "
                f"{res['wall_s'] / jb['wall_s']:.2f}× (wall)"
            )
            self.extra.setdefault("predict_vs_jieba", {})[name] = {
                "cpu": res["cpu_s"] / jb["cpu_s"],
                "wall": res["wall_s"] / jb["wall_s"],
            }
        self.add(**row)
        # a second of allocation-heavy work varies by ±15% between fresh processes (seen:
        # 1.00-1.36 CPU s on the same 5,529 units): the fastest of a few is kept, as for prepare
        reps = max(1, self.args.repeats) + 1
        ip: dict = {}
        for _r in range(reps):
            one = measure("predict_inproc", {"prepared": str(prepared), "model": self.model})
            if "error" in one:
                self.add(corpus=name, stage="predict (in process)", note=f"failed: {one['error']}")
                return
            ip = one if not ip or one["cpu_s"] < ip["cpu_s"] else ip
        self.add_measured(
            ip,
            name,
            "predict (in process)",
            f"predict_frame on up to {PREDICT_TARGET_UNITS:,} distinct body units, model loaded, "
            f"no normalisation (prepared text); rate per CPU second = per core; best of {reps}",
            by="units",
            per="cpu_s",
        )

    def lda(self, name: str, prepared: Path) -> None:
        try:
            import research.topics.lda  # noqa: F401
        except ImportError:
            self.add(
                corpus=name, stage="LDA training", note="skipped: research.topics not available"
            )
            return
        res = measure("lda", {"prepared": str(prepared), "out": str(self.tmp / f"lda-{name}")})
        if "error" in res:
            self.add(corpus=name, stage="LDA training", note=f"failed: {res['error']}")
            return
        self.add(
            corpus=name,
            stage="LDA training",
            jobs=1,
            units=res["units"],
            wall_s=res["wall_s"],
            cpu_s=res["cpu_s"],
            rate=res["units"] / res["wall_s"],
            rate_unit="units/s",
            peak_rss_mb=res["peak_rss_mb"],
            note=f"{res['backend']}, K={res['k']}, params topics; building the streamed "
            f"corpus (tokenise, dictionary, .mm) took {res['corpus_s']:.1f}s more",
        )

    def research_run(self) -> None:
        """``research run`` on the seeds in a fresh clone's files, fresh and then re-run with
        nothing changed, per stage (``benchmarks/bench_pipeline.py``; the repo is untouched)."""
        from benchmarks import bench_pipeline

        try:
            for row in bench_pipeline.rows(bench_pipeline.measure(jobs=True)):
                self.add(**row)
        except (Exception, SystemExit) as exc:  # reported as a row
            self.add(corpus="seeds", stage="research run", note=f"failed: {exc}"[:300])

    def benchmark_model(self) -> str | None:
        """The model predict is timed with: the repo's, the run's, or one trained here on the
        shipped base set alone (``research train --no-cv``)."""
        if self.model is None and (ROOT / "models" / "classifier" / "model.joblib").exists():
            self.model = str(ROOT / "models" / "classifier")  # looked up as late as possible
        if self.model is None:
            out = self.tmp / "bench-model"
            self.log("training a benchmark model on the base set (research train --no-cv)")
            res = measure_cmd(
                [sys.executable, "-m", "research", "--params", str(ROOT / "params.yaml")]
                + ["train", "--no-cv", "--out", str(out)],
                cwd=self.tmp,
                timeout=self.args.run_timeout,
            )
            if "error" not in res and (out / "model.joblib").exists():
                self.model = str(out)
        return self.model

    # -------------------------------------------------------------- everything
    def run(self) -> None:
        a = self.args
        self.extra["jobs"] = a.jobs
        self.extra["load_before"] = os.getloadavg()
        self.log("calibration: pure-Python loop in 1 vs 2 processes")
        cal = measure("calibrate", {})
        self.extra["calibration"] = cal
        self.log(f"  machine 2-process speed-up now: {cal.get('speedup', float('nan')):.2f}x")
        if not a.skip_run:
            self.log("research run (seeds, end to end)")
            self.research_run()
        corpora = [("seeds", SEEDS)]
        if GOV.exists():
            corpora.append(("gov-reports", GOV))
        else:
            self.add(corpus="gov-reports", stage="all", note=f"skipped: {GOV} absent")
        prepared = {}
        for name, path in corpora:
            self.log(f"{name}: prepare")
            prepared[name] = self.prepare(name, path)
        gen = self.tmp / "generated"
        self.log(f"generating {a.docs} documents from real paragraphs")
        info = generate_corpus(gen, a.docs, [p for p in prepared.values() if p])
        self.extra["generated"] = info
        name = f"generated-{a.docs}"
        corpora.append((name, gen))
        self.log(f"{name}: prepare")
        prepared[name] = self.prepare(name, gen)
        for name, _ in corpora:
            p = prepared.get(name)
            if p is None:
                continue
            if name != "seeds":
                self.log(f"{name}: tokenize")
                self.tokenize(name, p)
            self.log(f"{name}: predict")
            self.predict(name, p)
            if a.no_lda:
                continue
            if name != "seeds" and (not name.startswith("generated") or a.lda_large):
                self.log(f"{name}: LDA")
                self.lda(name, p)
        self.log("segmenter agreement and macro-F1 per segmenter (bench_segmenter.py --f1)")
        res = measure_cmd(
            [sys.executable, str(ROOT / "benchmarks" / "bench_segmenter.py"), "--f1"],
            cwd=ROOT,
            timeout=a.run_timeout,
        )
        if "error" in res:
            self.add(
                corpus="seeds", stage="segmenter agreement", note=f"failed: {res['error']}"[:300]
            )
        self.extra["load_after"] = os.getloadavg()

    def write(self) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        with (RESULTS / "bench.csv").open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
            w.writeheader()
            w.writerows(self.rows)
        (RESULTS / "bench_extra.json").write_text(
            json.dumps(self.extra, indent=2, default=str) + "\n"
        )
        REPORT.write_text(render_report(self.rows, self.extra, self.args), encoding="utf-8")
        self.log(f"wrote {RESULTS / 'bench.csv'} and {REPORT}")


# ====================================================================== report
def machine() -> list[str]:
    import psutil

    freq = psutil.cpu_freq()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"- OS: {platform.platform()}",
        f"- CPU: {cpu}; {os.cpu_count()} logical cores "
        f"({psutil.cpu_count(logical=False)} physical)"
        + (f", {freq.max or freq.current:.0f} MHz" if freq else ""),
        f"- RAM: {psutil.virtual_memory().total / 2**30:.1f} GiB",
        f"- Python {platform.python_version()} ({platform.python_implementation()})",
    ]


def _fmt(v, nd=2) -> str:
    if v in ("", None):
        return ""
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _load_note(extra: dict) -> str:
    """What the load average means for the wall times (a busy machine inflates them)."""
    loads = [*extra.get("load_before", ()), *extra.get("load_after", ())]
    n_cpu = os.cpu_count() or 1
    if loads and max(loads) <= n_cpu:
        return "a quiet machine: the load stayed at or below its core count"
    return (
        "the machine was shared with other jobs, so wall times are inflated; read the ratios, "
        "measured interleaved on the same input, and the CPU times"
    )


def render_report(rows: list[dict], extra: dict, args: argparse.Namespace) -> str:
    from research.corpus.tokenize import default_segmenter, segmenter_version

    cal = extra.get("calibration", {})
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python benchmarks/run.py"
        + (" --quick" if args.quick else "")
        + (f" --docs {args.docs}" if not args.quick and args.docs != 10_000 else "")
        + "` — every number below comes from that script (raw rows in "
        "`benchmarks/results/bench.csv`, gitignored). Re-run it to refresh this file.",
        "",
        "## Machine",
        "",
        *machine(),
        f"- segmenter {segmenter_version(default_segmenter())}; load average before/after the run: "
        f"{', '.join(f'{x:.1f}' for x in extra.get('load_before', ()))} / "
        f"{', '.join(f'{x:.1f}' for x in extra.get('load_after', ()))} "
        f"({_load_note(extra)}; each row notes the 1-minute load average when it was "
        "measured)",
        f"- available parallelism at run time: a pure-Python CPU loop ran "
        f"{_fmt(cal.get('speedup'))}× faster in 2 processes than in 1",
        "",
        "## Corpora",
        "",
        "- `seeds`: the 5 sample reports in `seeds/`.",
        "- `gov-reports`: `../shared/corpora/gov-work-reports/government_work_reports.jsonl` "
        "(72 reports, traditional characters).",
    ]
    g = extra.get("generated")
    if g:
        lines.append(
            f"- `generated-{g['documents']}`: {g['documents']:,} documents, {g['characters']:,} characters, "
            f"built by `benchmarks/corpora.py`: new paragraphs of 2–6 sentences drawn from "
            f"{g['sentence_pool']:,} real sentences, and {g['heading_pool']:,} real headings, of the "
            "two corpora above (so paragraphs do not repeat; random provinces, places, "
            "levels, years; 10% traditional, 10% GB18030, 10% CRLF), as .txt files + manifest.csv."
        )
    lines += [
        "",
        "## Results",
        "",
        "Times are seconds of the stage itself in a fresh process (the entry module imported "
        "before timing; what the stage imports itself, e.g. scikit-learn for predict, included; the "
        "dictionary load included). CPU = process CPU time (1-process rows only). Ratio = "
        "stage / floor on the same input in the same run; the floor is the new tokeniser "
        "alone (bare `rjieba.cut`, default dictionary, its load included) over the normalised "
        "document text (prepare) or the body units' text (predict). "
        "Peak RSS = highest sum of RSS over the stage's process and its child processes. "
        "The `run: <stage>` rows are the stages of one `research run`; in it the topic models "
        "run in a forked process beside evaluate … predict, and the learning curve beside "
        "train, predict and analyse (research/stagepool.py), so wall times overlap and add up "
        "to more than the `research run` row. `fresh` = a fresh clone's files (no data/, no "
        "token cache) on a machine that has run the package before; `first run on this "
        "machine` = the same with the per-user caches empty too (matplotlib's font list, the "
        "CJK subset font in ~/.cache/research).",
        "",
        "| corpus | stage | jobs | docs | units | chars | wall s | CPU s | rate | floor wall s | "
        "ratio (wall) | ratio (CPU) | peak RSS MB | load | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        rate = f"{_fmt(r['rate'])} {r['rate_unit']}" if r["rate"] != "" else ""
        lines.append(
            "| "
            + " | ".join(
                [
                    r["corpus"],
                    r["stage"],
                    _fmt(r["jobs"]),
                    _fmt(r["docs"]),
                    _fmt(r["units"]),
                    _fmt(r["chars"]),
                    _fmt(r["wall_s"]),
                    _fmt(r["cpu_s"]),
                    rate,
                    _fmt(r["floor_wall_s"]),
                    _fmt(r["ratio_wall"]),
                    _fmt(r["ratio_cpu"]),
                    _fmt(r["peak_rss_mb"], 0),
                    _fmt(r["load1"], 1),
                    str(r["note"]).replace("|", "/"),
                ]
            )
            + " |"
        )
    lines += segmenter_section()
    lines += ["", "## Targets", ""]
    lines += targets(rows, extra)
    lines.append("")
    return "\n".join(lines)


def segmenter_section() -> list[str]:
    """rjieba vs jieba (from benchmarks/bench_segmenter.py's results, when present)."""
    path = RESULTS / "segmenter.json"
    if not path.exists():
        return []
    seg = json.loads(path.read_text(encoding="utf-8"))
    lines = [
        "",
        "## Segmenter: rjieba vs jieba",
        "",
        "From `python benchmarks/bench_segmenter.py --f1` (results/segmenter.json): share of "
        "lines whose tokens are identical, and jieba's CPU time ÷ rjieba's on the same lines.",
        "",
        "| corpus | dictionary | lines | raw tokens identical | content tokens identical | "
        "speed-up (CPU) |",
        "|---|---|---|---|---|---|",
    ]
    for r in seg.get("agreement", []):
        lines.append(
            f"| {r['corpus']} | {r['dictionary']} | {r['lines']:,} | {r['raw_identical']:.2%} | "
            f"{r['content_identical']:.2%} | {r['speedup_cpu']:.1f}× |"
        )
    base = seg.get("base_only") or {}
    if base:
        lines += [
            "",
            f"Classifier macro-F1 on the seed reports' real gold ({base['units']} units), each "
            "candidate fitted on the shipped base set only (no gold in training), once per "
            "segmenter:",
            "",
            "| candidate | jieba | rjieba | same labels |",
            "|---|---|---|---|",
        ]
        for name, r in base["candidates"].items():
            lines.append(
                f"| {name} | {r['jieba']['macro_f1']:.4f} | {r['rjieba']['macro_f1']:.4f} | "
                f"{r['same_labels']:.1%} |"
            )
    train = seg.get("train") or {}
    if train:
        lines += [
            "",
            "Classifier macro-F1 on real gold (pipeline up to `train` on the seeds, the two "
            "runs differing only in `tokenize.segmenter`):",
            "",
            "| score | jieba | rjieba |",
            "|---|---|---|",
        ]
        j, r = (train.get(k, {}).get("metrics", {}) for k in ("jieba", "rjieba"))
        for key in sorted(set(j) | set(r)):
            lines.append(f"| {key} | {_fmt(j.get(key), 4)} | {_fmt(r.get(key), 4)} |")
        for k in ("jieba", "rjieba"):
            if "error" in train.get(k, {}):
                lines.append(f"\n{k} run failed: {train[k]['error']}")
    return lines


def jobs_lines(rows: list[dict]) -> list[str]:
    """Stages run at 1 and 2 jobs (bench_pipeline --jobs): mean wall seconds, speed-up."""
    walls: dict[tuple[str, int], list[float]] = {}
    for r in rows:
        note = str(r["note"])
        if r["stage"].startswith("run: ") and note[:1] in "12" and " job(s)" in note:
            walls.setdefault((r["stage"][5:], int(note[0])), []).append(float(r["wall_s"]))
    out = []
    for stage in dict.fromkeys(st for st, _ in walls):
        one, two = walls.get((stage, 1)), walls.get((stage, 2))
        if one and two:
            a, b = sum(one) / len(one), sum(two) / len(two)
            out.append(
                f"- {stage} at 2 jobs (train.n_jobs threads / figures.n_jobs processes) vs 1, "
                f"seeds, mean of {len(two)} forced runs: {b:.1f} s vs {a:.1f} s wall "
                f"({a / b:.2f}× speed-up)"
            )
    return out


def _verdict(ok: bool, units: object) -> str:
    n = units if isinstance(units, int) else 0
    if n >= PREDICT_TARGET_UNITS:
        return "met" if ok else "NOT met"
    return (
        f"{'within' if ok else 'outside'} the target's figure, but on {n:,} units, fewer than"
        f" its {PREDICT_TARGET_UNITS:,}: not judged"
    )


def targets(rows: list[dict], extra: dict) -> list[str]:
    out = []
    prep = [r for r in rows if r["stage"] == "prepare" and r["jobs"] == 1 and r["ratio_cpu"] != ""]
    for r in prep:
        ok = r["ratio_cpu"] <= 1.3
        out.append(
            f"- prepare ≤ 1.3× the bare new tokeniser (rjieba) on one core — {r['corpus']}: "
            f"{r['ratio_cpu']:.2f}× (CPU), {r['ratio_wall']:.2f}× (wall): "
            f"{'met' if ok else 'NOT met'}"
        )
    for r in rows:
        if r["stage"] == "predict (in process)" and r["rate"] != "":
            out.append(
                f"- predict ≥ 5,000 paragraphs/s per core in process — {r['corpus']} "
                f"({r['units']:,} distinct units): {r['rate']:,} per CPU second "
                f"({r['units'] / r['wall_s']:,.0f}/s wall at load {r['load1']}): "
                + _verdict(r["rate"] >= 5000, r["units"])
            )
        if r["stage"] == "predict (CLI)" and r["ratio_cpu"] != "":
            out.append(
                f"- predict CLI ÷ bare rjieba on the same texts — {r['corpus']}: "
                f"{r['ratio_cpu']:.2f}× (CPU), {r['ratio_wall']:.2f}× (wall)"
            )
    cli_units = {r["corpus"]: r["units"] for r in rows if r["stage"] == "predict (CLI)"}
    for name, v in extra.get("predict_vs_jieba", {}).items():
        out.append(
            f"- predict CLI ≤ 0.5× bare jieba.lcut on the same texts — {name}: {v['cpu']:.2f}× "
            f"(CPU), {v['wall']:.2f}× (wall): " + _verdict(v["cpu"] <= 0.5, cli_units.get(name, 0))
        )
    for r in rows:
        if (
            r["stage"] == "research run"
            and r["wall_s"] != ""
            and str(r["note"]).startswith(("fresh", "re-run"))
        ):
            rerun = str(r["note"]).startswith("re-run")
            what, limit = ("re-run with nothing changed", 3) if rerun else ("fresh run", 30)
            out.append(
                f"- sample pipeline (`research run`, seeds), {what}, under {limit} s: "
                f"{r['wall_s']:.1f} s wall at load {r['load1']}: "
                f"{'met' if r['wall_s'] < limit else 'NOT met'}"
            )
        if (
            r["stage"] == "research run"
            and r["wall_s"] != ""
            and str(r["note"]).startswith("first run")
        ):
            out.append(
                f"- sample pipeline (`research run`, seeds), first run on a machine (the per-user"
                f" caches empty as well: matplotlib's font list, the CJK subset font): "
                f"{r['wall_s']:.1f} s wall at load {r['load1']} (paid once per machine; reported"
                " beside the fresh run)"
            )
    out += jobs_lines(rows)
    for name, s in extra.get("tokenize_speedup", {}).items():
        if not extra.get("jobs", 2) > 1:
            break
        cal = extra.get("calibration", {}).get("speedup")
        out.append(
            f"- parallel tokenisation, 2 processes — {name}: {s:.2f}× speed-up "
            f"(the machine's own 2-process speed-up on a CPU loop in this run: {_fmt(cal)}×)"
        )
    for r in rows:
        if r["stage"] == "prepare" and r["jobs"] not in ("", 1) and r["wall_s"] != "":
            out.append(
                f"- prepare with {r['jobs']} processes — {r['corpus']}: {r['note'].split(' (')[0]}"
            )
    big = [
        r
        for r in rows
        if r["corpus"].startswith("generated")
        and r["stage"] in ("prepare", "predict")
        and r["peak_rss_mb"] != ""
    ]
    for r in big:
        ok = r["peak_rss_mb"] < 2048
        out.append(
            f"- peak RSS under 2 GB on the generated corpus — {r['stage']} ({r['jobs']} process"
            f"{'es' if r['jobs'] != 1 else ''}): {r['peak_rss_mb']:,.0f} MB: {'met' if ok else 'NOT met'}"
        )
    sized = {
        r["corpus"]: r
        for r in rows
        if r["stage"] == "prepare" and r["jobs"] == 1 and r["peak_rss_mb"] != ""
    }
    if len(sized) >= 2:
        parts = ", ".join(
            f"{c} {r['chars']:,} chars → {r['peak_rss_mb']:,.0f} MB" for c, r in sized.items()
        )
        out.append(f"- prepare memory vs corpus size (streaming): {parts}")
    return out


def _parse(v: str):
    """A CSV cell back as int, float or str (as ``Bench.add`` wrote it)."""
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


# ====================================================================== CLI
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("worker_args", nargs="?", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="1,000 generated documents, 1 repeat")
    ap.add_argument("--docs", type=int, default=None, help="generated documents (default 10,000)")
    ap.add_argument(
        "--repeats", type=int, default=None, help="repeats of prepare/floor (best kept)"
    )
    ap.add_argument("--jobs", type=int, default=2, help="processes for the parallel measurements")
    ap.add_argument("--skip-run", action="store_true", help="do not time `research run`")
    ap.add_argument(
        "--lda-large", action="store_true", help="also train LDA on the generated corpus"
    )
    ap.add_argument("--run-timeout", type=float, default=1800)
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--no-lda", action="store_true", help="do not time LDA training")
    ap.add_argument(
        "--prepare-rows",
        default=None,
        help="bench.csv of an earlier run whose prepare rows on a generated corpus are kept "
        "(marked as such), e.g. 10,000 documents measured separately",
    )
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="re-write BENCHMARKS.md from benchmarks/results/ without measuring",
    )
    args = ap.parse_args(argv)
    if args.worker:
        res = WORKERS[args.worker](json.loads(args.worker_args or "{}"))
        print(json.dumps(res, default=str))
        return 0
    args.docs = args.docs or (1000 if args.quick else 10_000)
    args.repeats = args.repeats or (1 if args.quick else 2)
    if args.report_only:
        with (RESULTS / "bench.csv").open(encoding="utf-8") as fh:
            rows = [{k: _parse(v) for k, v in r.items()} for r in csv.DictReader(fh)]
        extra = json.loads((RESULTS / "bench_extra.json").read_text(encoding="utf-8"))
        extra.setdefault("jobs", args.jobs)
        args.docs = (extra.get("generated") or {}).get("documents", args.docs)
        REPORT.write_text(render_report(rows, extra, args), encoding="utf-8")
        print(f"wrote {REPORT}")
        return 0
    bench = Bench(args)
    if args.prepare_rows:
        with open(args.prepare_rows, encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                if r["corpus"].startswith("generated") and r["stage"] in (
                    "prepare",
                    "rjieba.cut (floor)",
                ):
                    r = {k: _parse(v) for k, v in r.items()}
                    r["note"] = f"{r['note']} [kept from an earlier run: {args.prepare_rows}]"
                    bench.rows.append(r)
    try:
        bench.run()
        bench.write()
    finally:
        if args.keep:
            print(f"scratch kept: {bench.tmp}")
        else:
            shutil.rmtree(bench.tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
