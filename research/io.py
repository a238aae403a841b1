"""Table and file I/O: atomic writes (temp file + rename) and tolerant table readers."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from research.errors import InputError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; outputs get normal modes
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def round_floats(df: pd.DataFrame, digits: int = 6) -> pd.DataFrame:
    """A copy with float columns rounded, so written tables are byte-stable across runs."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(digits)
    return out


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame atomically as Parquet or CSV (by extension), without the index."""
    path = Path(path)
    with atomic_path(path) as tmp:
        suffix = path.suffix.lower()
        if suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        elif suffix == ".csv":
            df.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
        elif suffix in {".jsonl", ".json"}:
            df.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            raise InputError(path, "output must end in .parquet, .csv or .jsonl")
    return path


def write_json(obj: Any, path: str | Path) -> Path:
    """Write JSON atomically with sorted keys (byte-stable across runs)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(
            json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=True, default=_json_default)
            + "\n",
            encoding="utf-8",
        )
    return path


def write_text(text: str, path: str | Path) -> Path:
    """Write a text file atomically (UTF-8)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _json_default(o: Any) -> Any:
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def read_csv_text(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """Read a CSV as Excel users save it: UTF-8 (with or without BOM) or GBK/GB18030, and
    ``,``, ``;`` or tab separated (sniffed from the header line)."""
    raw = Path(path).read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("gb18030")
        except UnicodeDecodeError as exc:
            raise InputError(
                path, "neither UTF-8 nor GB18030 text: save it as 'CSV UTF-8' and try again"
            ) from exc
    header = text.split("\n", 1)[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    sep = max(counts, key=counts.get) if any(counts.values()) else ","
    import io

    opts = {"keep_default_na": False, "na_values": [""], **kwargs}
    return pd.read_csv(io.StringIO(text), sep=sep, **opts)


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a .csv, .xlsx, .parquet or .jsonl table; clear errors for missing or unreadable files."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in {".csv", ".tsv"}:
            return read_csv_text(path)
        if suffix == ".xlsx":
            return pd.read_excel(path, keep_default_na=False, na_values=[""])
        if suffix in {".jsonl", ".json"}:
            return pd.read_json(path, lines=suffix == ".jsonl", dtype=False)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(path, f"could not read table: {exc}") from exc
    raise InputError(path, "table must be .csv, .xlsx, .parquet or .jsonl")
