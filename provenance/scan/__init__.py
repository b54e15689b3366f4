"""`provenance scan`: lineage of a whole collection, with O(N) work per collection.

1. Fingerprints: every input is fingerprinted once, by workers (a local process pool or Ray). Results go to the
   registry database: the fingerprint under its content hash (an unchanged file, wherever it lies, is never
   fingerprinted twice) and a done-row per input, each in its own transaction, so a killed scan resumes.
2. Screening: one compact vector per fingerprint (``fingerprints.screen``); every input is searched against the
   registry entries and, separately, the other inputs (exact search, or an approximate index beyond ``APPROX_AT``
   entries).
3. The ``top`` best registry entries and the ``top`` best other inputs get the full fingerprint comparison; the best
   ``deep_top`` that are not clearly independent get the deep comparison when both checkpoints are at hand.
4. Derived edges form families; each family's probable root is a registry entry (registered models are known bases)
   or else its best-connected member; a member derived from a registered base whose card does not name that base
   is an undisclosed derivative.

The report (``schema_version`` 1) is deterministic except for ``stats.timings`` and ``stats.cache`` (wall times and
cache hits differ between runs; ``timings=False`` leaves them out).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from concurrent.futures.process import BrokenProcessPool
from functools import lru_cache
from pathlib import Path
from typing import Any

from provenance.scan import work
from provenance.scan.inputs import Entry, expand_inputs

SCHEMA_VERSION = 1
APPROX_AT = 100_000  # index entries from which `--index auto` uses the approximate index (when usearch is installed)
COMPARE_BATCH = 64  # inputs per comparison task: a scan of fewer inputs compares in the driver
VERDICT_ORDER = {"derived": 0, "inconclusive": 1, "independent": 2}


class Progress:
    """One status line with an ETA on stderr, redrawn in place; silent unless stderr is a terminal."""

    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.start = time.monotonic()
        self.last = 0.0
        self.shown = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last < 0.2 and done < total:
            return
        self.last = now
        eta = ""
        if 0 < done < total:
            secs = (now - self.start) / done * (total - done)
            eta = f", ETA {int(secs // 60)}m{int(secs % 60):02d}s"
        sys.stderr.write(f"\rscan: {stage} {done}/{total}{eta}\x1b[K")
        sys.stderr.flush()
        self.shown = True

    def stage(self) -> None:
        self.start = time.monotonic()
        if self.shown:
            sys.stderr.write("\n")
            self.shown = False


def scan_id_of(entries: list[Entry], anchors: int | None) -> str:
    """Names one scan (its inputs and fingerprint settings): a rerun with the same inputs resumes it."""
    from fingerprints.fingerprint import ANCHORS, VERSION

    blob = json.dumps([[e.key for e in entries], VERSION, anchors or ANCHORS])
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def run_scan(
    inputs: Sequence[str | Path],
    registry,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    top: int = 5,
    deep_top: int = 1,
    anchors: int | None = None,
    index: str = "auto",
    timings: bool = True,
    progress: Progress | None = None,
) -> dict:
    """Scan ``inputs`` against each other and the ``registry``; returns the report dict."""
    from provenance.registry import ScanStore
    from provenance.scan.backends import make_backend

    t0 = time.monotonic()
    entries = expand_inputs(inputs)
    prog = progress or Progress()
    store = ScanStore(registry)
    stats: dict[str, Any] = {"fingerprinted": 0, "from_cache": 0, "resumed": 0, "deep_from_cache": 0}
    times: dict[str, float] = {}
    be = None
    try:
        be = make_backend(backend, workers, address)
        results = _fingerprint_phase(entries, store, be, anchors, scan_id_of(entries, anchors), prog, stats)
        times["fingerprint_s"] = time.monotonic() - t0
        t1 = time.monotonic()
        ok = [e for e in entries if results[e.key]["status"] == "ok"]
        cands, matched, n_reg = _screen(ok, results, store, registry, top, index)
        times["screen_s"] = time.monotonic() - t1
        t2 = time.monotonic()
        compared = _compare(ok, results, cands, matched, store, registry, be)
        times["compare_s"] = time.monotonic() - t2
        t3 = time.monotonic()
        n_deep = _deep(ok, results, compared, store, be, deep_top, prog, stats)
        times["deep_s"] = time.monotonic() - t3
    finally:
        if be is not None:
            be.close()
        store.close()
        prog.stage()
    report = _report(entries, results, compared, registry, top, deep_top, n_reg, n_deep)
    times["total_s"] = time.monotonic() - t0
    if timings:  # the parts that differ between runs (and between backends)
        report["stats"].update(
            backend={"name": be.name, "workers": be.workers},
            cache=stats,
            timings={k: round(v, 3) for k, v in times.items()},
        )
    return report


# -- 1. fingerprints ----------------------------------------------------------------------------------------------
def _fingerprint_phase(
    entries: list[Entry], store, be, anchors: int | None, scan_id: str, prog: Progress, stats: dict
) -> dict[str, dict]:
    from fingerprints.fingerprint import ANCHORS, VERSION, is_fingerprint_file

    done = store.done(scan_id)
    results = {e.key: done[e.key] for e in entries if e.key in done and done[e.key].get("stat_key") == _sig(e.key)}
    stats["resumed"] = len(results)  # inputs changed since their row was written are done again
    queue = deque(e for e in entries if e.key not in results)
    inflight: dict[Future, tuple[Entry, str, dict]] = {}
    attempts: dict[str, int] = {}
    total = len(entries)

    def fp_key(ch: str) -> str:
        return f"{ch}:fp{VERSION}:a{anchors or ANCHORS}"

    def finish(e: Entry, result: dict, **kw) -> None:
        result["stat_key"] = kw.get("stat_key") or _sig(e.key)
        if result["status"] == "ok":
            result["kind"] = "fingerprint" if is_fingerprint_file(e.key) else "checkpoint"
        store.record(scan_id, e.key, result, **kw)
        results[e.key] = result
        prog("fingerprints", len(results), total)

    def error(msg: str) -> dict:
        return {"status": "error", "error": msg}

    def start(e: Entry) -> None:
        try:
            sk = work.stat_key(e.key)
        except Exception as exc:  # noqa: BLE001 - an unreadable input is its own result row
            finish(e, error(work.one_line(exc, e.path)))
            return
        ch = store.hash_for(sk)
        if ch and store.has_fingerprint(fp_key(ch)):
            stats["from_cache"] += 1
            finish(e, {"status": "ok", "error": None, "content_hash": ch, "fingerprint_key": fp_key(ch)}, stat_key=sk)
            return
        inflight[be.submit(work.content_hash, e.key)] = (e, "hash", {"stat_key": sk})

    limit = 2 * be.workers  # a bounded queue: results waiting in memory stay few
    while queue or inflight:
        while queue and len(inflight) < limit:
            start(queue.popleft())
        if not inflight:
            continue
        finished, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
        broken = False
        for fut in sorted(finished, key=lambda f: inflight[f][0].key):
            e, stage, ctx = inflight.pop(fut)
            try:
                out = fut.result()
            except BrokenProcessPool:
                broken = True
                attempts[e.key] = attempts.get(e.key, 0) + 1
                if attempts[e.key] > 1:
                    finish(e, error(f"{e.key}: the worker process died while reading it (out of memory?)"))
                else:
                    queue.appendleft(e)
                continue
            except Exception as exc:  # noqa: BLE001 - e.g. a Ray worker lost
                finish(e, error(work.one_line(exc, e.key)))
                continue
            if out.get("error"):
                finish(e, error(out["error"]))
            elif stage == "hash":
                ch = out["content_hash"]
                if store.has_fingerprint(fp_key(ch)):
                    stats["from_cache"] += 1
                    finish(
                        e,
                        {"status": "ok", "error": None, "content_hash": ch, "fingerprint_key": fp_key(ch)},
                        stat_key=ctx["stat_key"],
                        content_hash=ch,
                    )
                else:
                    inflight[be.submit(work.fingerprint, e.key, anchors)] = (e, "fingerprint", dict(ctx, hash=ch))
            else:
                stats["fingerprinted"] += 1
                ch = ctx["hash"]
                finish(
                    e,
                    {"status": "ok", "error": None, "content_hash": ch, "fingerprint_key": fp_key(ch)},
                    stat_key=ctx["stat_key"],
                    content_hash=ch,
                    fp_key=fp_key(ch),
                    fingerprint=out["fingerprint"],
                    screen=out["screen"],
                )
        if broken:
            for fut, (e, _, _) in list(inflight.items()):  # every task of a broken pool failed with it
                inflight.pop(fut)
                queue.appendleft(e)
            be.restart()
    prog.stage()
    return results


def _sig(key: str) -> str | None:
    try:
        return work.stat_key(key)
    except Exception:  # noqa: BLE001 - a missing or unreadable input has no signature
        return None


# -- 2. screening -------------------------------------------------------------------------------------------------
def _screen(ok: list[Entry], results: dict, store, registry, top: int, index: str):
    """Candidates per input: (index positions, screen scores), and the index's entries."""
    import numpy as np

    from fingerprints.screen import DIM, approx_top_k, top_k

    reg, reg_vecs = registry.screens()
    coll = (
        np.stack([store.screen(results[e.key]["fingerprint_key"]) for e in ok])
        if ok
        else np.zeros((0, DIM), np.float32)
    )
    meta = [
        {
            "kind": "registry",
            "name": r["name"],
            "path": r["path"],
            "id": "reg:" + r["name"],
            "ref": "reg:" + (r["fingerprint_digest"] or ""),
        }
        for r in reg
    ]
    meta += [
        {
            "kind": "collection",
            "name": e.path,
            "path": e.key,
            "id": "col:" + e.path,
            "ref": results[e.key]["fingerprint_key"],
            "checkpoint": results[e.key].get("kind") == "checkpoint",
        }
        for e in ok
    ]
    # Two searches, so a base with many derivatives in the collection still reaches each of them: the best `top`
    # registry entries and the best `top` other inputs.
    use_approx = index == "approx" or (index == "auto" and len(reg) + len(ok) >= APPROX_AT and _has_usearch())
    search = approx_top_k if use_approx else top_k
    pos_r, score_r = (
        search(coll, reg_vecs, top)
        if len(reg)
        else (np.zeros((len(ok), 0), np.int64), np.zeros((len(ok), 0), np.float32))
    )
    pos_c, score_c = search(coll, coll, top, np.arange(len(ok)))
    pos = np.concatenate([pos_r, np.where(pos_c >= 0, pos_c + len(reg), -1)], axis=1)
    return (pos, np.concatenate([score_r, score_c], axis=1)), meta, len(reg)


