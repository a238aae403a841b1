"""Read documents (txt, html, docx, pdf, jsonl) and the corpus manifest.

Every failure raises :class:`InputError` naming the file and the problem; nothing is
guessed silently (an undecodable file is an error, not mojibake).
"""

from __future__ import annotations

import codecs
import errno
import json
import os
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from research.errors import InputError

DOC_SUFFIXES = {".txt", ".html", ".htm", ".docx", ".pdf"}
#: administrative levels of federations; extend with params ``prepare.extra_levels``
LEVELS = (
    "national",
    "province",
    "city",
    "county",
    "district",
    "township",
    "street",
    "village",
    "community",
)
SCRIPTS = ("simplified", "traditional", "mixed")
MANIFEST_COLUMNS = [
    "file",
    "doc_id",
    "title",
    "organisation",
    "province",
    "place",
    "level",
    "year",
    "period_start",
    "period_end",
    "script",
    "source",
    "note",
]
REQUIRED_COLUMNS = ("file", "doc_id")
#: what each manifest column means (``research init`` writes it beside the template)
MANIFEST_DOC = {
    "file": "path of the document inside the corpus folder (.txt, .html, .docx, .pdf with a "
    "text layer); / or \\ separators",
    "doc_id": "your stable id (letters, digits, _ . -)",
    "title": "title of the report",
    "organisation": "issuing federation, e.g. 郑州市妇联",
    "province": "province, e.g. 河南 (regional analyses need it)",
    "place": "city/county/... name, e.g. 郑州",
    "level": "national, province, city, county, district, township, street, village or "
    "community (more: params prepare.extra_levels)",
    "year": "year the document was issued (yearly trends need it)",
    "period_start": "first year of the work it reviews",
    "period_end": "last year of the work it reviews",
    "script": "simplified, traditional or mixed (informative; conversion is automatic)",
    "source": "where it came from (URL, archive, …)",
    "note": "anything a reader should know",
}
YEAR_RANGE = (1900, 2100)
_ENTITY = re.compile(r"&(?:[A-Za-z]{2,8}|#\d{2,6}|#x[0-9A-Fa-f]{2,5});")
_DOC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class RawDocument:
    """A document's decoded text and how it was read.

    ``dropped`` describes bytes left out while decoding (only ever an incomplete multi-byte
    character cut off at the very end of a truncated file); empty when nothing was dropped.
    """

    path: Path
    text: str
    encoding: str
    fmt: str
    dropped: str = ""


_TRUNCATED = {"unexpected end of data", "incomplete multibyte sequence", "truncated data"}


def _truncated_tail(exc: UnicodeDecodeError, data: bytes) -> bool:
    """True when the only problem is an incomplete character at the very end of ``data``."""
    return exc.reason in _TRUNCATED and exc.end == len(data) and len(data) - exc.start <= 3


