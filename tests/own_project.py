"""A small generated user project (``research init`` + a made-up corpus without gold labels),
shared by the end-to-end, notebook and API tests. Nothing here reads ``seeds/``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

SENTENCES = {
    "ideology": [
        "深入学习贯彻习近平新时代中国特色社会主义思想，开展巾帼心向党主题宣传宣讲活动。",
        "组织妇女群众参加理想信念教育，用党的创新理论凝聚妇女。",
    ],
    "employment": [
        "实施“巾帼建功”行动，举办妇女就业创业培训班，帮助农村妇女增收致富。",
        "发放创业担保贷款，扶持巾帼家庭农场和女性创业带头人。",
    ],
    "rights": [
        "开展维护妇女儿童合法权益工作，推进反家庭暴力法宣传，受理妇女信访投诉。",
        "开展两癌免费检查，为困难妇女提供法律援助和心理咨询服务。",
    ],
    "family": [
        "开展寻找“最美家庭”活动，弘扬好家风，推进家庭家教家风建设。",
        "办好家长学校，开展亲子阅读和家庭教育指导服务，关爱留守儿童。",
    ],
    "organisation": [
        "深化妇联改革，加强基层妇联组织建设，建设妇女之家和巾帼志愿者队伍。",
        "加强妇联干部队伍建设，开展执委培训，推进网上妇联建设。",
    ],
}
HEADINGS = {
    "ideology": "一、坚持思想引领",
    "employment": "二、助力妇女就业创业",
    "rights": "三、维护妇女儿童权益",
    "family": "四、加强家庭家教家风建设",
    "organisation": "五、深化妇联改革",
}
PLACES = [
    ("河南", "郑州", "city", 2019),
    ("河南", "洛阳", "city", 2020),
    ("四川", "成都", "city", 2021),
    ("四川", "绵阳", "county", 2022),
]

#: params that keep a run cheap (a few seconds per stage)
LIGHT = {
    "tokenize": {"cache": False},
    "train": {"candidates": ["lr_plain"], "base_set_sample": 400, "n_boot": 50, "n_jobs": 1},
    "topics": {
        "sweep": True,
        "k": 3,
        "k_grid": [2, 3],
        "passes": 2,
        "iterations": 20,
        "tomotopy_iterations": 40,
        "tomotopy_burn_in": 5,
        "stability_seeds": 1,
        "seeded_free_topics": 1,
        "no_below": 1,
    },
    "analyse": {"n_boot": 30},
}


def write_corpus(folder: Path, n_docs: int = 4) -> Path:
    """A corpus folder of ``n_docs`` made-up federation reports with manifest.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = ["file,doc_id,title,organisation,province,place,level,year"]
    for i in range(n_docs):
        prov, place, level, year = PLACES[i % len(PLACES)]
        lines = [f"{place}市妇联{year}年工作报告", ""]
        for j, (dom, sents) in enumerate(SENTENCES.items()):
            lines += [HEADINGS[dom], ""]
            for k in range(1 + (i + j) % 3):
                a, b = sents[k % 2], sents[(k + i) % 2]
                lines += [f"{place}市{a}{b}全年共开展活动{10 * (i + 1) + k}场次。", ""]
        name = f"report_{i}.txt"
        (folder / name).write_text("\n".join(lines), encoding="utf-8")
        rows.append(
            f"{name},doc{i}-{year},{place}妇联报告,{place}市妇联,{prov},{place},{level},{year}"
        )
    (folder / "manifest.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "MPLBACKEND": "Agg",
        "DVC_NO_ANALYTICS": "1",
    }


def research(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "research", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env(),
    )
    if check:
        assert proc.returncode == 0, (
            f"research {' '.join(args)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def make_project(root: Path, dvc: bool = False) -> Path:
    """``research init`` + a generated corpus + light params; returns the project folder."""
    research(["init", str(root)] + ([] if dvc else ["--no-dvc"]), cwd=root.parent)
    write_corpus(root / "corpus")
    p = root / "params.yaml"
    params = yaml.safe_load(p.read_text(encoding="utf-8"))
    for sec, vals in LIGHT.items():
        params[sec].update(vals)
    p.write_text(yaml.safe_dump(params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return root


AUDITED_RUN = """
import sys
opened = []
def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes)):
        opened.append(args[0] if isinstance(args[0], str) else args[0].decode("utf-8", "replace"))
    elif event in ("os.listdir", "os.scandir") and args:
        opened.append(str(args[0]))
sys.addaudithook(hook)
from research.cli import main
code = main(sys.argv[1:])
with open("opened.txt", "w", encoding="utf-8") as f:
    f.write("\\n".join(str(o) for o in opened))
raise SystemExit(code)
"""


def audited_run(project: Path, args: list[str]) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run ``research ARGS`` in ``project`` recording every file opened or listed."""
    proc = subprocess.run(
        [sys.executable, "-c", AUDITED_RUN, *args],
        cwd=project,
        capture_output=True,
        text=True,
        env=env(),
    )
    opened = (
        (project / "opened.txt").read_text(encoding="utf-8").splitlines()
        if (project / "opened.txt").exists()
        else []
    )
    return proc, opened
