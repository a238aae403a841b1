"""Table and file I/O: atomic writes (temp file + rename) and tolerant table readers."""

from __future__ import annotations

import contextlib
import contextvars
import errno
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from research.errors import InputError

#: errors of the file system, not of the program: one line for the user, no traceback
FS_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}
TMP_SUFFIX = ".tmp"  # hidden temp files are ".<name>.p<pid>.<random>.tmp" (see clean_stale_tmp)


def new_tmp_file(path: Path) -> Path:
    """Create an empty hidden temp file beside ``path`` with the user's umask applied.

    The name carries the writer's process id, so that cleaning a folder never deletes the
    temp file of a stage still writing there (``research run`` runs some stages side by side).
    """
    for _ in range(100):
        tmp = path.parent / f".{path.name}.p{os.getpid()}.{secrets.token_hex(6)}{TMP_SUFFIX}"
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"no free temp name beside {path}")


# Output set of the running stage: (temp, final) pairs renamed together when it ends.
_PENDING: contextvars.ContextVar[list[tuple[Path, Path]] | None] = contextvars.ContextVar(
    "research_pending_outputs", default=None
)


@contextlib.contextmanager
def output_set() -> Iterator[None]:
    """Make a stage's outputs atomic as a set.

    Inside the block, files written through :func:`atomic_path` (tables, JSON, figures,
    models) stay in their hidden temp files; they are renamed into place together when the
    block succeeds, and all deleted when it fails, so a failed stage never leaves new
    outputs beside old ones. Files a stage reads back itself are written with
    ``atomic_path(..., defer=False)``. A nested set (``research run`` calling each stage)
    is a set of its own: each stage commits when it ends.
    """
    pending: list[tuple[Path, Path]] = []
    token = _PENDING.set(pending)
    try:
        yield
    except BaseException:
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        raise
    finally:
        _PENDING.reset(token)
    for tmp, path in pending:
        os.replace(tmp, path)


def commit_tmp(tmp: Path, path: Path, defer: bool = True) -> None:
    """Rename a finished temp file onto ``path`` now, or at the end of the output set."""
    pending = _PENDING.get() if defer else None
    if pending is None:
        os.replace(tmp, path)
    else:
        pending[:] = [(t, p) for t, p in pending if p != path]  # the last write wins
        pending.append((tmp, path))


@contextlib.contextmanager
def atomic_path(path: str | Path, defer: bool = True) -> Iterator[Path]:
    """Yield a temp path beside ``path``; rename it onto ``path`` only if the block succeeds
    (inside an :func:`output_set`, when the whole set succeeds, unless ``defer=False``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = new_tmp_file(path)
    done = False
    try:
        try:
            yield tmp_path
        except OSError as exc:
            if exc.errno not in FS_ERRNOS:
                raise
            raise InputError(path, f"cannot write: {exc.strerror}; nothing replaced") from exc
        commit_tmp(tmp_path, path, defer)
        done = True
    finally:
        if not done:
            tmp_path.unlink(missing_ok=True)


_STALE = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$|^\..+\.[a-z0-9_]{8}\.tmp$")
_WRITER = re.compile(r"^\..+\.p(\d+)\.[0-9a-f]{12}\.tmp$")


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a temp file it names may still be written)."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # exists, but another user's
        return True
    return True


def clean_stale_tmp(folder: str | Path) -> list[Path]:
    """Delete hidden temp files left in ``folder`` by an interrupted run (ENOSPC, SIGKILL).

    Called when a stage starts, for each folder it writes to; only names of the form this
    module (or an older ``mkstemp``) creates, ``.<name>[.p<pid>].<random>.tmp``, are touched,
    and not those of a process that is still running (this one, or a stage beside it).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in folder.iterdir():
        if not (p.is_file() and _STALE.match(p.name)):
            continue
        writer = _WRITER.match(p.name)
        if writer and _alive(int(writer.group(1))):
            continue
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def check_output(path: str | Path, kind: str = "file") -> Path:
    """Check up front that ``path`` can be written as a ``file`` or a ``dir`` (one clear line
    instead of a traceback after the work), and clean stale temp files where it will go."""
    path = Path(path)
    if kind == "file" and path.is_dir():
        raise InputError(path, "output is a folder; give a file name")
    if kind == "dir" and path.exists() and not path.is_dir():
        raise InputError(path, "output must be a folder, but a file has this name")
    parent = path if kind == "dir" and path.exists() else path.parent
    probe = parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise InputError(probe, f"cannot create {path}: {probe} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InputError(probe, f"folder is not writable (output {path})")
    if path.exists() and kind == "file" and not os.access(path, os.W_OK):
        raise InputError(path, "output file is read-only")
    clean_stale_tmp(parent)
    return path


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


def is_blank(v: Any) -> bool:
    """Whether a table cell is empty: None, NaN, pandas' NA, or only whitespace (the one
    rule for every table users fill in: annotations, training tables, gold labels)."""
    return v is None or v is pd.NA or (isinstance(v, float) and v != v) or not str(v).strip()


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
    sep = max(counts, key=lambda s: counts[s]) if any(counts.values()) else ","
    import io

    opts = {"keep_default_na": False, "na_values": [""], **kwargs}
    return pd.read_csv(io.StringIO(text), sep=sep, **opts)


def _jsonl_as_text(path: Path) -> pd.DataFrame:
    """JSON Lines with numbers kept as their text (no float rounding, no int overflow)."""
    rows = []
    with path.open(encoding="utf-8-sig") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line, parse_int=str, parse_float=str, parse_constant=str)
                rows.append(
                    {
                        k: "" if v is None else v if isinstance(v, str) else json.dumps(v)
                        for k, v in rec.items()
                    }
                )
    return pd.DataFrame(rows).fillna("")


def read_table(path: str | Path, as_text: bool = False) -> pd.DataFrame:
    """Read a .csv, .xlsx, .parquet or .jsonl table; clear errors for missing or unreadable files.

    ``as_text`` keeps every CSV/JSONL cell as the text it was (``007`` stays ``007``, a
    23-digit id stays a string; empty cells become ``""``); Parquet keeps its own types.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        if suffix in {".csv", ".tsv"}:
            if as_text:
                return read_csv_text(path, dtype=str, na_values=None)
            return read_csv_text(path)
        if suffix == ".xlsx":
            return pd.read_excel(
                path, keep_default_na=False, na_values=[""], dtype=str if as_text else None
            )
        if suffix in {".jsonl", ".json"}:
            if as_text:
                return _jsonl_as_text(path)
            return pd.read_json(path, lines=suffix == ".jsonl", dtype=False)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(path, f"could not read table: {exc}") from exc
    raise InputError(path, "table must be .csv, .xlsx, .parquet or .jsonl")
