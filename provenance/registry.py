"""A local registry of known base models: fingerprints in an embedded SQLite index, and `identify` over it.

Location: ``--registry DIR``, else the environment variable ``PROVENANCE_REGISTRY``, else the platform's user data
directory (``$XDG_DATA_HOME/provenance`` or ``~/.local/share/provenance`` on Linux, ``~/Library/Application
Support/provenance`` on macOS, ``%APPDATA%\\provenance`` on Windows). The index is ``registry.sqlite`` there.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Callable

from provenance.errors import InputError, UsageError

ENV_VAR = "PROVENANCE_REGISTRY"
DB_NAME = "registry.sqlite"
SCHEMA = """CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY,
    path TEXT,
    layers INTEGER,
    hidden_size INTEGER,
    vocab_size INTEGER,
    fingerprint_digest TEXT,
    fingerprint BLOB NOT NULL
)"""


def default_registry_dir() -> Path:
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "provenance"
    if os.name == "nt":
        return Path(os.environ.get("APPDATA", Path.home())) / "provenance"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "provenance"


class Registry:
    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory).expanduser() if directory else default_registry_dir()
        self.db_path = self.directory / DB_NAME

    @contextmanager
    def _db(self, create: bool = False):
        """A connection in a transaction (committed on success, rolled back on error), closed afterwards."""
        with closing(self._connect(create)) as con, con:
            yield con

    def _connect(self, create: bool = False) -> sqlite3.Connection:
        if create:
            self.directory.mkdir(parents=True, exist_ok=True)
            con = sqlite3.connect(self.db_path)
        elif not self.db_path.is_file():
            con = sqlite3.connect(":memory:")  # an absent registry lists as empty (and is not created)
        else:
            con = sqlite3.connect(self.db_path)
        try:
            con.execute(SCHEMA)
        except sqlite3.DatabaseError as exc:
            con.close()
            raise InputError(self.db_path, f"not a readable registry database ({exc})") from exc
        return con

    def add(self, name: str, path: str | Path, progress: Callable[[str, int, int], None] | None = None,
            anchors: int | None = None) -> dict:
        """Fingerprint ``path`` (a checkpoint or fingerprint file) and store it under ``name`` (replacing it);
        ``anchors`` as for :func:`provenance.lineage.fingerprint_path`."""
        from provenance.lineage import load_side, _fingerprint_of

        if not name or "/" in name and Path(name).exists():
            raise UsageError(f"registry name {name!r} looks like a path; give a short name first, then the path")
        side = load_side(path)
        fp = _fingerprint_of(side, progress, f"fingerprint {name}", anchors)
        blob = fp.to_bytes()
        ckpt_path = str(Path(path).resolve()) if side.kind == "checkpoint" else None
        with self._db(create=True) as con:
            con.execute("INSERT OR REPLACE INTO models VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (name, ckpt_path, len(fp.layers), fp.meta["hidden_size"], fp.meta["vocab_size"],
                         fp.digest, blob))
        return self._row_dict((name, ckpt_path, len(fp.layers), fp.meta["hidden_size"], fp.meta["vocab_size"],
                               fp.digest, len(blob)))

    def remove(self, name: str) -> bool:
        with self._db() as con:
            cur = con.execute("DELETE FROM models WHERE name = ?", (name,))
            return cur.rowcount > 0

    def list(self) -> list[dict]:
        """One dict per entry, sorted by name; ``fingerprint_version``, ``anchors`` and ``content_hash`` come from
        the stored fingerprint's header (None when it cannot be read)."""
        with self._db() as con:
            rows = con.execute("SELECT name, path, layers, hidden_size, vocab_size, fingerprint_digest, "
                               "length(fingerprint), fingerprint FROM models ORDER BY name").fetchall()
        return [dict(self._row_dict(r[:7]), **_fingerprint_facts(bytes(r[7]))) for r in rows]

    def fingerprints(self) -> list[tuple[str, str | None, Any]]:
        from fingerprints.fingerprint import Fingerprint

        with self._db() as con:
            rows = con.execute("SELECT name, path, fingerprint FROM models ORDER BY name").fetchall()
        out = []
        for n, p, b in rows:
            try:
                out.append((n, p, Fingerprint.from_bytes(bytes(b))))
            except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type
                raise InputError(self.db_path, f"the stored fingerprint of {n!r} is unreadable ({exc}); "
                                               f"add it again") from exc
        return out

    @staticmethod
    def _row_dict(r: tuple) -> dict:
        return {"name": r[0], "path": r[1], "layers": r[2], "hidden_size": r[3], "vocab_size": r[4],
                "fingerprint_digest": r[5], "fingerprint_bytes": r[6]}