def _has_usearch() -> bool:
    try:
        import usearch  # noqa: F401

        return True
    except ImportError:
        return False


# -- 3. full fingerprint comparison -------------------------------------------------------------------------------
def _compare(
    ok: list[Entry], results: dict, cands, meta: list[dict], store, registry, be=None
) -> dict[str, list[dict]]:
    """The full fingerprint comparison of each input with its screened candidates. Batches go to the workers when
    they share this machine's file system (the local pool, a local Ray), else the driver compares."""
    pos, score = cands
    batch = COMPARE_BATCH
    plan = [(e, [(int(j), float(s)) for j, s in zip(pos[qi], score[qi]) if j >= 0]) for qi, e in enumerate(ok)]
    fields: dict[str, list[dict]] = {}
    if be is not None and be.shares_files and len(plan) > batch:
        futs = {}
        for b in range(0, len(plan), batch):
            part = plan[b : b + batch]
            jobs = [
                (
                    e.path,
                    results[e.key]["fingerprint_key"],
                    [
                        (
                            meta[j]["kind"],
                            meta[j]["name"],
                            meta[j]["name"] if meta[j]["kind"] == "registry" else meta[j]["ref"],
                        )
                        for j, _ in c
                    ],
                )
                for e, c in part
            ]
            futs[be.submit(work.compare_batch, str(registry.db_path), jobs)] = part
        for fut, part in futs.items():
            try:
                done = fut.result()
            except Exception:  # noqa: BLE001 - a lost worker: the driver compares this batch below
                continue
            if done.get("rows") is not None:
                for (e, _), rows in zip(part, done["rows"]):
                    fields[e.key] = rows
    from provenance.lineage import compare_fingerprint_objects

    @lru_cache(maxsize=256)
    def ref_fp(i: int):
        m = meta[i]
        return registry.fingerprint(m["name"]) if m["kind"] == "registry" else store.fingerprint(m["ref"])

    out: dict[str, list[dict]] = {}
    for e, cs in plan:
        got = fields.get(e.key)
        if got is None:
            sus = store.fingerprint(results[e.key]["fingerprint_key"])
            got = []
            for j, _ in cs:
                rep = compare_fingerprint_objects(sus, ref_fp(j), e.path, meta[j]["name"])
                got.append({k: rep[k] for k in ("verdict", "p_value", "log10_p_value", "score", "relation", "mode")})
        rows = []
        for (j, s), f in zip(cs, got):
            m = meta[j]
            rows.append(
                dict(
                    f,
                    name=m["name"],
                    kind=m["kind"],
                    path=m["path"] if m["kind"] == "registry" else m["name"],
                    screen_score=round(s, 4),
                    notes=[],
                    _key=m["path"],
                    _ref=m["ref"],
                )
            )
        rows.sort(key=_rank)
        out[e.key] = rows
    return out


