"""`verify` benchmark: peak memory and wall time of `provenance verify` beside `provenance fingerprint` of one file.

Writes (once, in a temp dir or ``--keep DIR``; not in CI) a LLaMA-shaped bf16 checkpoint with real safetensors
shards, an index and a config.json declaring ``LlamaForCausalLM`` (so verify also runs the transformers comparison),
with the streaming writer of ``bench_loading.py``. Then, each as a whole process with peak RSS from
``/usr/bin/time -v`` (or ``resource.getrusage(RUSAGE_CHILDREN)``):

1. ``provenance fingerprint DIR -o FILE`` (warm page cache: run once before timing);
2. ``provenance verify DIR --format json`` (default 32 greedy steps).

Targets (issue 11): verify peak RSS <= 1.2 x checkpoint bytes + 1 GB, verify wall <= 10 x fingerprint wall.
Sizes: ``1b`` (TinyLlama-1.1B shapes, 2.2 GB, the default) and, with ``--size 7b``, LLaMA-2-7B shapes (13.5 GB),
run only when MemAvailable exceeds 20 GB (the machine is shared; otherwise skipped with a message).
Every figure is the best of ``--repeat`` runs. Exit code 1 when a target is missed.

Run:  python benchmarks/bench_verify.py [--size 1b|7b|168m] [--keep DIR] [--repeat 1] [--steps 32]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lineage import SIZES, best_of, make_model  # noqa: E402  (shared writer and process timer)

SEVEN_B_MIN_FREE = 20 * 1024**3


def mem_available() -> int:
    """MemAvailable from /proc/meminfo in bytes (0 when unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_size(size: str, root: Path, repeat: int, steps: int) -> list[tuple[str, str, str, bool | None]]:
    directory = root / f"{size}-verify"
    total = make_model(directory, size, seed=0)
    cli = [sys.executable, "-m", "provenance"]
    fp = root / f"{size}.fp"
    best_of([*cli, "fingerprint", str(directory), "-o", str(fp)], 1)  # warms the page cache
    fp_wall, fp_rss, fp_cpu, _ = best_of([*cli, "fingerprint", str(directory), "-o", str(fp)], repeat)
    v_wall, v_rss, v_cpu, out = best_of(
        [*cli, "verify", str(directory), "--format", "json", "--steps", str(steps)], repeat
    )
    report = json.loads(out)
    rss_limit = (1.2 * total + 1024**3) / 1024**2
    rows = [
        (
            f"{size}: checkpoint",
            f"{total / 1e9:.2f} GB bf16, {len(report['greedy_from_bos'])} greedy steps, "
            f"compared with {report['compared_with']} "
            f"(max abs logit diff {report['max_abs_logit_diff']})",
            "",
            None,
        ),
        (f"{size}: fingerprint wall / CPU / peak RSS", f"{fp_wall:.1f} s / {fp_cpu:.1f} s / {fp_rss:.0f} MB", "", None),
        (
            f"{size}: verify wall / CPU",
            f"{v_wall:.1f} s / {v_cpu:.1f} s ({v_wall / fp_wall:.1f} x fingerprint)",
            "<= 10 x fingerprint",
            v_wall <= 10 * fp_wall,
        ),
        (
            f"{size}: verify peak RSS",
            f"{v_rss:.0f} MB ({v_rss * 1024**2 / total:.2f} x checkpoint)",
            f"<= {rss_limit:.0f} MB",
            v_rss <= rss_limit,
        ),
    ]
    if not report["finite"] or report["runs_as_llama"] is not True:
        rows.append(
            (
                f"{size}: verify verdict",
                f"runs_as_llama={report['runs_as_llama']} {report['reasons']}",
                "runs as LLaMA",
                False,
            )
        )
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--size", choices=sorted(SIZES), action="append", help="model shape(s) to measure (repeatable; default 1b)"
    )
    ap.add_argument("--keep", type=Path, help="write the models here and keep them (reused on the next run)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per figure; the best is reported")
    ap.add_argument("--steps", type=int, default=32, help="verify --steps")
    args = ap.parse_args()
    sizes = args.size or ["1b"]
    root = args.keep or Path(tempfile.mkdtemp(prefix="provenance-bench-verify-"))
    root.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str, bool | None]] = []
    load_start = os.getloadavg()
    try:
        for size in sizes:
            if size == "7b" and mem_available() < SEVEN_B_MIN_FREE:
                rows.append(("7b", f"skipped: MemAvailable {mem_available() / 1024**3:.1f} GB < 20 GB", "", None))
                continue
            rows += run_size(size, root, args.repeat, args.steps)
            if not args.keep:
                shutil.rmtree(root / f"{size}-verify", ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    load_end = os.getloadavg()
    width = max(len(r[0]) for r in rows)
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load_start[0]:.1f} at start, {load_end[0]:.1f} at end "
        "(shared machine: wall times include other jobs)"
    )
    for figure, value, target, ok in rows:
        mark = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{figure:<{width}}  {value:<60} {target:<22} {mark}")
    return 1 if any(ok is False for *_, ok in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
