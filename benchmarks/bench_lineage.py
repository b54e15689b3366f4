"""Lineage benchmark: fingerprint throughput and memory, fingerprint comparison, deep comparison.

Writes LLaMA-shaped bf16 safetensors checkpoints with the streaming writer of ``bench_loading.py`` (random
weights, two shards and an index, plus a config.json), then measures, each in a fresh subprocess (wall time; peak
RSS from ``/usr/bin/time -v``, or ``resource.getrusage(RUSAGE_CHILDREN)`` without it):

1. a warm raw read of the weight files (``cat FILES > /dev/null``, after one read to warm the page cache);
2. ``provenance fingerprint DIR -o FILE`` on the model of ``--size`` (default "1b", TinyLlama-1.1B shapes, 2.2 GB):
   wall time, its ratio to the raw read, GB/s, peak RSS, fingerprint file size;
3. fingerprint against fingerprint: ``provenance.lineage.compare_paths(a.fp, b.fp)`` timed inside one process, and
   ``provenance compare b.fp a.fp`` as a whole process (b = a copy of the model with small noise added, i.e. a
   "fine-tune"; the verdict must be "derived");
4. deep comparison (``provenance compare B A``) of two 168M-parameter checkpoints, for a derived pair (B = A plus
   noise) and an independent pair (another seed), timed as a library call and as a whole process; the verdicts
   must be "derived" and "independent".

Every figure is the best of ``--repeat`` runs (the machine is shared). Prints a table with targets and PASS/FAIL;
exit code 1 when a target is missed.

Run (not part of CI):  python benchmarks/bench_lineage.py [--size 1b|168m|7b] [--keep DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_loading import llama_shapes, measure, write_model  # noqa: E402  (the shared streaming writer)

# name: (hidden, intermediate, layers, heads, kv_heads, vocab)
SIZES = {
    "168m": (768, 3072, 12, 12, 12, 36000),  # 168.5M parameters, untied head
    "1b": (2048, 5632, 22, 32, 4, 32000),  # TinyLlama-1.1B shapes: 1.10B parameters, 2.2 GB bf16
    "7b": (4096, 11008, 32, 32, 32, 32000),  # LLaMA-2-7B shapes: 6.74B parameters, 13.5 GB bf16
}
NOISE = 0.1  # derived copy: each weight plus N(0, (0.1 * 0.02)^2), i.e. 10 % of the weights' own spread
CHUNK = 1 << 23

TARGETS = {  # figure: (limit, unit, how it is compared)
    "fingerprint_ratio": 9.0,
    "fingerprint_gbps": 1.0,
    "fingerprint_rss_mb": 1024.0,
    "fp_compare_library_s": 0.2,
    "fp_compare_process_s": 1.5,
    "deep_library_s": 3.0,
}


def write_config(directory: Path, size: str) -> None:
    hidden, inter, layers, heads, kv, vocab = SIZES[size]
    (directory / "config.json").write_text(
        json.dumps(
            {
                "architectures": ["LlamaForCausalLM"],
                "model_type": "llama",
                "hidden_size": hidden,
                "intermediate_size": inter,
                "num_hidden_layers": layers,
                "num_attention_heads": heads,
                "num_key_value_heads": kv,
                "vocab_size": vocab,
                "rms_norm_eps": 1e-5,
                "rope_theta": 10000.0,
                "tie_word_embeddings": False,
                "hidden_act": "silu",
                "max_position_embeddings": 2048,
                "torch_dtype": "bfloat16",
            },
            indent=1,
        )
    )


def make_model(directory: Path, size: str, seed: int) -> int:
    """A fresh random model (reused when ``directory`` already holds one, e.g. with --keep)."""
    if (directory / "model.safetensors.index.json").is_file() and (directory / "config.json").is_file():
        return sum(f.stat().st_size for f in directory.glob("*.safetensors"))
    directory.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    total = write_model(directory, llama_shapes(*SIZES[size]), seed=seed)
    write_config(directory, size)
    print(f"  wrote {directory} ({total / 1e9:.2f} GB) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return total


def make_noisy_copy(src: Path, dst: Path, seed: int) -> None:
    """``dst`` = ``src`` with Gaussian noise added to every bf16 value, streamed chunk by chunk."""
    if (dst / "model.safetensors.index.json").is_file():
        return
    dst.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in ("config.json", "model.safetensors.index.json"):
        shutil.copy(src / name, dst / name)
    for shard in sorted(src.glob("*.safetensors")):
        with open(shard, "rb") as fin, open(dst / shard.name, "wb") as fout:
            head = fin.read(8)
            n = struct.unpack("<Q", head)[0]
            fout.write(head + fin.read(n))
            while True:
                raw = np.frombuffer(fin.read(2 * CHUNK), dtype=np.uint16)
                if raw.size == 0:
                    break
                vals = (raw.astype(np.uint32) << 16).view(np.float32)
                vals = vals + rng.standard_normal(raw.size, dtype=np.float32) * (NOISE * 0.02)
                fout.write((vals.view(np.uint32) >> 16).astype(np.uint16).tobytes())
    print(f"  wrote {dst} (noisy copy of {src.name})", file=sys.stderr)


def raw_read_seconds(directory: Path, repeat: int) -> float:
    files = [str(f) for f in sorted(directory.glob("*.safetensors"))]
    subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    best = float("inf")
    for _ in range(max(3, repeat)):
        t0 = time.perf_counter()
        subprocess.run(["cat", *files], stdout=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - t0)
    return best


def timed(cmd: list[str]) -> tuple[float, float, float, str]:
    """(wall s, peak RSS MB, CPU s = user + system, stdout) of one subprocess; ``measure`` of bench_loading plus
    CPU time, which on a shared machine says more than wall time (it does not grow while other jobs hold a core)."""
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if timer is None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        wall, rss, out = measure(cmd)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, rss, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), out
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    t0 = time.perf_counter()
    proc = subprocess.run([timer, "-v", *cmd], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")

    def field(label: str) -> float:
        m = re.search(re.escape(label) + r": ([\d.]+)", proc.stderr)
        return float(m.group(1)) if m else float("nan")

    return (
        wall,
        field("Maximum resident set size (kbytes)") / 1024,
        field("User time (seconds)") + field("System time (seconds)"),
        proc.stdout,
    )


def best_of(cmd: list[str], repeat: int) -> tuple[float, float, float, str]:
    """Smallest wall time, peak RSS and CPU time over ``repeat`` runs of ``cmd`` (and the last stdout)."""
    runs = [timed(cmd) for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs), min(r[2] for r in runs), runs[-1][3]


LIBRARY_TIMER = """
import json, resource, sys, time
from provenance.lineage import compare_paths
import fingerprints.compare, fingerprints.verdict  # imports are not what is timed
deep = sys.argv[3] == "deep"
if deep:
    import fingerprints.deep