def decode_document_bytes(data: bytes, path: Path) -> tuple[str, str, str]:
    """Decode bytes: BOM → UTF-8/UTF-16; else strict UTF-8, then strict GB18030.

    Returns (text, encoding, what was dropped: "" if nothing). A file cut off in the middle
    of its last character (a truncated download) is decoded without that incomplete
    character; any other undecodable byte is an :class:`InputError`.
    """
    if not data:
        raise InputError(path, "file is empty (0 bytes)")
    if data.startswith(codecs.BOM_UTF8):
        text, dropped = _strict(data[3:], "utf-8", path)
        return text, "utf-8-sig", dropped
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, dropped = _strict(data, "utf-16", path)
        return text, "utf-16", dropped
    if b"\x00" in data[:4096]:
        # UTF-16 without BOM has a NUL in every other byte for ASCII; otherwise binary.
        nul_even = data[0:4096:2].count(0)
        nul_odd = data[1:4096:2].count(0)
        if nul_odd > len(data[1:4096:2]) * 0.3 and nul_even == 0:
            text, dropped = _strict(data, "utf-16-le", path)
            return text, "utf-16-le", dropped
        if nul_even > len(data[0:4096:2]) * 0.3 and nul_odd == 0:
            text, dropped = _strict(data, "utf-16-be", path)
            return text, "utf-16-be", dropped
        raise InputError(path, "looks like a binary file (NUL bytes), not text")
    try:
        return data.decode("utf-8"), "utf-8", ""
    except UnicodeDecodeError as exc:
        # A UTF-8 file cut mid-character must not fall through to GB18030 (which would
        # decode it as mojibake): drop the incomplete character instead.
        if _truncated_tail(exc, data) and not data[: exc.start].isascii():
            return (
                data[: exc.start].decode("utf-8"),
                "utf-8",
                _dropped_note(data, exc.start, "UTF-8"),
            )
    try:
        return data.decode("gb18030"), "gb18030", ""
    except UnicodeDecodeError as exc:
        if _truncated_tail(exc, data):
            try:
                text = data[: exc.start].decode("gb18030")
            except UnicodeDecodeError:
                pass
            else:
                return text, "gb18030", _dropped_note(data, exc.start, "GB18030")
        raise InputError(
            path,
            f"undecodable bytes at offset {exc.start}: neither UTF-8 nor GB18030/GBK "
            "(a truncated or corrupt file?)",
        ) from exc


def _dropped_note(data: bytes, start: int, encoding: str) -> str:
    return f"incomplete {encoding} character {data[start:]!r} at the end of the file (truncated?)"


def _strict(data: bytes, encoding: str, path: Path) -> tuple[str, str]:
    try:
        return data.decode(encoding), ""
    except UnicodeDecodeError as exc:
        if _truncated_tail(exc, data):
            try:
                text = data[: exc.start].decode(encoding)
            except UnicodeDecodeError:
                pass
            else:
                return text, _dropped_note(data, exc.start, encoding.upper())
        raise InputError(path, f"undecodable {encoding} bytes at offset {exc.start}") from exc


_BLOCK_TAGS = (
    "p",
    "div",
    "br",
    "li",
    "tr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "section",
    "article",
    "header",
    "footer",
    "blockquote",
    "table",
    "ul",
    "ol",
    "dd",
    "dt",
    "pre",
    "figcaption",
    "caption",
    "title",
)


