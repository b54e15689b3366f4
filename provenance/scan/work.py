"""The tasks a scan hands to workers (a local process or a Ray worker): plain functions of plain values.

Each returns a dict and never raises for a bad checkpoint: the problem comes back as its one-line message, so one
corrupt file is a result row and never stops the scan. Workers never touch the registry database; the driver does.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

# Files beside a single weight file that change its fingerprint (tokenizer -> anchors, config -> normalization).
COMPANIONS = re.compile(
    r"^(config\.json|params\.json|adapter_config\.json|tokenizer\.json|tokenizer\.model|"
    r"tok\d+\.bin)$"
)
MAX_FILES = 10_000
CHUNK = 8 * 1024 * 1024


def one_line(exc: BaseException, path: str) -> str:
    """The one-line message the report shows for a failed checkpoint (naming the file)."""
    from provenance.errors import ProvenanceError

    if isinstance(exc, ProvenanceError):
        text = str(exc)
    else:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        text = f"{path}: {type(exc).__name__}: {msg}".rstrip(": ")
    return " ".join(text.split())


def checkpoint_files(path: Path) -> list[Path]:
    """The files whose bytes make up a checkpoint: every file under a folder, or a file and its companions."""
    from provenance.errors import InputError

    if not path.exists():
        raise InputError(path, "no such file or directory")
    if path.is_dir():
        files = []
        for p in sorted(path.rglob("*")):
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts):
                files.append(p)
                if len(files) > MAX_FILES:
                    raise InputError(path, f"more than {MAX_FILES:,} files: not one checkpoint")
        if not files:
            raise InputError(path, "an empty folder")
        return files
    return [path] + sorted(p for p in path.parent.iterdir() if p != path and p.is_file() and COMPANIONS.match(p.name))


def stat_key(path: str | Path) -> str:
    """A cheap signature of a checkpoint (resolved path; names, sizes, modification times of its files): when it
    is unchanged, the content hash stored for it still holds and nothing is read."""
    p = Path(path).resolve()
    sig = [str(p)] + [
        [str(f.relative_to(p if p.is_dir() else p.parent)), st.st_size, st.st_mtime_ns]
        for f in checkpoint_files(p)
        for st in [f.stat()]
    ]
    return hashlib.sha256(json.dumps(sig).encode()).hexdigest()


def content_hash(path: str) -> dict[str, Any]:
    """BLAKE3 of a checkpoint's files (relative names, sizes and bytes, in name order)."""
    from blake3 import blake3

    try:
        p = Path(path)
        root = p if p.is_dir() else p.parent
        h = blake3()
        for f in checkpoint_files(p):
            rel = str(f.relative_to(root)).encode("utf-8", "surrogateescape")
            h.update(len(rel).to_bytes(8, "little") + rel + f.stat().st_size.to_bytes(8, "little"))
            with f.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    h.update(chunk)
        return {"content_hash": "blake3:" + h.hexdigest(), "error": None}
    except Exception as exc:  # noqa: BLE001 - any failure is this checkpoint's result, never the scan's
        return {"content_hash": None, "error": one_line(exc, path)}


def fingerprint(path: str, anchors: int | None) -> dict[str, Any]:
    """The fingerprint (bytes) and screening vector (float32 bytes) of one checkpoint or fingerprint file."""
    try:
        from fingerprints.screen import screen_vector
        from provenance.lineage import fingerprint_path

        fp = fingerprint_path(path, anchors=anchors)
        return {"fingerprint": fp.to_bytes(), "screen": screen_vector(fp).tobytes(), "error": None}
    except Exception as exc:  # noqa: BLE001
        return {"fingerprint": None, "screen": None, "error": one_line(exc, path)}


def deep(suspect: str, reference: str) -> dict[str, Any]:
    """The deep comparison of two checkpoints (the fields a scan reports), or the error."""
    try:
        from provenance.lineage import compare_paths

        r = compare_paths(suspect, reference, deep=True)
        return {
            "result": {k: r[k] for k in ("verdict", "p_value", "log10_p_value", "score", "relation", "mode")},
            "error": None,
        }
    except Exception as exc:  # noqa: BLE001
        return {"result": None, "error": one_line(exc, suspect)}


def compare_batch(db_path: str, jobs: list[tuple[str, str, list[tuple[str, str, str]]]]) -> dict[str, Any]:
    """Full fingerprint comparisons, reading fingerprints from the registry database at ``db_path`` (workers on the
    driver's machine). ``jobs``: (suspect shown path, suspect fingerprint key, [(kind, name, key)]) where ``key`` is a
    registry name or a fingerprint-cache key. Returns {"rows": [[report fields per candidate] per job]}."""
    try:
        rows = [
            [_compare_one(db_path, sus_key, name, kind, key, shown) for kind, name, key in cands]
            for shown, sus_key, cands in jobs
        ]
        return {"rows": rows, "error": None}
    except Exception as exc:  # noqa: BLE001 - the driver falls back to comparing these itself
        return {"rows": None, "error": one_line(exc, db_path)}


def _compare_one(db_path: str, sus_key: str, name: str, kind: str, key: str, shown: str) -> dict[str, Any]:
    from provenance.lineage import compare_fingerprint_objects

    rep = compare_fingerprint_objects(_load(db_path, "collection", sus_key), _load(db_path, kind, key), shown, name)
    return {k: rep[k] for k in ("verdict", "p_value", "log10_p_value", "score", "relation", "mode")}


_CACHE: dict[tuple[str, str, str], Any] = {}


def _load(db_path: str, kind: str, key: str):
    """A fingerprint from the database, the registry's kept in memory per worker (they recur across queries)."""
    from provenance.registry import Registry, ScanStore

    got = _CACHE.get((db_path, kind, key))
    if got is not None:
        return got
    reg = Registry(Path(db_path).parent)
    if kind == "registry":
        fp = reg.fingerprint(key)
        if len(_CACHE) > 512:
            _CACHE.clear()
        _CACHE[(db_path, kind, key)] = fp
        return fp
    store = ScanStore(reg)
    try:
        return store.fingerprint(key)
    finally:
        store.close()
