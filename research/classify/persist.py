"""Save and load a trained classifier with its model card.

``models/classifier/model.joblib`` holds the fitted estimator; ``model_card.json`` holds
what a reader (or the loader) needs to trust it: training-data hash, codebook fingerprint,
parameters and their hash, metrics summary, library versions and the label list.

Loading checks the card against the running environment: a different codebook (other
fingerprint, or other label ids) or a different scikit-learn version is an error — a
pickled scikit-learn model may silently change behaviour across versions — unless the
caller passes ``allow_mismatch=True`` (``--force`` on the CLI); other library differences
(python, jieba, numpy, pandas) are warnings.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from research.errors import ResearchError
from research.io import atomic_path, write_json
from research.provenance import library_versions

MODEL_FILE = "model.joblib"
CARD_FILE = "model_card.json"
STRICT_LIBS = ("scikit-learn",)
_OLD_NAMES = {"sklearn": "scikit-learn"}  # cards written before one library_versions()


def data_hash(
    table: pd.DataFrame, columns: tuple[str, ...] = ("unit_id", "text", "heading", "label")
) -> str:
    """sha256 of the training rows (selected columns, in order) — identifies the training data."""
    h = hashlib.sha256()
    cols = [c for c in columns if c in table.columns]
    for row in table[cols].astype(str).itertuples(index=False):
        h.update("\x1f".join(row).encode("utf-8") + b"\x1e")
    return h.hexdigest()


def save_model(model: Any, model_dir: str | Path, card: dict[str, Any]) -> list[Path]:
    """Write ``model.joblib`` and ``model_card.json`` (atomically) into ``model_dir``."""
    model_dir = Path(model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    card = {**card, "library_versions": library_versions(), "model_file": MODEL_FILE}
    with atomic_path(model_dir / MODEL_FILE) as tmp:
        joblib.dump(model, tmp, compress=3)
        card["model_sha256"] = _sha256(tmp)
    write_json(card, model_dir / CARD_FILE)
    return [model_dir / MODEL_FILE, model_dir / CARD_FILE]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_card(model_dir: str | Path) -> dict[str, Any]:
    """The model card of ``model_dir`` (clear error when the folder holds no model)."""
    import json

    model_dir = Path(model_dir)
    card_path = model_dir / CARD_FILE
    if not model_dir.exists():
        raise ResearchError(
            f"{model_dir}: no trained model here; train one with "
            f"`research train seeds/annotations.csv --units data/prepared/paragraphs.parquet --out {model_dir}`"
        )
    if not card_path.exists() or not (model_dir / MODEL_FILE).exists():
        raise ResearchError(f"{model_dir}: not a model folder (needs {MODEL_FILE} and {CARD_FILE})")
    try:
        return json.loads(card_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ResearchError(f"{card_path}: model card is not valid JSON: {exc}") from exc


def check_card(
    card: dict[str, Any], codebook: Any = None, allow_mismatch: bool = False, where: str = ""
) -> list[str]:
    """Compare a model card with the codebook and libraries in use.

    Raises ResearchError for a codebook or scikit-learn mismatch (unless ``allow_mismatch``);
    returns the list of warnings issued for other differences.
    """
    problems: list[str] = []
    notes: list[str] = []
    if codebook is not None:
        fp = codebook.fingerprint()
        if card.get("codebook_fingerprint") != fp:
            problems.append(
                f"codebook differs: model trained with {card.get('codebook_path', '?')} "
                f"(fingerprint {str(card.get('codebook_fingerprint'))[:12]}…), now using "
                f"{codebook.path} ({fp[:12]}…); retrain or pass the training codebook with --codebook"
            )
        if list(card.get("labels", [])) != list(codebook.ids):
            problems.append(
                f"label ids differ: model {card.get('labels')} vs codebook {list(codebook.ids)}"
            )
    have = library_versions()
    for old, trained in sorted((card.get("library_versions") or {}).items()):
        lib = _OLD_NAMES.get(old, old)
        now = have.get(lib)
        if now is None or str(trained) == str(now):
            continue
        msg = f"{lib} version differs: model trained with {trained}, running {now}"
        if lib in STRICT_LIBS:
            problems.append(msg + " (retrain, or pass --force to load anyway)")
        else:
            notes.append(msg)
    prefix = f"{where}: " if where else ""
    if problems and not allow_mismatch:
        raise ResearchError(prefix + "; ".join(problems))
    for m in problems + notes:
        warnings.warn(prefix + m, stacklevel=2)
    return problems + notes


def load_model(
    model_dir: str | Path, codebook: Any = None, allow_mismatch: bool = False
) -> tuple[Any, dict[str, Any]]:
    """Load (model, card) from ``model_dir`` after checking the card (see module doc)."""
    model_dir = Path(model_dir)
    card = read_card(model_dir)
    check_card(card, codebook, allow_mismatch, where=str(model_dir))
    want, got = card.get("model_sha256"), _sha256(model_dir / MODEL_FILE)
    if want != got:  # never loaded: a pickle runs code, so only the file the card vouches for
        raise ResearchError(
            f"{model_dir / MODEL_FILE}: sha256 {got[:12]}… does not match the model card "
            f"({str(want)[:12]}…): the file was changed or replaced after training; retrain"
        )
    try:
        model = joblib.load(model_dir / MODEL_FILE)
    except Exception as exc:
        raise ResearchError(f"{model_dir / MODEL_FILE}: could not load the model: {exc}") from exc
    return model, card
