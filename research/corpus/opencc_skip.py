"""Which texts OpenCC's traditional → simplified conversion leaves as they are, without
converting them.

OpenCC changes text only where a dictionary entry whose (first) value differs from its
key matches, and an entry matches only where its key occurs in the text. So a text that
contains no single character with such an entry, and none of the few longer changing
keys made of other characters, converts to itself. Simplified reports are almost all
like that, and the check (two regex scans) costs a fraction of a conversion.

The changing keys are read once from OpenCC's own dictionaries (``opencc_dict`` dumps
them) into ``resources/opencc_t2s_changes.txt``, with a hash of every dictionary and of
the configuration. When the installed OpenCC's files do not match those hashes, or for
any other configuration, every text is converted as before. Regenerate the file with
``python -m research.corpus.opencc_skip`` after an OpenCC upgrade (a test compares it
with the installed dictionaries).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

TABLE = Path(__file__).resolve().parent.parent / "resources" / "opencc_t2s_changes.txt"
CONFIG = "t2s"


def opencc_dir() -> Path | None:
    """OpenCC's folder (configurations in ``share/opencc``, ``bin/opencc_dict``), if any."""
    try:
        import opencc
    except ImportError:
        return None
    base = Path(opencc.__file__).resolve().parent / "clib"
    return base if (base / "share" / "opencc").is_dir() else None


def _dict_files(node: object) -> Iterator[str]:
    """Dictionary files named anywhere in an OpenCC configuration (groups included)."""
    if isinstance(node, dict):
        if node.get("type") in ("ocd2", "text", "txt") and "file" in node:
            yield str(node["file"])
        for value in node.values():
            yield from _dict_files(value)
    elif isinstance(node, list):
        for value in node:
            yield from _dict_files(value)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def config_files(config: str = CONFIG) -> dict[str, str]:
    """File name → sha256 of the installed configuration and every dictionary it uses."""
    base = opencc_dir()
    if base is None:
        return {}
    share = base / "share" / "opencc"
    cfg = share / f"{config}.json"
    names = [cfg.name, *dict.fromkeys(_dict_files(json.loads(cfg.read_text(encoding="utf-8"))))]
    return {name: _sha256(share / name) for name in names}


def build_table(config: str = CONFIG) -> str:
    """The table's text, from the installed dictionaries (needs OpenCC's ``opencc_dict``)."""
    base = opencc_dir()
    if base is None:
        raise RuntimeError("OpenCC is not installed")
    files = config_files(config)
    entries: list[tuple[str, str]] = []
    for name in list(files)[1:]:
        src = base / "share" / "opencc" / name
        if src.suffix == ".ocd2":  # dumped as text to standard output
            cmd = [str(base / "bin" / "opencc_dict"), "-i", str(src), "-o", "/dev/stdout"]
            dump = subprocess.run(
                [*cmd, "-f", "ocd2", "-t", "text"], check=True, capture_output=True
            )
            text = dump.stdout.decode("utf-8")
        else:
            text = src.read_text(encoding="utf-8")
        for line in text.splitlines():
            if "\t" in line:
                key, values = line.split("\t", 1)
                entries.append((key, values.split(" ")[0]))
    chars = sorted({k for k, v in entries if len(k) == 1 and v != k})
    single = set(chars)
    phrases = sorted({(k, v) for k, v in entries if len(k) > 1 and v != k and not single & set(k)})
    lines = [
        f"# OpenCC {config}: the keys whose conversion differs from them "
        "(written by python -m research.corpus.opencc_skip)",
        *(f"file {name} {digest}" for name, digest in files.items()),
        "chars " + "".join(chars),
        *(f"phrase {k} {v}" for k, v in phrases),
    ]
    return "\n".join(lines) + "\n"


@lru_cache(maxsize=4)
def changer(config: str) -> Callable[[str], bool] | None:
    """A test "may OpenCC's ``config`` change this text?" (False only when it cannot), or
    None when the table does not describe the installed OpenCC's ``config``.

    The characters are looked up in a code-point table (numpy: a regex class of 5,000
    characters, some outside the BMP, scans slowly); the longer keys are searched for only
    in a text holding one of the characters they change.
    """
    if config.removesuffix(".json") != CONFIG or not TABLE.is_file():
        return None
    files: dict[str, str] = {}
    chars = ""
    phrases: list[tuple[str, str]] = []
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        kind, _, rest = line.partition(" ")
        if kind == "file":
            name, _, digest = rest.partition(" ")
            files[name] = digest
        elif kind == "chars":
            chars = rest
        elif kind == "phrase":
            key, _, value = rest.partition(" ")
            phrases.append((key, value))
    try:
        if not files or config_files(CONFIG) != files:
            return None
    except (OSError, ValueError):
        return None
    table = np.zeros(0x110000, dtype=bool)
    table[[ord(c) for c in chars]] = True
    table[0xD800:0xE000] = True  # surrogates: OpenCC raises, so convert (and raise)
    changed = {c for k, v in phrases for c in (k if len(k) != len(v) else _differing(k, v))}
    cue_re = re.compile("|".join(map(re.escape, sorted(changed)))) if changed else None
    phrase_re = re.compile("|".join(map(re.escape, (k for k, _ in phrases)))) if phrases else None

    def may_change(text: str) -> bool:
        points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
        if table[points].any():
            return True
        if cue_re is None or cue_re.search(text) is None:
            return False
        return phrase_re is not None and phrase_re.search(text) is not None

    return may_change


def _differing(key: str, value: str) -> str:
    """The characters of ``key`` that its (equally long) ``value`` changes."""
    return "".join(a for a, b in zip(key, value) if a != b)


if __name__ == "__main__":
    from research.io import write_text

    print(f"wrote {write_text(build_table(), TABLE)}")
