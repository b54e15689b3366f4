"""What a scan reads: checkpoint paths, collection folders and manifests, expanded to one entry per checkpoint.

A folder is one checkpoint when it holds a model's own files (``config.json``, ``params.json``, an adapter config, a
shard index, Meta's ``consolidated.*.pth``) or exactly one weight file and no sub-folders; otherwise it is a
collection whose weight files and sub-folders are entries in turn (sub-folders are examined the same way, a few
levels deep, as hub mirrors nest ``org/model``). A file named ``*.txt``, ``*.lst``, ``*.manifest`` or ``*.jsonl`` is a
manifest: one path per line (relative to the manifest's folder), or JSON objects with a ``path`` and any other fields,
which the report carries along under ``manifest``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.errors import InputError, UsageError

MANIFEST_SUFFIXES = (".txt", ".lst", ".manifest", ".jsonl")
WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pt", ".pth", ".ckpt", ".fp")
MODEL_MARKERS = ("config.json", "params.json", "adapter_config.json")
MAX_DEPTH = 4
MAX_MANIFEST_LINES = 1_000_000
# Files that travel beside weights but are not checkpoints themselves (tokenizers, trainer state).
NOT_A_MODEL = re.compile(
    r"^(tokenizer.*|tok\d+\.bin|training_args\.bin|optimizer\.(pt|bin)|scheduler\.pt|"
    r"rng_state.*\.pth|.*\.index\.json)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Entry:
    """One input checkpoint: ``path`` as the report shows it, ``key`` (resolved) to recognise it across runs."""

    path: str
    key: str
    manifest: dict[str, Any] | None = field(default=None, compare=False, hash=False)


def is_checkpoint_dir(d: Path) -> bool:
    names = {p.name for p in d.iterdir() if p.is_file()}
    if (
        any(m in names for m in MODEL_MARKERS)
        or any(n.endswith(".index.json") for n in names)
        or any(n.startswith("consolidated.") and n.endswith(".pth") for n in names)
    ):
        return True
    weights = [n for n in names if _is_weight_name(n)]
    subdirs = [p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return len(weights) == 1 and not subdirs


def _is_weight_name(name: str) -> bool:
    return name.lower().endswith(WEIGHT_SUFFIXES) and not NOT_A_MODEL.match(name) and not name.startswith(".")


def _walk(d: Path, shown: str, depth: int, out: list[tuple[str, Path, dict | None]]) -> None:
    if is_checkpoint_dir(d):
        out.append((shown, d, None))
        return
    if depth >= MAX_DEPTH:
        return
    for p in sorted(d.iterdir(), key=lambda q: q.name):
        if p.name.startswith("."):
            continue
        child = os.path.join(shown, p.name)
        if p.is_dir():
            _walk(p, child, depth + 1, out)
        elif p.is_file() and _is_weight_name(p.name):
            out.append((child, p, None))


def _manifest(p: Path, out: list[tuple[str, Path, dict | None]]) -> None:
    base = p.parent
    try:
        with p.open("r", encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if n > MAX_MANIFEST_LINES:
                    raise InputError(p, f"more than {MAX_MANIFEST_LINES:,} lines")
                text = line.strip()
                if not text or text.startswith("#"):
                    continue
                extra = None
                if text.startswith("{"):
                    try:
                        obj = json.loads(text)
                    except ValueError as exc:
                        raise InputError(p, f"line {n}: not valid JSON ({exc})") from exc
                    if not isinstance(obj, dict) or not isinstance(obj.get("path"), str) or not obj["path"]:
                        raise InputError(p, f'line {n}: a JSON line needs a "path" string')
                    text = obj.pop("path")
                    extra = obj
                q = Path(text).expanduser()
                shown = str(q) if q.is_absolute() else os.path.join(str(base), text)
                out.append((shown, q if q.is_absolute() else base / q, extra))
    except UnicodeDecodeError as exc:
        raise InputError(p, "a manifest must be UTF-8 text") from exc
    except OSError as exc:
        raise InputError(p, f"cannot read the manifest ({exc.strerror or exc})") from exc


def expand_inputs(inputs: Sequence[str | Path]) -> list[Entry]:
    """One entry per checkpoint named by ``inputs``, sorted by shown path, duplicates (same resolved path) once.

    A path that does not exist is kept: the scan reports it as an error row, like any unreadable checkpoint.
    """
    if not inputs:
        raise UsageError("name at least one checkpoint, folder or manifest to scan")
    found: list[tuple[str, Path, dict | None]] = []
    for raw in inputs:
        p = Path(raw).expanduser()
        if p.is_dir():
            _walk(p, str(raw), 0, found)
        elif p.is_file() and p.suffix.lower() in MANIFEST_SUFFIXES:
            _manifest(p, found)
        else:
            found.append((str(raw), p, None))
    seen: dict[str, Entry] = {}
    for shown, p, extra in sorted(found, key=lambda t: t[0]):
        key = str(p.resolve())
        if key not in seen:
            seen[key] = Entry(path=shown, key=key, manifest=extra)
    return sorted(seen.values(), key=lambda e: (e.path, e.key))
