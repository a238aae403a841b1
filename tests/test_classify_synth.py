"""Synthetic Chinese units for the classifier tests (shared by test_classify / test_predict)."""

from __future__ import annotations

import random

import pandas as pd

PHRASES = {
    "ideology": [
        "开展巾帼心向党宣讲活动",
        "组织巾帼大讲堂宣讲党的理论",
        "选树三八红旗手先进典型",
        "推进党史学习教育",
        "打造网上引领新媒体矩阵",
    ],
    "employment": [
        "举办春风行动招聘会",
        "开展家政技能培训",
        "发放巾帼创业担保贷款",
        "建设巧媳妇工程示范基地",
        "助力乡村振兴带动妇女增收",
    ],
    "rights": [
        "开展两癌筛查救助",
        "畅通12338维权热线",
        "推进反家庭暴力法宣传",
        "关爱留守儿童和困境儿童",
        "开展婚姻家庭纠纷调解",
    ],
    "family": [
        "寻找最美家庭",
        "开展美丽庭院创建",
        "弘扬好家风好家训",
        "推进家庭教育指导服务",
        "举办亲子阅读活动",
    ],
    "organization": [
        "深化妇联改革",
        "完成村级妇联换届",
        "建设妇女之家阵地",
        "加强执委队伍建设",
        "开展基层妇联干部培训",
    ],
    "other": [
        "在市委的坚强领导下",
        "五年来砥砺奋进谱写新篇章",
        "取得了显著成绩",
        "站在新的历史起点上",
        "团结引领广大妇女建功新时代",
    ],
}
FILLER = ["全市各级妇联", "扎实推进", "持续深化", "不断提升", "取得实效", "广泛开展"]


def synthetic_units(
    n_docs: int = 4,
    per_class: int = 2,
    seed: int = 0,
    provinces: tuple[str, ...] = ("甲省", "乙省"),
) -> pd.DataFrame:
    """Units with columns unit_id, doc_id, province, text, heading, gold (balanced classes)."""
    rng = random.Random(seed)
    rows = []
    for d in range(n_docs):
        doc = f"doc{d}"
        k = 0
        for lab, phrases in PHRASES.items():
            for _ in range(per_class):
                parts = rng.sample(phrases, 2) + rng.sample(FILLER, 2)
                rng.shuffle(parts)
                rows.append(
                    {
                        "unit_id": f"{doc}:p{k:03d}",
                        "doc_id": doc,
                        "province": provinces[d % len(provinces)],
                        "text": "，".join(parts) + "。",
                        "heading": "",
                        "gold": lab,
                    }
                )
                k += 1
    return pd.DataFrame(rows)


def test_synthetic_units_shape() -> None:
    df = synthetic_units(n_docs=2, per_class=1)
    assert len(df) == 12 and df["gold"].value_counts().eq(2).all()
    assert synthetic_units(seed=3).equals(synthetic_units(seed=3))
