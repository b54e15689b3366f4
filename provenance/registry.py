"""A local registry of known base models: fingerprints in an embedded SQLite index, and `identify` over it.

Location: ``--registry DIR``, else the environment variable ``PROVENANCE_REGISTRY``, else the platform's user data
directory (``$XDG_DATA_HOME/provenance`` or ``~/.local/share/provenance`` on Linux, ``~/Library/Application
Support/provenance`` on macOS, ``%APPDATA%\\provenance`` on Windows). The index is ``registry.sqlite`` there.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

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
# Added for `provenance scan` (registry schema 2). Older registries get these tables on first open; the `models` table
# and its columns are unchanged, so older versions of the tool still read a migrated registry.
SCAN_SCHEMA = (
    # A checkpoint's content hash -> its fingerprint (and screening vector), so unchanged content is never
    # fingerprinted twice, whatever its path.
    """CREATE TABLE IF NOT EXISTS fingerprint_cache (
    content_hash TEXT PRIMARY KEY,
    fingerprint BLOB NOT NULL,
    screen BLOB,
    screen_version INTEGER
)""",
    # A cheap signature of a checkpoint's files (resolved path, names, sizes, modification times) -> content hash,
    # so an untouched file is not even read again.
    """CREATE TABLE IF NOT EXISTS file_cache (
    stat_key TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL
)""",
    # Screening vectors of registry entries, keyed by the entry's fingerprint digest.
    """CREATE TABLE IF NOT EXISTS model_screens (
    fingerprint_digest TEXT PRIMARY KEY,
    screen BLOB NOT NULL,
    screen_version INTEGER NOT NULL
)""",
    # One row per input a scan has finished (fingerprinted or failed): a rerun of the same scan skips them.
    """CREATE TABLE IF NOT EXISTS scan_done (
    scan_id TEXT NOT NULL,
    input TEXT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (scan_id, input)
)""",
    # Deep comparisons already made (keyed by both sides' contents), so a resumed scan does not redo them.
    """CREATE TABLE IF NOT EXISTS compare_cache (
    pair_key TEXT PRIMARY KEY,
    result TEXT NOT NULL
)""",
)
SCHEMA_VERSION = 2
EXPORT_FORMAT = "provenance-registry-export"
EXPORT_VERSION = 1
MAX_EXPORT_LINE = 256 * 1024 * 1024  # one fingerprint (base64) per line; a 7B model's is about 1 MB


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
            if con.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                with con:
                    for ddl in SCAN_SCHEMA:
                        con.execute(ddl)
                    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            con.close()
            raise InputError(self.db_path, f"not a readable registry database ({exc})") from exc
        return con

    def add(
        self,
        name: str,
        path: str | Path,
        progress: Callable[[str, int, int], None] | None = None,
        anchors: int | None = None,
    ) -> dict:
        """Fingerprint ``path`` (a checkpoint or fingerprint file) and store it under ``name`` (replacing it);
        ``anchors`` as for :func:`provenance.lineage.fingerprint_path`."""
        from provenance.lineage import _fingerprint_of, load_side

        if not name or "/" in name and Path(name).exists():
            raise UsageError(f"registry name {name!r} looks like a path; give a short name first, then the path")
        side = load_side(path)
        fp = _fingerprint_of(side, progress, f"fingerprint {name}", anchors)
        blob = fp.to_bytes()
        ckpt_path = str(Path(path).resolve()) if side.kind == "checkpoint" else None
        from fingerprints.screen import SCREEN_VERSION, screen_vector

        screen = screen_vector(fp).tobytes()  # stored now, so the first scan or identify does not compute it
        with self._db(create=True) as con:
            con.execute(
                "INSERT OR REPLACE INTO models VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, ckpt_path, len(fp.layers), fp.meta["hidden_size"], fp.meta["vocab_size"], fp.digest, blob),
            )
            con.execute("INSERT OR REPLACE INTO model_screens VALUES (?, ?, ?)", (fp.digest, screen, SCREEN_VERSION))
        return self._row_dict(
            (name, ckpt_path, len(fp.layers), fp.meta["hidden_size"], fp.meta["vocab_size"], fp.digest, len(blob))
        )

    def remove(self, name: str) -> bool:
        with self._db() as con:
            cur = con.execute("DELETE FROM models WHERE name = ?", (name,))
            return cur.rowcount > 0

    def list(self) -> list[dict]:
        """One dict per entry, sorted by name; ``fingerprint_version``, ``anchors`` and ``content_hash`` come from
        the stored fingerprint's header (None when it cannot be read)."""
        with self._db() as con:
            rows = con.execute(
                "SELECT name, path, layers, hidden_size, vocab_size, fingerprint_digest, "
                "length(fingerprint), fingerprint FROM models ORDER BY name"
            ).fetchall()
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
                raise InputError(
                    self.db_path, f"the stored fingerprint of {n!r} is unreadable ({exc}); add it again"
                ) from exc
        return out

    def fingerprint(self, name: str):
        """The stored fingerprint of one entry (``fingerprints.Fingerprint``)."""
        from fingerprints.fingerprint import Fingerprint

        with self._db() as con:
            row = con.execute("SELECT fingerprint FROM models WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise UsageError(f"no model named {name!r} in the registry")
        try:
            return Fingerprint.from_bytes(bytes(row[0]))
        except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type
            raise InputError(
                self.db_path, f"the stored fingerprint of {name!r} is unreadable ({exc}); add it again"
            ) from exc

    def screens(self) -> tuple[list[dict], Any]:
        """Every entry (name, path, fingerprint digest), sorted by name, and its screening vector as the matching row
        of a float32 matrix. Vectors are computed once per fingerprint and kept in the database."""
        import numpy as np

        from fingerprints.screen import DIM, SCREEN_VERSION, screen_vector

        with self._db() as con:
            rows = con.execute(
                "SELECT m.name, m.path, m.fingerprint_digest, s.screen FROM models m LEFT JOIN "
                "model_screens s ON s.fingerprint_digest = m.fingerprint_digest AND "
                "s.screen_version = ? ORDER BY m.name",
                (SCREEN_VERSION,),
            ).fetchall()
        entries, vecs, fresh = [], np.zeros((len(rows), DIM), np.float32), []
        for i, (name, path, digest, screen) in enumerate(rows):
            entries.append({"name": name, "path": path, "fingerprint_digest": digest})
            if screen is not None and len(screen) == DIM * 4:
                vecs[i] = np.frombuffer(bytes(screen), np.float32)
                continue
            vecs[i] = screen_vector(self.fingerprint(name))
            fresh.append((digest, vecs[i].tobytes(), SCREEN_VERSION))
        if fresh and self.db_path.is_file():
            with self._db() as con:
                con.executemany("INSERT OR REPLACE INTO model_screens VALUES (?, ?, ?)", fresh)
        return entries, vecs

    def export(self, out: str | Path) -> int:
        """Write every entry to one file (JSON lines: a header naming the format and version, then one entry per line
        with its fingerprint in base64), sorted by name; returns the number of entries."""
        import base64
        import json

        with self._db() as con:
            rows = con.execute(
                "SELECT name, path, layers, hidden_size, vocab_size, fingerprint_digest, fingerprint "
                "FROM models ORDER BY name"
            ).fetchall()
        out = Path(out)
        with out.open("w", encoding="utf-8", newline="\n") as f:
            f.write(
                json.dumps({"format": EXPORT_FORMAT, "version": EXPORT_VERSION, "models": len(rows)}, sort_keys=True)
                + "\n"
            )
            for r in rows:
                entry = dict(self._row_dict(r[:6] + (len(r[6]),)), fingerprint=base64.b64encode(bytes(r[6])).decode())
                f.write(json.dumps(entry, sort_keys=True) + "\n")
        return len(rows)

    def import_(self, src: str | Path, replace: bool = False) -> dict:
        """Add the entries of an export file. An entry whose name exists is kept unless ``replace``; every
        fingerprint is checked (it decodes, and its digest is the one recorded) before anything is written."""
        import base64
        import hashlib
        import json

        from fingerprints.fingerprint import Fingerprint

        src = Path(src)
        rows = []
        try:
            with src.open("r", encoding="utf-8") as f:
                try:
                    head = json.loads(f.readline(MAX_EXPORT_LINE) or "null")
                except ValueError:
                    head = None
                if not isinstance(head, dict) or head.get("format") != EXPORT_FORMAT:
                    raise InputError(src, "not a registry export (no provenance-registry-export header)")
                if int(head.get("version", 0)) > EXPORT_VERSION:
                    raise InputError(
                        src, f"registry export version {head.get('version')} is newer than this tool ({EXPORT_VERSION})"
                    )
                for n, line in enumerate(iter(lambda: f.readline(MAX_EXPORT_LINE), ""), start=2):
                    if not line.strip():
                        continue
                    if not line.endswith("\n") and len(line) >= MAX_EXPORT_LINE:
                        raise InputError(src, f"line {n} is longer than {MAX_EXPORT_LINE} bytes")
                    e = json.loads(line)
                    blob = base64.b64decode(e["fingerprint"], validate=True)
                    if hashlib.sha256(blob).hexdigest() != e["fingerprint_digest"]:
                        raise InputError(src, f"line {n}: the fingerprint of {e['name']!r} does not match its digest")
                    fp = Fingerprint.from_bytes(blob)
                    if not isinstance(e["name"], str) or not e["name"]:
                        raise InputError(src, f"line {n}: an entry without a name")
                    rows.append(
                        (
                            e["name"],
                            e.get("path"),
                            len(fp.layers),
                            fp.meta.get("hidden_size"),
                            fp.meta.get("vocab_size"),
                            e["fingerprint_digest"],
                            blob,
                        )
                    )
        except InputError:
            raise
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(src, f"cannot read the export ({exc})") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(
                src, f"corrupt registry export ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
            ) from exc
        added = kept = 0
        with self._db(create=True) as con:
            for r in rows:
                exists = con.execute("SELECT 1 FROM models WHERE name = ?", (r[0],)).fetchone() is not None
                if exists and not replace:
                    kept += 1
                    continue
                con.execute("INSERT OR REPLACE INTO models VALUES (?, ?, ?, ?, ?, ?, ?)", r)
                added += 1
        return {"imported": added, "kept_existing": kept, "entries": len(rows)}

    @staticmethod
    def _row_dict(r: tuple) -> dict:
        return {
            "name": r[0],
            "path": r[1],
            "layers": r[2],
            "hidden_size": r[3],
            "vocab_size": r[4],
            "fingerprint_digest": r[5],
            "fingerprint_bytes": r[6],
        }


def identify(
    path: str | Path,
    registry: Registry,
    top: int = 3,
    deep: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Rank registered models as candidate bases of ``path``: screening vectors pick candidates
    (:func:`full_comparisons`), the full fingerprint comparison ranks them, then the ``top`` best get a deep
    comparison when both checkpoints are available."""
    from fingerprints.compare import compare_fingerprints, hash_kind
    from fingerprints.screen import screen_vector, top_k
    from provenance.lineage import (
        SCHEMA_VERSION,
        Side,
        _fingerprint_of,
        build_report,
        content_first,
        deep_result,
        guide,
        load_side,
    )

    listed, vecs = registry.screens()
    if not listed:
        raise InputError(registry.db_path, "the registry is empty; add base models with `provenance registry add`")
    sus = load_side(path, lenient=True)
    if sus.problem:  # names and shapes reveal nothing: a registered model's content may still place every tensor
        sus = _structure_by_registry(sus, registry, listed, progress)
    fb = _fingerprint_of(sus, progress, "fingerprint suspect")
    # The same index as `scan`: screening vectors pick the candidates; only they get the full comparison.
    pos, _ = top_k(screen_vector(fb)[None], vecs, full_comparisons(len(listed), top))
    entries = [(listed[i]["name"], listed[i]["path"], registry.fingerprint(listed[i]["name"])) for i in pos[0]]
    screened = []
    for name, ref_path, fa in entries:
        # Copy evidence from the stored content hashes, as `compare` gives it against a fingerprint file.
        _, copy = content_first(Side(path=Path(name), kind="fingerprint", fingerprint=fa), sus, fa, fb)
        rep = build_report(compare_fingerprints(fa, fb), fa.meta, fb.meta, path, name, deep=None, copy=copy)
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
            # Content first, as `compare` does: matched tensors fix roles, layer order and layouts before the
            # deep test, and the copy evidence enters the verdict.
            s3, copy = content_first(ref, s2, fa_now, fb2)
            fb3 = fb2 if s3 is s2 else _fingerprint_of(s3, progress, "fingerprint suspect")
            notes = list(s3.notes)
            if hash_kind(fa_now.meta) != hash_kind(fa.meta):
                notes.append(
                    f"the entry {name!r} was made by an older version of the tool; the deep comparison "
                    f"used the current contents of {ref_path} (run `provenance registry add` again to "
                    "refresh the entry)"
                )
            elif {n: h["content"] for n, h in fa_now.meta["tensor_hashes"].items()} != {
                n: h["content"] for n, h in fa.meta["tensor_hashes"].items()
            }:  # v4 adds fields per hash
                notes.append(
                    f"{ref_path} changed since it was registered as {name!r}; the deep comparison used "
                    "its current contents (run `provenance registry add` again to refresh the entry)"
                )
            res = deep_result(ref, s3, fa_now, fb3, progress)
            rep = build_report(res["fingerprint"], fa_now.meta, fb3.meta, path, name, deep=res, notes=notes, copy=copy)
        candidates.append(
            {
                "name": name,
                "path": ref_path,
                "verdict": rep["verdict"],
                "mode": rep["mode"],
                "p_value": rep["p_value"],
                "log10_p_value": rep["log10_p_value"],
                "score": rep["score"],
                "relation": rep["relation"],
                "notes": notes,
            }
        )
    order = {"derived": 0, "inconclusive": 1, "independent": 2}
    candidates.sort(key=lambda c: (order[c["verdict"]], c["log10_p_value"], -c["score"], c["name"]))
    return {
        "schema_version": SCHEMA_VERSION,
        "suspect": str(path),
        "registry": str(registry.directory),
        "candidates": candidates[: max(top, 1)] if top else candidates,
        "screened": len(listed),
        "compared": len(entries),
    }


def _structure_by_registry(sus, registry: Registry, listed: list[dict], progress=None):
    """A suspect whose names and shapes told nothing, built by content from the registered model that shares the
    most tensor contents with it (its checkpoint when the file is still there, so re-laid-out tensors are matched
    too; else its stored fingerprint). InputError (the suspect's own problem) when no registered model shares any."""
    from fingerprints.fingerprint import _scan
    from provenance.lineage import Side, load_side, structure_by_content

    mine = {_scan(t)[0]["content"] for _, t in sorted(sus.tensors.items())}
    best: tuple[int, str] | None = None
    for entry in listed:
        stored = {h["content"] for h in registry.fingerprint(entry["name"]).meta["tensor_hashes"].values()}
        shared = len(mine & stored)
        if shared and (best is None or (-shared, entry["name"]) < (-best[0], best[1])):
            best = (shared, entry["name"])
    if best is None:
        raise InputError(sus.path, sus.problem or "not a LLaMA-shaped language model")
    entry = next(e for e in listed if e["name"] == best[1])
    if entry["path"] and Path(entry["path"]).exists():
        other = load_side(entry["path"])
    else:
        other = Side(path=Path(entry["name"]), kind="fingerprint", fingerprint=registry.fingerprint(entry["name"]))
    return structure_by_content(sus, other, progress)


FULL_COMPARE_ALL = 32  # registries up to this size get the full comparison for every entry


def full_comparisons(entries: int, top: int) -> int:
    """How many screened candidates get the full fingerprint comparison: all of a small registry, else the best
    ``max(FULL_COMPARE_ALL, 4 × top)``, a margin over the ``top`` reported that absorbs the screen's noise."""
    return entries if entries <= FULL_COMPARE_ALL else min(entries, max(FULL_COMPARE_ALL, 4 * top))


def _fingerprint_facts(blob: bytes) -> dict:
    """Format version, anchor count and hash function of a stored fingerprint, from its header only."""
    from fingerprints.compare import hash_kind
    from fingerprints.fingerprint import Fingerprint

    try:
        meta = Fingerprint.meta_from_bytes(blob)
        return {
            "fingerprint_version": int(meta.get("version", 1)),
            "anchors": len(meta.get("anchors") or []),
            "content_hash": hash_kind(meta),
        }
    except (ValueError, KeyError, TypeError):
        return {"fingerprint_version": None, "anchors": None, "content_hash": None}


class ScanStore:
    """The scan's use of the registry database: caches by content, the done-table, deep results. Every record is
    written in its own transaction, so a scan killed at any point leaves only whole rows behind."""

    def __init__(self, registry: Registry):
        self.registry = registry
        self.con = registry._connect(create=True)

    def close(self) -> None:
        self.con.close()

    def done(self, scan_id: str) -> dict[str, dict]:
        import json

        rows = self.con.execute("SELECT input, result FROM scan_done WHERE scan_id = ?", (scan_id,)).fetchall()
        return {k: json.loads(r) for k, r in rows}

    def hash_for(self, stat_key: str) -> str | None:
        row = self.con.execute("SELECT content_hash FROM file_cache WHERE stat_key = ?", (stat_key,)).fetchone()
        return row[0] if row else None

    def has_fingerprint(self, fp_key: str) -> bool:
        return (
            self.con.execute("SELECT 1 FROM fingerprint_cache WHERE content_hash = ?", (fp_key,)).fetchone() is not None
        )

    def record(
        self,
        scan_id: str,
        key: str,
        result: dict,
        stat_key: str | None = None,
        content_hash: str | None = None,
        fp_key: str | None = None,
        fingerprint: bytes | None = None,
        screen: bytes | None = None,
    ) -> None:
        import json

        from fingerprints.screen import SCREEN_VERSION

        with self.con:
            if fingerprint is not None:
                self.con.execute(
                    "INSERT OR REPLACE INTO fingerprint_cache VALUES (?, ?, ?, ?)",
                    (fp_key, fingerprint, screen, SCREEN_VERSION),
                )
            if stat_key and content_hash:
                self.con.execute("INSERT OR REPLACE INTO file_cache VALUES (?, ?)", (stat_key, content_hash))
            self.con.execute(
                "INSERT OR REPLACE INTO scan_done VALUES (?, ?, ?)", (scan_id, key, json.dumps(result, sort_keys=True))
            )

    def screen(self, fp_key: str):
        """The stored screening vector of a cached fingerprint (recomputed and stored when missing or outdated)."""
        import numpy as np

        from fingerprints.screen import DIM, SCREEN_VERSION, screen_vector

        row = self.con.execute(
            "SELECT screen, screen_version FROM fingerprint_cache WHERE content_hash = ?", (fp_key,)
        ).fetchone()
        if row and row[0] is not None and row[1] == SCREEN_VERSION and len(row[0]) == DIM * 4:
            return np.frombuffer(bytes(row[0]), np.float32)
        vec = screen_vector(self.fingerprint(fp_key))
        with self.con:
            self.con.execute(
                "UPDATE fingerprint_cache SET screen = ?, screen_version = ? WHERE content_hash = ?",
                (vec.tobytes(), SCREEN_VERSION, fp_key),
            )
        return vec

    def fingerprint(self, fp_key: str):
        from fingerprints.fingerprint import Fingerprint

        row = self.con.execute("SELECT fingerprint FROM fingerprint_cache WHERE content_hash = ?", (fp_key,)).fetchone()
        if row is None:
            raise InputError(self.registry.db_path, f"no cached fingerprint {fp_key}")
        return Fingerprint.from_bytes(bytes(row[0]))

    def compare_get(self, pair_key: str) -> dict | None:
        import json

        row = self.con.execute("SELECT result FROM compare_cache WHERE pair_key = ?", (pair_key,)).fetchone()
        return json.loads(row[0]) if row else None

    def compare_put(self, pair_key: str, result: dict) -> None:
        import json

        with self.con:
            self.con.execute(
                "INSERT OR REPLACE INTO compare_cache VALUES (?, ?)", (pair_key, json.dumps(result, sort_keys=True))
            )