best, cpu, report = float("inf"), float("inf"), None
for _ in range(int(sys.argv[4])):
    t0, c0 = time.perf_counter(), time.process_time()
    report = compare_paths(sys.argv[1], sys.argv[2], deep=deep)
    best, cpu = min(best, time.perf_counter() - t0), min(cpu, time.process_time() - c0)
print(json.dumps({"seconds": best, "cpu": cpu, "verdict": report["verdict"], "log10_p": report["log10_p_value"],
                  "mode": report["mode"]}))
"""


def library_call(suspect: Path, reference: Path, deep: bool, repeat: int) -> dict:
    _, _, _, out = timed(
        [
            sys.executable,
            "-c",
            LIBRARY_TIMER,
            str(suspect),
            str(reference),
            "deep" if deep else "fingerprint",
            str(repeat),
        ]
    )
    return json.loads(out)


def compare_process(
    suspect: Path, reference: Path, repeat: int, extra: list[str] | None = None
) -> tuple[float, float, dict]:
    wall, _, cpu, out = best_of(
        [
            sys.executable,
            "-m",
            "provenance",
            "compare",
            str(suspect),
            str(reference),
            "--format",
            "json",
            *(extra or []),
        ],
        repeat,
    )
    return wall, cpu, json.loads(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="1b", help="model measured for fingerprinting")
    ap.add_argument("--keep", type=Path, help="write the models here and keep them (reused on the next run)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per figure; the best is reported")
    ap.add_argument("--skip-deep", action="store_true", help="skip the 168M deep comparisons")
    ap.add_argument(
        "--fingerprint-only",
        action="store_true",
        help="only the fingerprint rows: no noisy copy, no comparisons (for 7b: one copy fits the page "
        "cache of a 24 GB machine, two do not)",
    )
    args = ap.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="provenance-bench-lineage-"))
    root.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str, bool | None]] = []  # (figure, value, target, ok)

    def row(figure: str, value: str, target: str = "", ok: bool | None = None) -> None:
        rows.append((figure, value, target, ok))

    load_start = os.getloadavg()
    try:
        print("writing checkpoints (random LLaMA-shaped bf16 weights)…", file=sys.stderr)
        a = root / f"{args.size}-a"
        total = make_model(a, args.size, seed=0)
        b = root / f"{args.size}-b-noisy"
        if not args.fingerprint_only:
            make_noisy_copy(a, b, seed=1)
        params = sum(int(np.prod(s)) for _, s in llama_shapes(*SIZES[args.size]))

        raw = raw_read_seconds(a, args.repeat)
        if not args.fingerprint_only:
            raw_read_seconds(b, 1)  # warm the copy too
        fp_a, fp_b = root / f"{args.size}-a.fp", root / f"{args.size}-b.fp"
        fp_wall, fp_rss, fp_cpu, _ = best_of(
            [sys.executable, "-m", "provenance", "fingerprint", str(a), "-o", str(fp_a)], args.repeat
        )
        if not args.fingerprint_only:
            timed([sys.executable, "-m", "provenance", "fingerprint", str(b), "-o", str(fp_b)])
        first = fp_a.read_bytes()
        timed([sys.executable, "-m", "provenance", "fingerprint", str(a), "-o", str(fp_a)])
        deterministic = fp_a.read_bytes() == first
        ratio = fp_wall / raw
        gbps = total / 1e9 / fp_wall

        row(f"model ({args.size})", f"{params / 1e9:.2f} B parameters, {total / 1e9:.2f} GB bf16")
        row("raw read (cat, warm)", f"{raw:.2f} s ({total / 1e9 / raw:.1f} GB/s)")
        row("fingerprint (whole process)", f"{fp_wall:.2f} s wall, {fp_cpu:.1f} s CPU")
        row(
            "  throughput",
            f"{gbps:.2f} GB/s",
            f">= {TARGETS['fingerprint_gbps']} GB/s",
            gbps >= TARGETS["fingerprint_gbps"],
        )
        row(
            "  ratio to raw read",
            f"{ratio:.1f} x",
            f"<= {TARGETS['fingerprint_ratio']:.0f} x",
            ratio <= TARGETS["fingerprint_ratio"],
        )
        row(
            "  peak RSS",
            f"{fp_rss:.0f} MB",
            f"<= {TARGETS['fingerprint_rss_mb']:.0f} MB",
            fp_rss <= TARGETS["fingerprint_rss_mb"],
        )
        row("  fingerprint size", f"{fp_a.stat().st_size / 1e6:.2f} MB")
        row("  byte-for-byte deterministic", "yes" if deterministic else "NO", "yes", deterministic)

        if args.fingerprint_only:
            return finish(rows, args, load_start)
        lib = library_call(fp_b, fp_a, deep=False, repeat=args.repeat)
        row(
            "fingerprint vs fingerprint (library)",
            f"{lib['seconds']:.3f} s",
            f"<= {TARGETS['fp_compare_library_s']} s",
            lib["seconds"] <= TARGETS["fp_compare_library_s"],
        )
        proc_wall, proc_cpu, rep = compare_process(fp_b, fp_a, args.repeat)
        row(
            "fingerprint vs fingerprint (process)",
            f"{proc_wall:.2f} s wall, {proc_cpu:.1f} s CPU",
            f"<= {TARGETS['fp_compare_process_s']} s",
            proc_wall <= TARGETS["fp_compare_process_s"],
        )
        row(
            "  verdict, noisy copy vs original",
            f"{rep['verdict']} (log10 p {rep['log10_p_value']})",
            "derived",
            rep["verdict"] == "derived",
        )

        if not args.skip_deep:
            d_a = root / "168m-a" if args.size != "168m" else a
            make_model(d_a, "168m", seed=0)
            d_b = root / "168m-b-noisy" if args.size != "168m" else b
            make_noisy_copy(d_a, d_b, seed=1)
            d_c = root / "168m-c-independent"
            make_model(d_c, "168m", seed=2)
            for d in (d_a, d_b, d_c):
                raw_read_seconds(d, 1)
            for label, sus, want in (
                ("derived pair (noisy copy)", d_b, "derived"),
                ("independent pair (other seed)", d_c, "independent"),
            ):
                lib = library_call(sus, d_a, deep=True, repeat=args.repeat)
                row(
                    f"deep compare 168M, {label}",
                    f"{lib['seconds']:.2f} s wall, {lib['cpu']:.1f} s CPU",
                    f"<= {TARGETS['deep_library_s']} s",
                    lib["seconds"] <= TARGETS["deep_library_s"],
                )
                wall, cpu, rep = compare_process(sus, d_a, args.repeat)
                row("  as a whole process", f"{wall:.2f} s wall, {cpu:.1f} s CPU")
                row("  verdict", f"{rep['verdict']} (log10 p {rep['log10_p_value']})", want, rep["verdict"] == want)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    return finish(rows, args, load_start)


def finish(rows: list, args: argparse.Namespace, load_start: tuple) -> int:
    """Print the table; exit code 1 when a target was missed."""
    width = max(len(r[0]) for r in rows)
    vw = max(len(r[1]) for r in rows)
    tw = max(len(r[2]) for r in rows)
    load = os.getloadavg()
    print(
        f"lineage benchmark: {os.cpu_count()} CPUs, python {sys.version.split()[0]}, best of {args.repeat}; "
        f"load average at start {load_start[0]:.1f}, at end {load[0]:.1f} (other jobs on the machine slow wall "
        f"times; CPU times are less affected)"
    )
    print(f"{'figure':<{width}}  {'value':<{vw}}  {'target':<{tw}}  result")
    for figure, value, target, ok in rows:
        print(f"{figure:<{width}}  {value:<{vw}}  {target:<{tw}}  {'' if ok is None else 'PASS' if ok else 'FAIL'}")
    missed = [r[0].strip() for r in rows if r[3] is False]
    if missed:
        print("missed: " + "; ".join(missed))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
