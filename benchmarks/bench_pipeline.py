"""The sample pipeline's time: a fresh ``research run`` and a re-run with nothing changed.

    python benchmarks/bench_pipeline.py                 # full base set (params as shipped)
    python benchmarks/bench_pipeline.py --sample 300    # a label-stratified base-set sample
    python benchmarks/bench_pipeline.py --json out.json
    python benchmarks/bench_pipeline.py --jobs          # + evaluate/learning curve/figures at 1 and 2 jobs

A scratch workspace gets the project's files (``git ls-files``, as a fresh clone has them);
a worker process runs the pipeline there stage by stage, as ``research run`` does (the run
cache decides what is skipped), and reports each stage's wall and CPU seconds (its own
process plus any worker processes it waited for) with the 1-minute load average before and
after. The parent also times the whole worker process (imports included) for each run.

:func:`rows` gives the results as rows in ``benchmarks/run.py``'s field names, so its
report can include them (``stage = "run: <stage>"``, ``note`` = fresh / re-run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def project_files(root: Path = ROOT) -> list[str]:
    """The project's own files (tracked or new, not ignored), as git sees them."""
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(f for f in out.splitlines() if (root / f).is_file())


def make_workspace(dest: Path, sample: int | None = None) -> Path:
    """The project's own files copied to ``dest`` (a fresh clone), ``base_set_sample`` set."""
    for f in project_files():
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, dest / f)
    if sample is not None:
        params = dest / "params.yaml"
        text = params.read_text(encoding="utf-8")
        params.write_text(
            text.replace("base_set_sample: null", f"base_set_sample: {sample}", 1), "utf-8"
        )
    return dest


def set_jobs(ws: Path, n: int) -> None:
    """``train.n_jobs`` (threads) and ``figures.n_jobs`` (processes) = ``n`` in ``ws``."""
    import yaml

    path = ws / "params.yaml"
    params = yaml.safe_load(path.read_text(encoding="utf-8"))
    params["train"]["n_jobs"] = n
    params["figures"]["n_jobs"] = n
    path.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), "utf-8")


def worker(ws: Path, out: Path, argv: list[str] | None = None) -> None:
    """Run the pipeline in ``ws`` through the run cache; write per-stage times to ``out``."""
    os.chdir(ws)
    sys.path.insert(0, str(ws))
    from research import runcache
    from research.cli import main

    load0 = os.getloadavg()[0]
    timings: list = []

    def recorded(*args, **kwargs):  # ``research run`` as a user types it, timings kept
        timings.extend(run_cached(*args, **kwargs))
        return timings

    run_cached = runcache.run_cached
    runcache.run_cached = recorded
    if main(["run", *(argv or [])]) != 0:
        raise SystemExit("research run failed")
    stages = [t._asdict() for t in timings]
    out.write_text(
        json.dumps({"stages": stages, "load1": [load0, os.getloadavg()[0]]}), encoding="utf-8"
    )


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_once(
    ws: Path, label: str, run_args: tuple[str, ...] = (), env_extra: dict | None = None
) -> dict:
    """One worker process: the pipeline in ``ws``; its stage times and whole-process time."""
    result = ws / f".bench-{label}.json"
    extra = ["--run-args", json.dumps(list(run_args))] if run_args else []
    env = {**os.environ, **ONE_THREAD, "MPLBACKEND": "Agg", "PYTHONPATH": str(ws)}
    env.update(env_extra or {})
    t0, c0 = time.perf_counter(), _children_cpu()
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--worker", str(ws), str(result), *extra],
        env=env,
        capture_output=True,
        text=True,
    )
    wall, cpu = time.perf_counter() - t0, _children_cpu() - c0
    if proc.returncode != 0:
        raise SystemExit(f"{label} run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    res = json.loads(result.read_text(encoding="utf-8"))
    res.update(label=label, process_wall_s=wall, process_cpu_s=cpu)
    return res


JOB_STAGES = ("evaluate", "learning_curve", "figures")
FIRST = "first run on this machine"


def measure(sample: int | None = None, jobs: bool = False) -> list[dict]:
    """A fresh run, then a re-run with nothing changed, in one scratch workspace; a fresh
    run in another with the user-level caches empty too (a machine's first run); with
    ``jobs``, the stages that run in parallel again at 1 and 2 jobs (forced, interleaved)."""
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        ws = make_workspace(Path(tmp) / "ws", sample)
        out = [run_once(ws, "fresh"), run_once(ws, "re-run")]
        # what a new machine (or CI) pays once: matplotlib's font list and the CJK subset
        # font (research/viz/style.py), both cached per user, not per project
        first = make_workspace(Path(tmp) / "first", sample)
        empty = {
            "RESEARCH_CACHE_DIR": str(Path(tmp) / "cache"),
            "MPLCONFIGDIR": str(Path(tmp) / "mpl"),
        }
        out.append(run_once(first, FIRST, env_extra=empty))
        if jobs:
            for n in (1, 2, 1, 2):
                set_jobs(ws, n)
                out.append(run_once(ws, f"{n} job(s)", ("--only", *JOB_STAGES, "--force")))
        return out


def rows(results: list[dict]) -> list[dict]:
    """Rows in ``benchmarks/run.py``'s fields: one per stage and run, plus the process."""
    out = []
    for res in results:
        load = f"load1 {res['load1'][0]:.2f}→{res['load1'][1]:.2f}"
        for st in res["stages"]:
            out.append(
                {
                    "corpus": "seeds",
                    "stage": f"run: {st['name']}",
                    "wall_s": round(st["wall_s"], 2),
                    "cpu_s": round(st["cpu_s"], 2),
                    "load1": round(res["load1"][0], 2),
                    "note": f"{res['label']}{' (skipped)' if st['skipped'] else ''}; {load}",
                }
            )
        out.append(
            {
                "corpus": "seeds",
                "stage": "research run",
                "wall_s": round(res["process_wall_s"], 2),
                "cpu_s": round(res["process_cpu_s"], 2),
                "load1": round(res["load1"][0], 2),
                "note": f"{res['label']}: whole process incl. imports; {load}",
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sample", type=int, default=None, help="base_set_sample (default: all)")
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    ap.add_argument("--jobs", action="store_true", help="also compare 1 and 2 jobs")
    ap.add_argument("--worker", nargs=2, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--run-args", default="[]", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker:
        worker(Path(a.worker[0]), Path(a.worker[1]), json.loads(a.run_args))
        return 0
    table = rows(measure(a.sample, a.jobs))
    for r in table:
        print(f"{r['stage']:<22} {r['wall_s']:7.2f} s wall {r['cpu_s']:7.2f} s CPU  {r['note']}")
    if a.json:
        Path(a.json).write_text(json.dumps(table, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