def _rank(c: dict) -> tuple:
    return (VERDICT_ORDER[c["verdict"]], c["log10_p_value"], -c["score"], c["kind"], c["name"])


# -- 4. deep comparison -------------------------------------------------------------------------------------------
def _deep(ok: list[Entry], results: dict, compared: dict, store, be, deep_top: int, prog: Progress, stats: dict) -> int:
    """Deep-compare each input's best ``deep_top`` candidates that are not clearly independent (registry entries
    before other inputs), when both sides are checkpoints on this machine; results are cached by both sides'
    contents."""
    if deep_top <= 0:
        return 0
    jobs: list[tuple[dict, str, str, str]] = []
    for e in ok:
        if results[e.key].get("kind") != "checkpoint":
            continue
        # registered bases first: they are what a derivative owes disclosure to
        for c in sorted(
            (c for c in compared[e.key] if c["verdict"] != "independent"),
            key=lambda c: (c["kind"] != "registry",) + _rank(c),
        )[:deep_top]:
            ref_path = c["_key"]
            if (
                not ref_path
                or not Path(ref_path).exists()
                or (c["kind"] == "collection" and not _is_checkpoint(ref_path, results))
            ):
                continue
            try:  # the registered file may have changed since it was added: key the cache by what is there now
                ref_state = work.stat_key(ref_path)
            except Exception:  # noqa: BLE001
                continue
            pair = hashlib.sha256(f"{results[e.key]['fingerprint_key']}|{c['_ref']}|{ref_state}".encode()).hexdigest()
            jobs.append((c, pair, e.key, ref_path))
    pending: dict[Future, tuple[dict, str]] = {}
    done = 0
    for c, pair, sus, ref in jobs:
        hit = store.compare_get(pair)
        if hit is not None:
            stats["deep_from_cache"] += 1
            _apply_deep(c, hit)
            done += 1
        else:
            pending[be.submit(work.deep, sus, ref)] = (c, pair)
    while pending:
        finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for fut in finished:
            c, pair = pending.pop(fut)
            try:
                out = fut.result()
                store.compare_put(pair, out)  # a result (or the task's own error) is cached; a lost worker is not
            except Exception as exc:  # noqa: BLE001
                out = {"result": None, "error": work.one_line(exc, c["name"])}
            _apply_deep(c, out)
            done += 1
            prog("deep comparisons", done, len(jobs))
    for rows in compared.values():
        rows.sort(key=_rank)
    return len(jobs)


