"""Benchmark corpora: the seeds, the government work reports, and a generated large corpus.

The large corpus recombines *real* text — sentences of the body units, and section
headings, of the prepared seeds and government reports — into new paragraphs and documents with varied metadata —
province, place, level, year — and varied surface form (some documents in traditional
characters, some GB18030-encoded, some with CRLF line ends), written as .txt files plus a
``manifest.csv``, i.e. exactly what a user's own corpus looks like. Deterministic for a
given seed.
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path

from research.corpus.ingest import MANIFEST_COLUMNS

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
GOV = ROOT.parent / "shared" / "corpora" / "gov-work-reports" / "government_work_reports.jsonl"

PLACES = [
    ("河南", "郑州"),
    ("河南", "开封"),
    ("河南", "洛阳"),
    ("河南", "南阳"),
    ("山东", "枣庄"),
    ("山东", "济南"),
    ("山东", "青岛"),
    ("山东", "临沂"),
    ("江苏", "南京"),
    ("江苏", "苏州"),
    ("浙江", "杭州"),
    ("浙江", "温州"),
    ("广东", "广州"),
    ("广东", "佛山"),
    ("四川", "成都"),
    ("四川", "绵阳"),
    ("湖北", "武汉"),
    ("湖北", "宜昌"),
    ("湖南", "长沙"),
    ("湖南", "株洲"),
    ("河北", "石家庄"),
    ("河北", "保定"),
    ("安徽", "合肥"),
    ("安徽", "芜湖"),
    ("福建", "福州"),
    ("福建", "泉州"),
    ("江西", "南昌"),
    ("江西", "赣州"),
    ("陕西", "西安"),
    ("陕西", "宝鸡"),
    ("甘肃", "兰州"),
    ("云南", "昆明"),
    ("贵州", "贵阳"),
    ("广西", "南宁"),
    ("山西", "太原"),
    ("辽宁", "沈阳"),
    ("吉林", "长春"),
    ("黑龙江", "哈尔滨"),
    ("内蒙古", "呼和浩特"),
    ("新疆", "乌鲁木齐"),
]
LEVELS = ["province", "city", "city", "county", "county", "district"]
SUFFIX = {"province": "省", "city": "市", "county": "县", "district": "区"}
_SENTENCE = re.compile(r"[^。！？；]+[。！？；]")
_SECTION = re.compile(r"^([一二三四五六七八九十]+、|[（(][一二三四五六七八九十]+[)）])")
MANIFEST = MANIFEST_COLUMNS


def paragraph_pools(prepared_dirs: list[Path]) -> tuple[list[str], list[str]]:
    """(sentences of body paragraphs, section headings) from prepared corpora, stable order."""
    import pandas as pd

    bodies: list[str] = []
    heads: list[str] = []
    for d in prepared_dirs:
        p = pd.read_parquet(d / "paragraphs.parquet", columns=["kind", "text"])
        bodies += [t for t in p.loc[p["kind"] == "body", "text"] if len(t) >= 20]
        heads += [
            t
            for t in p.loc[p["kind"] == "heading", "text"]
            if 4 <= len(t) <= 30 and not _SECTION.match(t)
        ]
    if not heads:
        heads = ["思想引领", "巾帼建功", "维权服务", "家庭建设", "组织建设"]
    sentences = [s for t in bodies for s in _SENTENCE.findall(t) if len(s) >= 8]
    return sentences, sorted(set(heads))


def generate_corpus(
    out: Path, n_docs: int, prepared_dirs: list[Path], seed: int = 20240308
) -> dict:
    """Write ``n_docs`` documents + manifest.csv to ``out``; return a short description."""
    import opencc

    rng = random.Random(seed)
    bodies, heads = paragraph_pools(prepared_dirs)
    to_trad = opencc.OpenCC("s2t.json")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    n_chars = 0
    numerals = "一二三四五六七八九十"
    for i in range(n_docs):
        province, city = rng.choice(PLACES)
        level = rng.choice(LEVELS)
        year = rng.randint(2010, 2024)
        place = province if level == "province" else city
        org = f"{place}{SUFFIX[level]}妇联"
        title = f"{org}{year}年工作报告"
        parts = [title, ""]
        for s in range(rng.randint(2, 5)):
            parts += [f"{numerals[s]}、{rng.choice(heads)}", ""]
            for _ in range(rng.randint(2, 4)):
                # a new paragraph of 2–6 real sentences: (almost) no two paragraphs are equal,
                # so neither deduplication nor the token cache can short-cut the work
                parts += ["".join(rng.sample(bodies, rng.randint(2, 6))), ""]
        text = "\n".join(parts)
        script = "simplified"
        if rng.random() < 0.1:
            text, script = to_trad.convert(text), "traditional"
        newline = "\r\n" if rng.random() < 0.1 else "\n"
        encoding = "gb18030" if rng.random() < 0.1 else "utf-8"
        name = f"{i // 1000:02d}/{i:05d}.txt"
        path = out / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(text.replace("\n", newline).encode(encoding))
        n_chars += len(text)
        rows.append(
            {
                "file": name,
                "doc_id": f"gen-{i:05d}",
                "title": title,
                "organisation": org,
                "province": province,
                "place": place,
                "level": level,
                "year": year,
                "period_start": year - 1,
                "period_end": year - 1,
                "script": script,
                "source": "generated",
                "note": "recombined real sentences and headings (benchmark)",
            }
        )
    with (out / "manifest.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=MANIFEST, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return {
        "documents": n_docs,
        "characters": n_chars,
        "sentence_pool": len(bodies),
        "heading_pool": len(heads),
    }