def html_to_text(html: str) -> str:
    """Strip tags, scripts and styles from HTML, keeping block structure as blank lines."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "iframe", "svg"]):
        tag.decompose()
    for tag in soup.find_all(_BLOCK_TAGS):
        if tag.name == "br":
            tag.replace_with("\n")
        else:
            tag.insert_before("\n\n")
            tag.insert_after("\n\n")
    text = soup.get_text()
    return re.sub(r"\n{3,}", "\n\n", text)


def read_docx(path: Path) -> str:
    """Paragraphs (and table cells) of a .docx, one per blank-line-separated block."""
    import docx

    try:
        d = docx.Document(str(path))
    except Exception as exc:
        raise InputError(path, f"not a readable .docx file: {exc}") from exc
    blocks = [p.text for p in d.paragraphs]
    for table in d.tables:
        for row in table.rows:
            blocks.append(" ".join(c.text for c in row.cells))
    return "\n\n".join(blocks)


def read_pdf(path: Path) -> str:
    """Text layer of a PDF (pdfminer); an image-only PDF is an error, not empty output."""
    from pdfminer.high_level import extract_text

    try:
        text = extract_text(str(path))
    except Exception as exc:
        raise InputError(path, f"not a readable PDF: {exc}") from exc
    if not text or not text.strip():
        raise InputError(path, "PDF has no text layer (scanned images?); run OCR first")
    return text.replace("\x0c", "\n\n")


def read_document(path: str | Path) -> RawDocument:
    """Read one document by its extension into decoded text."""
    path = Path(path)
    try:
        if path.is_dir():
            raise InputError(path, "is a directory, not a document")
        suffix = path.suffix.lower()
        if suffix == ".docx":
            return RawDocument(path, read_docx(path), "docx", "docx")
        if suffix == ".pdf":
            return RawDocument(path, read_pdf(path), "pdf", "pdf")
        data = path.read_bytes()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(path, "symbolic link loop") from exc
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from exc
    if suffix not in {".txt", ".html", ".htm"}:
        raise InputError(path, f"unsupported file type {suffix!r} (use .txt .html .docx .pdf)")
    text, enc, dropped = decode_document_bytes(data, path)
    if suffix in {".html", ".htm"}:
        return RawDocument(path, html_to_text(text), enc, "html", dropped)
    if _ENTITY.search(text):  # text copied from web pages: &nbsp; &ldquo; &#12288; …
        import html

        text = html.unescape(text)
    return RawDocument(path, text, enc, "txt", dropped)


def _to_int(value: object) -> int | None:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    s = str(value).strip()
    if s == "" or s.lower() in {"nan", "none", "na"}:
        return None
    if re.fullmatch(r"\d{4}(\.0)?", s):
        return int(float(s))
    raise ValueError(s)


def _leaves_folder(name: str) -> bool:
    """True for absolute paths (POSIX or Windows) and paths that climb out with ``..``."""
    p = name.replace("\\", "/")
    if p.startswith("/") or re.match(r"^[A-Za-z]:", p):
        return True
    depth = 0
    for part in p.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


def _load_manifest_csv(path: Path) -> pd.DataFrame:
    """The manifest as strings with stripped column names, required columns checked.

    Excel saves CSV as UTF-8 or GBK/GB18030 with `,` or `;`; any other read failure is one
    :class:`InputError` rather than a pandas traceback. Optional columns are added blank so
    the later steps can read every column unconditionally.
    """
    from research.io import read_csv_text

    if not path.exists():
        raise InputError(path, "manifest.csv not found in the corpus folder")
    try:
        df = read_csv_text(path, dtype=str, na_values=None)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(path, f"not a readable CSV: {exc}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(path, f"missing required column(s): {', '.join(missing)}")
    if df.empty:
        raise InputError(path, "manifest has no rows")
    for col in MANIFEST_COLUMNS:
        if col not in df.columns:
            df[col] = ""
    return df


def _id_and_file_problems(row: dict, line: int) -> list[str]:
    """Problems with a row's ``doc_id`` and ``file``: empty, badly formed, or a path that
    leaves the corpus folder (absolute or ``../``), which would read files outside it."""
    problems: list[str] = []
    did = row["doc_id"].strip()
    if not did:
        problems.append(f"line {line}: empty doc_id")
    elif not _DOC_ID.match(did):
        problems.append(f"line {line}: doc_id {did!r} must be letters, digits, _ . -")
    fname = row["file"].strip()
    if not fname:
        problems.append(f"line {line}: empty file")
    elif _leaves_folder(fname):
        problems.append(
            f"line {line}: file {fname!r} leaves the corpus folder "
            "(give a path inside it, without a leading / or ../)"
        )
    return problems


def _vocabulary_problems(row: dict, line: int, levels: tuple[str, ...]) -> list[str]:
    """Problems with the closed-vocabulary columns ``level`` and ``script`` (blank is fine):
    a typo would otherwise become its own level in every regional table."""
    problems: list[str] = []
    level = row["level"].strip()
    if level and level not in levels:
        problems.append(
            f"line {line}: unknown level {level!r} (use {'|'.join(levels)}, or add it to "
            "params prepare.extra_levels)"
        )
    script = row["script"].strip()
    if script and script not in SCRIPTS:
        problems.append(f"line {line}: unknown script {script!r} (use {'|'.join(SCRIPTS)})")
    return problems


def _year_problems(row: dict, line: int) -> list[str]:
    """Problems with ``year``, ``period_start``, ``period_end``: not a four-digit year,
    outside :data:`YEAR_RANGE`, or a period that ends before it starts."""
    problems: list[str] = []
    years: dict[str, int | None] = {}
    for col in ("year", "period_start", "period_end"):
        try:
            y = years[col] = _to_int(row[col])
        except ValueError:
            problems.append(f"line {line}: {col} {row[col]!r} is not a year")
            continue
        if y is not None and not YEAR_RANGE[0] <= y <= YEAR_RANGE[1]:
            problems.append(f"line {line}: {col} {y} outside {YEAR_RANGE[0]}–{YEAR_RANGE[1]}")
    ps, pe = years.get("period_start"), years.get("period_end")
    if ps is not None and pe is not None and ps > pe:
        problems.append(f"line {line}: period_start {ps} after period_end {pe}")
    return problems


def _duplicate_problems(df: pd.DataFrame) -> list[str]:
    """Non-blank ``doc_id`` or ``file`` values listed more than once (ids must join uniquely;
    a file read twice would count its text twice)."""
    problems: list[str] = []
    dup = df["doc_id"][df["doc_id"].duplicated(keep=False) & (df["doc_id"] != "")]
    if len(dup):
        problems.append(f"duplicate doc_id(s): {', '.join(sorted(set(dup)))}")
    dupf = df["file"][df["file"].duplicated(keep=False) & (df["file"] != "")]
    if len(dupf):
        problems.append(f"file(s) listed twice: {', '.join(sorted(set(dupf)))}")
    return problems


def _manifest_problems(df: pd.DataFrame, levels: tuple[str, ...]) -> list[str]:
    """Every problem in the manifest rows, so the user fixes them all in one go."""
    problems: list[str] = []
    for i, row in enumerate(df.to_dict("records")):  # iterrows is ~20x slower
        line = i + 2  # header is line 1
        problems += _id_and_file_problems(row, line)
        problems += _vocabulary_problems(row, line, levels)
        problems += _year_problems(row, line)
    return problems + _duplicate_problems(df)


def _warn_missing_metadata(df: pd.DataFrame, path: Path) -> None:
    """Warn (not fail) when documents lack ``year`` or ``province``: the pipeline still runs,
    but the user should know which analyses will be missing for them."""
    for col, what in (
        ("year", "yearly trends and the year term of the share model"),
        (
            "province",
            "provincial comparisons, the province heatmap and distinctive terms by province",
        ),
    ):
        blank = int((df[col].str.strip() == "").sum())
        if blank:
            warnings.warn(
                f"{path}: {blank} of {len(df)} document(s) have no {col}; missing for them: {what}",
                UserWarning,
                stacklevel=3,
            )


def _typed_manifest(df: pd.DataFrame) -> pd.DataFrame:
    """The validated manifest with ``/`` separators, nullable-integer years and stripped
    strings (the form every later stage expects)."""
    df["file"] = df["file"].str.replace("\\", "/", regex=False)
    for col in ("year", "period_start", "period_end"):
        df[col] = [_to_int(v) for v in df[col]]
        df[col] = df[col].astype("Int64")
    for col in df.columns:
        if df[col].dtype == object or str(df[col].dtype).startswith("str"):
            df[col] = df[col].astype(str).str.strip()
    return df


def read_manifest(corpus_dir: Path, extra_levels: Iterable[str] = ()) -> pd.DataFrame:
    """Read and validate ``manifest.csv``; all problems are reported together.

    Windows paths (``sub\\a.txt``) are read as ``sub/a.txt``; ``extra_levels`` extends
    :data:`LEVELS`. A manifest without ``year`` or ``province`` values is accepted with a
    warning naming the analyses that will be missing.
    """
    path = corpus_dir / "manifest.csv"
    df = _load_manifest_csv(path)
    problems = _manifest_problems(df, (*LEVELS, *extra_levels))
    if problems:
        raise InputError(path, "; ".join(problems))
    _warn_missing_metadata(df, path)
    return _typed_manifest(df)


def list_corpus_files(corpus_dir: Path) -> list[str]:
    """Document files under ``corpus_dir`` (relative, sorted); links to folders not followed."""
    found: list[str] = []
    for root, dirs, files in os.walk(corpus_dir, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in sorted(files):
            if f.startswith(".") or Path(f).suffix.lower() not in DOC_SUFFIXES:
                continue
            found.append(str((Path(root) / f).relative_to(corpus_dir)))
    return sorted(found)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _jsonl_records(path: Path, text_field: str = "content") -> Iterator[tuple[int, dict, str]]:
    """(line number, record, text) for each non-blank line of a JSONL corpus."""
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from exc
    with fh:
        try:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(path, f"line {n}: invalid JSON ({exc.msg})") from exc
                if not isinstance(rec, dict):
                    raise InputError(path, f"line {n}: not a JSON object")
                text = rec.get(text_field) or rec.get("text")
                if not isinstance(text, str):
                    raise InputError(path, f"line {n}: no {text_field!r} or 'text' string field")
                yield n, rec, text
        except UnicodeDecodeError as exc:
            raise InputError(path, f"not UTF-8 (byte offset {exc.start} in a line)") from exc


def _jsonl_str(rec: dict, key: str, default: str = "") -> str:
    value = rec.get(key, default)
    return "" if value is None else str(value).strip()


def _jsonl_row(path: Path, n: int, rec: dict) -> dict:
    year = rec.get("year")
    if isinstance(year, str) and re.fullmatch(r"\d{4}", year.strip()):
        year = int(year)
    if isinstance(year, bool) or not isinstance(year, int):
        year = None
    elif not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:
        raise InputError(path, f"line {n}: year {year} outside {YEAR_RANGE[0]}–{YEAR_RANGE[1]}")
    doc_id = _jsonl_str(rec, "doc_id") or f"{path.stem}-{n:04d}"
    if not _DOC_ID.match(doc_id):
        raise InputError(path, f"line {n}: doc_id {doc_id!r} must be letters, digits, _ . -")
    level = _jsonl_str(rec, "level")
    if level and level not in LEVELS:
        raise InputError(path, f"line {n}: unknown level {level!r} (use {'|'.join(LEVELS)})")
    return {
        "file": f"{path.name}#{n}",
        "doc_id": doc_id,
        "title": _jsonl_str(rec, "title"),
        "organisation": _jsonl_str(rec, "organisation"),
        "province": _jsonl_str(rec, "province"),
        "place": _jsonl_str(rec, "place"),
        "level": level,
        "year": year,
        "period_start": None,
        "period_end": None,
        "script": _jsonl_str(rec, "script"),
        "source": _jsonl_str(rec, "url") or _jsonl_str(rec, "source"),
        "note": _jsonl_str(rec, "note"),
    }


def read_jsonl_manifest(path: Path, text_field: str = "content") -> pd.DataFrame:
    """The manifest of a JSONL corpus (metadata only; texts are not kept in memory)."""
    rows = [_jsonl_row(path, n, rec) for n, rec, _ in _jsonl_records(path, text_field)]
    if not rows:
        raise InputError(path, "no records")
    df = pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
    for col in ("year", "period_start", "period_end"):
        df[col] = df[col].astype("Int64")
    dup = df["doc_id"][df["doc_id"].duplicated()]
    if len(dup):
        raise InputError(path, f"duplicate doc_id values: {', '.join(sorted(set(dup))[:5])}")
    return df


def iter_jsonl_documents(path: Path, text_field: str = "content") -> Iterator[RawDocument]:
    """The documents of a JSONL corpus one at a time, in file order (streaming)."""
    for _n, _rec, text in _jsonl_records(path, text_field):
        dropped = ""
        if _SURROGATE.search(text):
            k = len(_SURROGATE.findall(text))
            text = _SURROGATE.sub("", text)
            dropped = f"{k} lone surrogate code point(s) (invalid Unicode escapes in the JSON)"
        yield RawDocument(path, text, "utf-8", "jsonl", dropped)