def _is_checkpoint(path: str, results: dict) -> bool:
    r = results.get(str(Path(path).resolve()))
    return bool(r and r.get("kind") == "checkpoint")


def _apply_deep(c: dict, out: dict) -> None:
    if out.get("error"):
        c["notes"].append(f"deep comparison failed: {out['error']}")
        return
    c.update(out["result"])


# -- report -------------------------------------------------------------------------------------------------------
def _report(
    entries: list[Entry], results: dict, compared: dict, registry, top: int, deep_top: int, n_reg: int, n_deep: int
) -> dict:
    models = []
    for e in entries:
        r = results[e.key]
        m: dict[str, Any] = {
            "path": e.path,
            "status": r["status"],
            "error": r.get("error"),
            "matches": [],
            "family": None,
            "disclosure": None,
            "declared_bases": [],
        }
        if e.manifest:
            m["manifest"] = e.manifest
        if r["status"] == "ok":
            m["kind"] = r.get("kind")
            m["content_hash"] = r["content_hash"]
            rows = compared.get(e.key, [])
            m["compared"] = len(rows)
            m["matches"] = [
                {k: v for k, v in c.items() if not k.startswith("_")} for c in rows if c["verdict"] != "independent"
            ]
        models.append(m)
    families = _families(models)
    _disclosure(models, families, entries)
    undisclosed = [
        {
            "path": m["path"],
            "bases": m["derived_from_registry"],
            "declared_bases": m["declared_bases"],
            "disclosure": m["disclosure"],
        }
        for m in models
        if m["disclosure"] in ("undisclosed", "other-base-declared")
    ]
    for m in models:
        m.pop("derived_from_registry", None)
    unmatched = [
        m["path"] for m in models if m["status"] == "ok" and not any(c["verdict"] == "derived" for c in m["matches"])
    ]
    counts = {
        "models": len(models),
        "ok": sum(m["status"] == "ok" for m in models),
        "error": sum(m["status"] == "error" for m in models),
        "registry_entries": n_reg,
        "full_comparisons": sum(m.get("compared", 0) for m in models),
        "deep_comparisons": n_deep,
        "families": len(families),
        "undisclosed": len(undisclosed),
        "unmatched": len(unmatched),
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "provenance scan",
        "registry": str(registry.directory),
        "options": {"top": top, "deep_top": deep_top},
        "models": models,
        "families": families,
        "undisclosed": undisclosed,
        "unmatched": unmatched,
        "stats": {"counts": counts},
    }


