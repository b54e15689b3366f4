"""Scan benchmark: fingerprint throughput per worker and the speed-up of 2 workers, screening 10,000 fingerprints
against 1,000 registry entries from stored fingerprints, and peak memory.

1. Throughput: writes ``--models`` random LLaMA-shaped safetensors checkpoints (``--hidden``, ``--layers``,
   ``--vocab``), then runs ``provenance scan`` on them in a fresh subprocess with ``--workers 1`` and again with
   ``--workers 2``, each on a fresh registry (nothing cached). Reports the fingerprint phase's wall time
   (``stats.timings.fingerprint_s``), fingerprints per second per worker, the speed-up of 2 workers over 1, and the
   peak RSS of the largest process of the run (driver or worker; ``RUSAGE_CHILDREN``).
2. Screening: builds a registry database holding ``--bases`` synthetic fingerprints of 7B shape (32 layers, 32
   anchors, 9 invariants; each Gram a random K×K Gram matrix) and ``--queries`` collection fingerprints (half a
   noisy copy of a random base, half independent), each stored with its screening vector as a scan stores it. In a
   fresh subprocess it then times what a scan does after fingerprinting: loading the stored vectors, exact search of
   every query against the registry and, separately, the other queries (top 5 each, as a scan does), and, on a sample,
   the full fingerprint comparison of the top candidates (extrapolated to all queries). Also reports the screen's recall
   (how often a derived query's base is its first candidate) and the peak RSS of that process.

The machine is shared; every figure is one run. Targets (issue 15): screening ≤ 30 s, peak RSS ≤ 2 GB.

Run (not part of CI):  python benchmarks/bench_scan.py [--models 12] [--bases 1000] [--queries 10000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LAYERS, K, INVARIANTS = 32, 32, ("q", "k", "v", "gate", "up", "o", "down", "qk", "ov")


# -- 1. throughput ------------------------------------------------------------------------------------------------
def write_models(d: Path, n: int, hidden: int, layers: int, vocab: int) -> None:
    from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir

    cfg = TinyLlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=int(hidden * 2.6875) // 8 * 8,
        num_hidden_layers=layers,
        num_attention_heads=8,
        num_key_value_heads=4,
    )
    for i in range(n):
        write_hf_dir(d / f"m{i:03d}", llama_state_dict(cfg, 1000 + i), cfg.hf_config())


def run_scan(models: Path, reg: Path, workers: int) -> tuple[dict, float, float]:
    t = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "provenance",
            "scan",
            str(models),
            "--registry",
            str(reg),
            "--workers",
            str(workers),
            "--deep-top",
            "0",
            "--format",
            "json",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - t
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB, the largest child so far
    return json.loads(out.stdout), wall, max(rss, before) / 1024


# -- 2. screening -------------------------------------------------------------------------------------------------
def synthetic_grams(rng: np.random.Generator) -> np.ndarray:
    """[layers, invariants, K(K+1)/2] float16: each a random Gram X·Xᵀ (X: K×16), RMS-normalised as stored."""
    x = rng.standard_normal((LAYERS * len(INVARIANTS), K, 16))
    g = np.einsum("nkd,njd->nkj", x, x)
    g /= np.sqrt((g * g).mean(axis=(1, 2), keepdims=True))
    iu = np.triu_indices(K)
    return g[:, iu[0], iu[1]].reshape(LAYERS, len(INVARIANTS), -1).astype(np.float16)


def build_db(reg_dir: Path, bases: int, queries: int) -> dict:
    from fingerprints.fingerprint import Fingerprint
    from fingerprints.screen import SCREEN_VERSION, screen_vector
    from provenance.registry import Registry

    rng = np.random.default_rng(0)
    template = {
        "format": "provenance-fingerprint",
        "version": 3,
        "content_hash": "blake3-160",
        "anchors": [int(i) for i in rng.permutation(32000)[:K]],
        "anchor_strings": None,
        "anchor_mode": "token-index",
        "invariants": list(INVARIANTS),
        "layers": list(range(LAYERS)),
        "present": [[True] * len(INVARIANTS)] * LAYERS,
        "hidden_size": 4096,
        "vocab_size": 32000,
        "intermediate_size": 11008,
        "tensor_hashes": {},
    }
    gains = np.ones((LAYERS, 2, 64), np.float16)
    norms = np.ones((LAYERS, 7), np.float32)

    def fp(grams: np.ndarray) -> Fingerprint:
        return Fingerprint(meta=dict(template), grams=grams, gain_profiles=gains, norms=norms)

    reg = Registry(reg_dir)
    con = reg._connect(create=True)
    base_grams = []
    t_vec = 0.0
    with con:
        for i in range(bases):
            g = synthetic_grams(rng)
            base_grams.append(g)
            f = fp(g)
            blob = f.to_bytes()
            con.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?)",
                (f"base-{i:05d}", None, LAYERS, 4096, 32000, f.digest, blob),
            )
    truth = {}
    with con:
        for q in range(queries):
            if q % 2 == 0:
                b = int(rng.integers(bases))
                g = (base_grams[b].astype(np.float32) + 0.3 * rng.standard_normal(base_grams[b].shape)).astype(
                    np.float16
                )
                truth[q] = f"base-{b:05d}"
            else:
                g = synthetic_grams(rng)
            f = fp(g)
            t = time.perf_counter()
            vec = screen_vector(f)
            t_vec += time.perf_counter() - t
            con.execute(
                "INSERT INTO fingerprint_cache VALUES (?, ?, ?, ?)",
                (f"q{q:06d}", f.to_bytes(), vec.tobytes(), SCREEN_VERSION),
            )
    con.close()
    return {"truth": truth, "vector_ms": 1000 * t_vec / max(queries, 1)}


def screen_stage(reg_dir: str, queries: int, truth_file: str, sample: int, top: int) -> None:
    """Runs in its own process: the work of a scan after fingerprinting, from the stored database."""
    from fingerprints.screen import top_k
    from provenance.lineage import compare_fingerprint_objects
    from provenance.registry import Registry, ScanStore

    truth = {int(k): v for k, v in json.loads(Path(truth_file).read_text()).items()}
    t0 = time.monotonic()
    reg = Registry(reg_dir)
    entries, reg_vecs = reg.screens()  # first call computes and stores the registry's vectors
    t_reg = time.monotonic() - t0
    t1 = time.monotonic()
    entries, reg_vecs = reg.screens()
    store = ScanStore(reg)
    coll = np.stack([store.screen(f"q{q:06d}") for q in range(queries)])
    t_load = time.monotonic() - t1
    t2 = time.monotonic()
    pos_reg, _ = top_k(coll, reg_vecs, top)
    t_reg_search = time.monotonic() - t2
    t3 = time.monotonic()
    pos_col, _ = top_k(coll, coll, top, exclude=np.arange(queries))
    t_col_search = time.monotonic() - t3
    names = [e["name"] for e in entries]
    derived = [q for q in truth]
    recall1 = np.mean([names[pos_reg[q, 0]] == truth[q] for q in derived])
    # full comparisons of the candidates (as a scan does: top registry entries and top other inputs) on a sample
    t4 = time.monotonic()
    for q in range(sample):
        sus = store.fingerprint(f"q{q:06d}")
        for j in pos_reg[q]:
            compare_fingerprint_objects(sus, reg.fingerprint(names[int(j)]))
        for j in pos_col[q]:
            compare_fingerprint_objects(sus, store.fingerprint(f"q{int(j):06d}"))
    per_query = (time.monotonic() - t4) / max(sample, 1)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "registry_vectors_first_s": t_reg,
                "load_vectors_s": t_load,
                "search_vs_registry_s": t_reg_search,
                "search_vs_collection_s": t_col_search,
                "screen_total_s": t_load + t_reg_search + t_col_search,
                "recall_at_1": float(recall1),
                "full_compare_per_query_s": per_query,
                "full_compare_all_queries_s": per_query * queries,
                "peak_rss_mb": rss,
            }
        )
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--bases", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=10000)
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--sample", type=int, default=50)
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--stage", nargs=3, metavar=("DB", "QUERIES", "TRUTH"), help=argparse.SUPPRESS)
    ap.add_argument("--skip-throughput", action="store_true")
    args = ap.parse_args()
    if args.stage:
        screen_stage(args.stage[0], int(args.stage[1]), args.stage[2], args.sample, args.top)
        return 0
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-scan-"))
    work.mkdir(parents=True, exist_ok=True)
    rows, ok = [], True
    try:
        if not args.skip_throughput:
            models = work / "models"
            if not models.exists():
                write_models(models, args.models, args.hidden, args.layers, args.vocab)
            size = sum(f.stat().st_size for f in models.rglob("*.safetensors")) / 1e6
            res = {}
            for w in (1, 2):
                reg = work / f"reg-w{w}"
                shutil.rmtree(reg, ignore_errors=True)
                report, wall, rss = run_scan(models, reg, w)
                res[w] = report["stats"]["timings"]["fingerprint_s"]
                rows.append(
                    (
                        f"scan {args.models} models ({size / args.models:.0f} MB each), {w} worker(s): "
                        f"fingerprint phase",
                        f"{res[w]:.1f} s",
                        f"{args.models / res[w] / w:.2f} "
                        f"fingerprints/s per worker; whole run {wall:.1f} s; peak RSS {rss:.0f} MB",
                        "",
                    )
                )
                ok &= rss <= 2048
            rows.append(("speed-up of 2 workers over 1 (fingerprint phase)", f"{res[1] / res[2]:.2f}×", "", ""))
        db = work / "reg-screen"
        if not (db / "registry.sqlite").exists():
            t = time.monotonic()
            built = build_db(db, args.bases, args.queries)
            (work / "truth.json").write_text(json.dumps(built["truth"]))
            rows.append(
                (
                    f"build {args.bases:,} + {args.queries:,} synthetic 7B-shape fingerprints",
                    f"{time.monotonic() - t:.1f} s",
                    f"screening vector {built['vector_ms']:.2f} ms per fingerprint (made once, by the worker)",
                    "",
                )
            )
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--stage",
                str(db),
                str(args.queries),
                str(work / "truth.json"),
                "--sample",
                str(args.sample),
                "--top",
                str(args.top),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        s = json.loads(out.stdout.strip().splitlines()[-1])
        target = s["screen_total_s"] <= 30
        ok &= target and s["peak_rss_mb"] <= 2048
        rows += [
            ("registry vectors, first use (then stored)", f"{s['registry_vectors_first_s']:.1f} s", "", ""),
            (f"load {args.bases:,} + {args.queries:,} stored vectors", f"{s['load_vectors_s']:.1f} s", "", ""),
            (
                f"exact top-{args.top}: {args.queries:,} vs {args.bases:,} registry entries",
                f"{s['search_vs_registry_s']:.2f} s",
                "",
                "",
            ),
            (f"exact top-{args.top}: {args.queries:,} vs each other", f"{s['search_vs_collection_s']:.2f} s", "", ""),
            (
                "screening total (load vectors + both searches)",
                f"{s['screen_total_s']:.1f} s",
                "target ≤ 30 s",
                "PASS" if target else "FAIL",
            ),
            ("screen recall: derived query's base ranked first", f"{100 * s['recall_at_1']:.1f} %", "", ""),
            (
                f"full comparisons ({args.top} registry + {args.top} collection candidates) per query "
                f"(sample of {args.sample})",
                f"{1000 * s['full_compare_per_query_s']:.0f} ms",
                f"all {args.queries:,} queries: {s['full_compare_all_queries_s']:.0f} s on one core",
                "",
            ),
            (
                "peak RSS of the screening process",
                f"{s['peak_rss_mb']:.0f} MB",
                "target ≤ 2048 MB",
                "PASS" if s["peak_rss_mb"] <= 2048 else "FAIL",
            ),
        ]
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    width = max(len(r[0]) for r in rows)
    for r in rows:
        print(f"{r[0]:<{width}}  {r[1]:>10}  {r[2]} {r[3]}".rstrip())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