def identify(path: str | Path, registry: Registry, top: int = 3, deep: bool = True,
             progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Rank registered models as candidate bases of ``path``: fingerprint screening of every entry, then a deep
    comparison of the ``top`` best when both checkpoints are available."""
    from fingerprints.compare import compare_fingerprints, hash_kind
    from fingerprints.deep import deep_compare
    from provenance.lineage import SCHEMA_VERSION, _fingerprint_of, build_report, guide, load_side

    entries = registry.fingerprints()
    if not entries:
        raise InputError(registry.db_path, "the registry is empty; add base models with `provenance registry add`")
    sus = load_side(path)
    fb = _fingerprint_of(sus, progress, "fingerprint suspect")
    screened = []
    for name, ref_path, fa in entries:
        rep = build_report(compare_fingerprints(fa, fb), fa.meta, fb.meta, path, name, deep=None)
        screened.append((rep["log10_p_value"], -rep["score"], name, ref_path, fa, rep))
    screened.sort(key=lambda t: (t[0], t[1], t[2]))
    candidates = []
    for rank, (_, _, name, ref_path, fa, rep) in enumerate(screened):
        notes: list[str] = []
        if deep and rank < top and sus.kind == "checkpoint" and ref_path and Path(ref_path).exists():
            ref = load_side(ref_path)
            s2 = guide(sus, ref)
            fb2 = fb if s2 is sus else _fingerprint_of(s2, progress, "fingerprint suspect")
            # The file may have changed since it was registered: compare what is there now.
            fa_now = _fingerprint_of(ref, progress, f"fingerprint {name}")
            notes = list(s2.notes)
            if hash_kind(fa_now.meta) != hash_kind(fa.meta):
                notes.append(f"the entry {name!r} was made by an older version of the tool; the deep comparison "
                             f"used the current contents of {ref_path} (run `provenance registry add` again to "
                             "refresh the entry)")
            elif ({n: h["content"] for n, h in fa_now.meta["tensor_hashes"].items()}
                  != {n: h["content"] for n, h in fa.meta["tensor_hashes"].items()}):  # v4 adds fields per hash
                notes.append(f"{ref_path} changed since it was registered as {name!r}; the deep comparison used "
                             "its current contents (run `provenance registry add` again to refresh the entry)")
            res = deep_compare(ref.tensors, ref.arch, s2.tensors, s2.arch, ref_tokens=ref.tokens,
                               sus_tokens=s2.tokens, ref_fingerprint=fa_now, sus_fingerprint=fb2,
                               progress=progress)
            rep = build_report(res["fingerprint"], fa_now.meta, fb2.meta, path, name, deep=res, notes=notes)
        candidates.append({"name": name, "path": ref_path, "verdict": rep["verdict"], "mode": rep["mode"],
                           "p_value": rep["p_value"], "log10_p_value": rep["log10_p_value"], "score": rep["score"],
                           "relation": rep["relation"], "notes": notes})
    order = {"derived": 0, "inconclusive": 1, "independent": 2}
    candidates.sort(key=lambda c: (order[c["verdict"]], c["log10_p_value"], -c["score"], c["name"]))
    return {"schema_version": SCHEMA_VERSION, "suspect": str(path), "registry": str(registry.directory),
            "candidates": candidates[:max(top, 1)] if top else candidates,
            "screened": len(entries)}


def _fingerprint_facts(blob: bytes) -> dict:
    """Format version, anchor count and hash function of a stored fingerprint, from its header only."""
    from fingerprints.compare import hash_kind
    from fingerprints.fingerprint import Fingerprint

    try:
        meta = Fingerprint.meta_from_bytes(blob)
        return {"fingerprint_version": int(meta.get("version", 1)), "anchors": len(meta.get("anchors") or []),
                "content_hash": hash_kind(meta)}
    except (ValueError, KeyError, TypeError):
        return {"fingerprint_version": None, "anchors": None, "content_hash": None}