def _families(models: list[dict]) -> list[dict]:
    """Connected components of the derived edges that hold at least one input; ``family`` set on each model."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    edges: dict[tuple[str, str], dict] = {}
    for m in models:
        for c in m["matches"]:
            if c["verdict"] != "derived":
                continue
            a, b = "col:" + m["path"], ("reg:" if c["kind"] == "registry" else "col:") + c["name"]
            k = (min(a, b), max(a, b))
            ev = {
                "a": k[0].split(":", 1)[1],
                "b": k[1].split(":", 1)[1],
                "a_kind": _kind(k[0]),
                "b_kind": _kind(k[1]),
                "log10_p_value": c["log10_p_value"],
                "p_value": c["p_value"],
                "relation": c["relation"],
                "mode": c["mode"],
            }
            if k not in edges or (ev["mode"] == "deep", -ev["log10_p_value"]) > (
                edges[k]["mode"] == "deep",
                -edges[k]["log10_p_value"],
            ):
                edges[k] = ev
            parent[find(k[0])] = find(k[1])
    comps: dict[str, set[str]] = {}
    for k in edges:
        for node in k:
            comps.setdefault(find(node), set()).add(node)
    degree: dict[str, int] = {}
    for a, b in edges:
        degree[a] = degree.get(a, 0) + 1
        degree[b] = degree.get(b, 0) + 1
    fams: list[dict[str, Any]] = []
    for nodes in comps.values():
        regs = sorted(n for n in nodes if n.startswith("reg:"))
        root = sorted(regs or nodes, key=lambda n: (-degree.get(n, 0), n))[0]
        fams.append(
            {
                "root": root.split(":", 1)[1],
                "root_kind": _kind(root),
                "bases": [n.split(":", 1)[1] for n in regs],
                "members": sorted(n.split(":", 1)[1] for n in nodes if n.startswith("col:")),
                "edges": sorted((e for k, e in edges.items() if k[0] in nodes), key=lambda e: (e["a"], e["b"])),
            }
        )
    fams.sort(key=lambda f: (f["root_kind"] != "registry", f["root"], f["members"]))
    index = {}
    for i, f in enumerate(fams, start=1):
        f["id"] = i
        for p in f["members"]:
            index[p] = i
    for m in models:
        m["family"] = index.get(m["path"])
    return fams


def _kind(node: str) -> str:
    return "registry" if node.startswith("reg:") else "collection"


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.strip().rstrip("/").split("/")[-1].lower())


def declared_bases(path: str) -> list[str]:
    """Bases a checkpoint names for itself: the card's ``base_model``, GGUF ``general.base_model.*``, an adapter's
    base. Unreadable cards count as declaring nothing."""
    from provenance.release import read_release

    try:
        rel = read_release(path)
    except Exception:  # noqa: BLE001 - disclosure is an extra; a bad card must not fail the scan
        return []
    names = list(rel.base_models)
    if rel.adapter_base:
        names.append(rel.adapter_base)
    if rel.gguf:
        names += [n for b in rel.gguf.base_models if (n := b.get("repo_id") or b.get("name"))]
    return sorted(set(str(n) for n in names))


def names_match(declared: str, registered: str, registered_path: str | None) -> bool:
    """A declared base names a registry entry when, ignoring case, punctuation and any org/ prefix, one contains the
    other (``meta-llama/Llama-2-7b-hf`` names ``llama-2-7b``), or it names the entry's checkpoint folder."""
    d = _norm(declared)
    if not d:
        return False
    keys = {_norm(registered)} | ({_norm(Path(registered_path).name)} if registered_path else set())
    return any(k and (k == d or k in d or d in k) for k in keys)


def _disclosure(models: list[dict], families: list[dict], entries: list[Entry]) -> None:
    keys = {e.path: e.key for e in entries}
    fam = {f["id"]: f for f in families}
    for m in models:
        m["derived_from_registry"] = []
        if m["status"] != "ok":
            continue
        direct = sorted(c["name"] for c in m["matches"] if c["verdict"] == "derived" and c["kind"] == "registry")
        f = fam.get(m["family"])
        bases = direct or ([f["root"]] if f and f["root_kind"] == "registry" else [])
        m["declared_bases"] = declared_bases(keys[m["path"]]) if m["kind"] == "checkpoint" else []
        if not bases:
            continue
        m["derived_from_registry"] = bases
        paths = {c["name"]: c["path"] for c in m["matches"] if c["kind"] == "registry"}
        if not m["declared_bases"]:
            m["disclosure"] = "undisclosed"
        elif any(names_match(d, b, paths.get(b)) for d in m["declared_bases"] for b in bases):
            m["disclosure"] = "declared"
        else:
            m["disclosure"] = "other-base-declared"
