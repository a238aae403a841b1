"""The prepare stage on the real seed defects, bad inputs, formats and encodings."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from research.cli import main
from research.corpus.prepare import check_provenance, prepare_corpus
from research.errors import InputError

from .conftest import GOV_REPORTS

MANIFEST_HEADER = "file,doc_id,title,organisation,province,place,level,year,period_start,period_end,script,source\n"


def body(prepared, doc_id):
    p = prepared.paragraphs
    return p[(p.doc_id == doc_id) & (p.kind == "body")]


def unit_with(prepared, needle):
    p = prepared.paragraphs
    hits = p[p.text.str.contains(needle, regex=False)]
    assert len(hits) == 1, f"{needle!r} in {len(hits)} units"
    return hits.iloc[0]


# ---------------------------------------------------------------- the seed corpus
def test_tables_and_metadata(prepared_seeds):
    d, p = prepared_seeds.documents, prepared_seeds.paragraphs
    assert list(d.doc_id) == [
        "zhengzhou-2021",
        "zhengzhou-2017",
        "kaifeng-2024",
        "zaozhuang-2023",
        "jiyang-2023",
    ]
    assert set(d.level) == {"city", "district"}
    assert d.set_index("doc_id").loc["jiyang-2023", "year"] == 2023
    assert {
        "unit_id",
        "doc_id",
        "para_id",
        "kind",
        "text",
        "heading",
        "char_start",
        "char_end",
        "n_chars",
    } <= set(p.columns)
    assert p.unit_id.is_unique
    assert set(p.kind) <= {"body", "heading", "caption", "byline", "meta", "duplicate"}
    assert (p.groupby("doc_id").para_id.apply(lambda s: list(s) == list(range(len(s))))).all()


def test_provenance_invariant_on_seeds(prepared_seeds):
    check_provenance(prepared_seeds)  # raises on any uncovered or doubly covered character
    d = prepared_seeds.documents
    assert (d.n_chars > 0).all()


def test_rejoins_paragraph_broken_by_blank_lines(prepared_seeds):
    u = unit_with(prepared_seeds, "等女性素质提升公益活动")
    assert u.kind == "body" and u.doc_id == "zhengzhou-2021"
    assert unit_with(prepared_seeds, "全方位奏响爱党爱国").kind == "body"
    assert unit_with(prepared_seeds, "一是“德润万家”").kind == "body"


def test_rejoins_across_captions_and_displaced_tails(prepared_seeds):
    u = unit_with(prepared_seeds, "开展线上线下宣讲1015场次")
    assert u.doc_id == "jiyang-2023" and u.text.startswith("凝聚人心")
    assert unit_with(prepared_seeds, "为儿童成长提供更适宜的环境和服务").kind == "body"
    assert unit_with(prepared_seeds, "广泛开展“出彩人家”创建工作").kind == "body"
    p = prepared_seeds.paragraphs
    captions = p[(p.doc_id == "jiyang-2023") & (p.kind == "caption")].text.tolist()
    assert "联合爱心企业关爱困境儿童。" in captions
    assert len(captions) == 4
    # the body unit is not polluted by caption text
    assert "颁奖" not in u.text


def test_duplicate_block_marked_once(prepared_seeds):
    p = prepared_seeds.paragraphs
    hits = p[p.text.str.contains("廉洁家庭故事、家训格言、家书手札", regex=False)]
    assert sorted(hits.kind) == ["body", "duplicate"]
    dup = hits[hits.kind == "duplicate"].iloc[0]
    kept = hits[hits.kind == "body"].iloc[0]
    assert dup.duplicate_of == kept.unit_id


def test_unit_kinds_on_seed_lines(prepared_seeds):
    assert unit_with(prepared_seeds, "本报记者 李娜").kind == "byline"
    assert unit_with(prepared_seeds, "通讯员 张朋").kind == "byline"
    assert unit_with(prepared_seeds, "记者 刘振江").kind == "byline"
    assert unit_with(prepared_seeds, "分享到").kind == "meta"
    assert unit_with(prepared_seeds, "632news.com").kind == "meta"
    assert unit_with(prepared_seeds, "时间:2024-01-21").kind == "meta"
    p = prepared_seeds.paragraphs
    heads = set(p[p.kind == "heading"].text)
    assert {"坚持改革创新", "妇联工作亮点纷呈", "开栏语", "党建引领"} <= heads


def test_body_units_carry_nearest_heading(prepared_seeds):
    u = unit_with(prepared_seeds, "深化改革增强动力")
    assert u.heading == "党建引领 妇联组织坚强有力"
    u = unit_with(prepared_seeds, "(一)打造家庭工作新亮点")
    assert u.heading == "坚持改革创新 妇联工作亮点纷呈"


def test_traditional_and_pinyin_normalised(prepared_seeds):
    d = prepared_seeds.documents.set_index("doc_id")
    text = d.loc["zaozhuang-2023", "text"]
    assert "领导" in text and "領" not in text
    assert "(lǐng)" not in text and "ng)" not in text
    assert "(lǐng)" in d.loc["zaozhuang-2023", "text_original"]  # original kept
    removed = prepared_seeds.removed
    assert (
        (removed[(removed.doc_id == "zaozhuang-2023") & (removed.kind == "pinyin")].shape[0]) > 100
    )
    tokens = " ".join(body(prepared_seeds, "zaozhuang-2023").tokens).split()
    assert "ng" not in tokens and "li" not in tokens


def test_enumerated_items(prepared_seeds):
    it = prepared_seeds.items
    u = unit_with(prepared_seeds, "一是巾帼抗疫硬核温暖")
    items = it[it.unit_id == u.unit_id]
    assert list(items.item_no) == [0, 1, 2, 3, 4]
    assert items.iloc[1].text.startswith("一是巾帼抗疫")
    assert "".join(items.text) == u.text
    # item offsets point into the document text
    doc = prepared_seeds.documents.set_index("doc_id").loc[u.doc_id, "text"]
    for row in items.itertuples():
        assert doc[row.char_start : row.char_end] == row.text


# ---------------------------------------------------------------- bad input
def make_corpus(tmp_path: Path, files: dict[str, bytes], rows: list[str] | None = None) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, data in files.items():
        (corpus / name).write_bytes(data)
    if rows is None:
        rows = [f"{n},{Path(n).stem},t,o,河南,郑州,city,2020,2019,2020,simplified,s" for n in files]
    (corpus / "manifest.csv").write_text(MANIFEST_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    return corpus


GOOD = "市妇联开展“巾帼心向党”宣讲活动。组织妇女参加技能培训。\n\n深化妇联改革。\n".encode()


@pytest.mark.parametrize(
    "files, rows, message",
    [
        ({"a.txt": b""}, None, "empty"),
        ({"a.txt": b"\x00\x01\x02binary\x00\xff" * 20}, None, "binary"),
        ({"a.txt": "市妇联".encode("gb18030") + b"\xff\xff\xfe"}, None, "undecodable"),
        ({"a.txt": b"This report has no Chinese at all."}, None, "no Chinese text"),
        (
            {"a.txt": GOOD},
            [
                "a.txt,a,t,o,p,q,city,2020,,,simplified,s",
                "b.txt,b,t,o,p,q,city,2020,,,simplified,s",
            ],
            "missing",
        ),
        (
            {"a.txt": GOOD, "b.txt": GOOD},
            ["a.txt,a,t,o,p,q,city,2020,,,simplified,s"],
            "no row in manifest",
        ),
        (
            {"a.txt": GOOD, "b.txt": GOOD},
            [
                "a.txt,x,t,o,p,q,city,2020,,,simplified,s",
                "b.txt,x,t,o,p,q,city,2020,,,simplified,s",
            ],
            "duplicate doc_id",
        ),
        ({"a.txt": GOOD}, ["a.txt,a,t,o,p,q,town,2020,,,simplified,s"], "unknown level"),
        ({"a.txt": GOOD}, ["a.txt,a,t,o,p,q,city,20x0,,,simplified,s"], "not a year"),
        ({"a.txt": GOOD}, ["a.txt,a,t,o,p,q,city,1066,,,simplified,s"], "outside"),
    ],
)
def test_bad_input_clear_error_and_nothing_written(tmp_path, files, rows, message, capsys):
    corpus = make_corpus(tmp_path, files, rows)
    out = tmp_path / "out"
    code = main(["prepare", str(corpus), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert str(corpus) in err  # names the file (or folder/manifest)
    assert not out.exists()


def test_missing_manifest(tmp_path):
    (tmp_path / "a.txt").write_bytes(GOOD)
    with pytest.raises(InputError, match="manifest.csv"):
        prepare_corpus(tmp_path, progress=False)


# ---------------------------------------------------------------- formats and encodings
@pytest.mark.parametrize(
    "encode",
    [
        lambda s: s.encode("utf-8"),
        lambda s: b"\xef\xbb\xbf" + s.encode("utf-8"),
        lambda s: s.encode("gb18030"),
        lambda s: s.encode("gbk"),
        lambda s: s.encode("utf-16"),
    ],
    ids=["utf8", "utf8-bom", "gb18030", "gbk", "utf16-bom"],
)
def test_encodings(tmp_path, encode):
    text = "市妇联开展“巾帼心向党”宣讲活动，组织妇女参加技能培训。\n\n深化妇联改革。"
    corpus = make_corpus(tmp_path, {"a.txt": encode(text)})
    prepared = prepare_corpus(corpus, progress=False)
    assert body(prepared, "a").text.tolist() == [
        "市妇联开展“巾帼心向党”宣讲活动，组织妇女参加技能培训。",
        "深化妇联改革。",
    ]


def test_html_docx_pdf(tmp_path):
    html = (
        "<html><head><title>报告</title><script>var x='巾帼';</script><style>p{}</style></head>"
        "<body><h2>思想引领</h2><p>市妇联开展宣讲活动<b>三百场</b>。</p><div>组织妇女参加技能培训。</div></body></html>"
    )
    import docx

    d = docx.Document()
    d.add_paragraph("家庭建设")
    d.add_paragraph("开展最美家庭寻找活动。")
    d.save(tmp_path / "c.docx")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from research.viz.style import setup_style

    setup_style("zh")
    plt.rcParams["pdf.fonttype"] = 42
    fig = plt.figure(figsize=(5, 2))
    fig.text(0.05, 0.5, "市妇联深化妇联改革，建设妇女之家。")
    fig.savefig(tmp_path / "d.pdf")
    plt.close(fig)

    corpus = make_corpus(tmp_path, {"b.html": html.encode()})
    shutil.copy(tmp_path / "c.docx", corpus / "c.docx")
    shutil.copy(tmp_path / "d.pdf", corpus / "d.pdf")
    rows = [
        f"{n},{Path(n).stem},t,o,河南,郑州,city,2020,,,simplified,s"
        for n in ("b.html", "c.docx", "d.pdf")
    ]
    (corpus / "manifest.csv").write_text(MANIFEST_HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    prepared = prepare_corpus(corpus, progress=False)
    p = prepared.paragraphs
    b = p[p.doc_id == "b"]
    assert "var x" not in " ".join(b.text) and "p{}" not in " ".join(b.text)
    assert "市妇联开展宣讲活动三百场。" in b.text.tolist()
    assert b[b.text == "思想引领"].kind.item() == "heading"
    assert "开展最美家庭寻找活动。" in p[p.doc_id == "c"].text.tolist()
    assert any("深化妇联改革" in t for t in p[p.doc_id == "d"].text)


def test_pdf_without_text_layer(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig = plt.figure(figsize=(2, 2))
    fig.figimage(np.zeros((50, 50)))
    fig.savefig(tmp_path / "scan.pdf")
    plt.close(fig)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(tmp_path / "scan.pdf", corpus / "scan.pdf")
    (corpus / "manifest.csv").write_text(
        MANIFEST_HEADER + "scan.pdf,scan,t,o,p,q,city,2020,,,simplified,s\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match="no text layer"):
        prepare_corpus(corpus, progress=False)


def test_jsonl_adapter(tmp_path):
    path = tmp_path / "reports.jsonl"
    recs = [
        {
            "title": "政府工作報告",
            "url": "u",
            "year": 1999,
            "content": "各位代表：\n\n現在，我代表國務院，向大會報告政府工作。\n",
        }
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in recs), encoding="utf-8")
    prepared = prepare_corpus(path, progress=False)
    assert prepared.documents.year.tolist() == [1999]
    # a line ending in a colon introduces the next paragraph and is joined with it
    assert "各位代表：现在，我代表国务院，向大会报告政府工作。" in prepared.paragraphs.text.tolist()


@pytest.mark.shared
@pytest.mark.skipif(not GOV_REPORTS.exists(), reason="../shared gov-work-reports corpus absent")
def test_government_reports_provenance():
    prepared = prepare_corpus(GOV_REPORTS, {"tokenize": {"cache": False}}, progress=False)
    check_provenance(prepared)
    assert len(prepared.documents) == 72
    assert prepared.documents.traditional_ratio.max() > 0.1
    assert not prepared.documents.text.str.contains("國務院").any()


def test_cli_writes_tables(prepared_dir):
    for name in ("documents", "paragraphs", "items", "removed"):
        assert (prepared_dir / f"{name}.parquet").exists()
    p = pd.read_parquet(prepared_dir / "paragraphs.parquet")
    assert len(p) > 100


def test_section_leads_and_salutations_are_not_captions(tmp_path):
    text = (
        "各位代表！\n\n\n\n（一）加强和改善宏观调控，促进经济平稳较快发展。\n\n\n\n"
        "今年经济工作的总体要求是稳中求进，坚持以人民为中心的发展思想。\n\n\n\n"
        "联合爱心企业关爱困境儿童。\n\n\n\n继续推进改革开放，扩大内需。\n"
    )
    corpus = make_corpus(tmp_path, {"a.txt": text.encode()})
    p = prepare_corpus(corpus, progress=False).paragraphs.set_index("text")
    assert p.loc["各位代表！", "kind"] != "caption"
    assert p.loc["（一）加强和改善宏观调控，促进经济平稳较快发展。", "kind"] != "caption"
    assert p.loc["联合爱心企业关爱困境儿童。", "kind"] == "caption"
