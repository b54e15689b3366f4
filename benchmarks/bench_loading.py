"""Loading benchmark: time and peak memory of `provenance inspect` and of reading every tensor once.

Writes a LLaMA-shaped bf16 safetensors checkpoint (TinyLlama-1.1B shapes by default: about 2.2 GB in two shards
with a model.safetensors.index.json) into a temporary directory, streaming it tensor by tensor so the writer never
holds more than one chunk. Then it runs, each in a fresh subprocess under `/usr/bin/time -v` (or, without it,
`resource.getrusage(RUSAGE_CHILDREN)`):

1. `python -m provenance inspect DIR --format json`
2. a script that opens the checkpoint and calls `TensorRef.read()` on every tensor once

and prints wall time and peak RSS for both, the largest tensor, and whether peak RSS stayed below
2 × (largest tensor as float32) + a small constant. Exit code 1 if it did not.

Run (not part of CI):  python benchmarks/bench_loading.py [--format safetensors|torch] [--layers 22] [--keep DIR]
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

REPO = Path(__file__).resolve().parents[1]
CONSTANT_MB = 200  # interpreter + numpy + the tool's own objects; the measured baseline is printed too
CHUNK = 1 << 24  # values generated per step while writing


def llama_shapes(
    hidden: int, inter: int, layers: int, heads: int, kv_heads: int, vocab: int
) -> list[tuple[str, tuple]]:
    kv = hidden // heads * kv_heads
    out = [("model.embed_tokens.weight", (vocab, hidden))]
    for i in range(layers):
        p = f"model.layers.{i}."
        out += [
            (p + "input_layernorm.weight", (hidden,)),
            (p + "self_attn.q_proj.weight", (hidden, hidden)),
            (p + "self_attn.k_proj.weight", (kv, hidden)),
            (p + "self_attn.v_proj.weight", (kv, hidden)),
            (p + "self_attn.o_proj.weight", (hidden, hidden)),
            (p + "post_attention_layernorm.weight", (hidden,)),
            (p + "mlp.gate_proj.weight", (inter, hidden)),
            (p + "mlp.up_proj.weight", (inter, hidden)),
            (p + "mlp.down_proj.weight", (hidden, inter)),
        ]
    return out + [("model.norm.weight", (hidden,)), ("lm_head.weight", (vocab, hidden))]


def write_shard(path: Path, tensors: list[tuple[str, tuple]], rng: np.random.Generator) -> int:
    """Write one safetensors file: header first (offsets are known from shapes), then data chunk by chunk."""
    header, offset = {}, 0
    for name, shape in tensors:
        n = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + n]}
        offset += n
    header["__metadata__"] = {"format": "pt"}
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)  # keep the data section 8-byte aligned, as the reference writer does
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(blob)) + blob)
        for _, shape in tensors:
            left = int(np.prod(shape))
            while left:
                n = min(left, CHUNK)
                vals = (rng.standard_normal(n, dtype=np.float32) * 0.02).view(np.uint32)
                fh.write((vals >> 16).astype(np.uint16).tobytes())  # truncate float32 to bfloat16 bits
                left -= n
    return offset


def write_torch_shard(path: Path, tensors: list[tuple[str, tuple]]) -> int:
    """torch.save of one shard (needs the shard in memory while writing; the writer is not what is measured)."""
    import torch

    gen = torch.Generator().manual_seed(0)
    sd = {name: (torch.randn(*shape, generator=gen) * 0.02).to(torch.bfloat16) for name, shape in tensors}
    torch.save(sd, path)
    return sum(t.numel() * 2 for t in sd.values())


def write_model(
    directory: Path, shapes: list[tuple[str, tuple]], shards: int = 2, fmt: str = "safetensors", seed: int = 0
) -> int:
    rng = np.random.default_rng(seed)
    per = -(-len(shapes) // shards)
    weight_map, total = {}, 0
    for s in range(shards):
        part = shapes[s * per : (s + 1) * per]
        if fmt == "torch":
            name = f"pytorch_model-{s + 1:05d}-of-{shards:05d}.bin"
            total += write_torch_shard(directory / name, part)
        else:
            name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            total += write_shard(directory / name, part, rng)
        weight_map.update({t: name for t, _ in part})
        print(f"  wrote {name}", file=sys.stderr)
    index = "pytorch_model.bin.index.json" if fmt == "torch" else "model.safetensors.index.json"
    (directory / index).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))
    return total


READ_ALL = """
import sys, time
from provenance.checkpoint import open_checkpoint
t0 = time.perf_counter()
ck = open_checkpoint(sys.argv[1])
n = 0
for ref in ck.tensors.values():
    a = ref.read()
    n += a.size
    del a
print(n, time.perf_counter() - t0)
"""


def measure(cmd: list[str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one subprocess."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    t0 = time.perf_counter()
    if timer:
        proc = subprocess.run([timer, "-v", *cmd], capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        rss = int(m.group(1)) / 1024 if m else float("nan")
    else:  # RUSAGE_CHILDREN keeps the maximum over all children so far: measure the smallest job first
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall, rss, proc.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--intermediate", type=int, default=5632)
    ap.add_argument("--layers", type=int, default=22)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv-heads", type=int, default=4)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument(
        "--format",
        choices=["safetensors", "torch"],
        default="safetensors",
        help="safetensors (the default, streamed) or sharded torch .bin files",
    )
    ap.add_argument("--keep", type=Path, help="write the model here and keep it (default: a temporary dir)")
    args = ap.parse_args()

    shapes = llama_shapes(args.hidden, args.intermediate, args.layers, args.heads, args.kv_heads, args.vocab)
    largest_name, largest_shape = max(shapes, key=lambda s: int(np.prod(s[1])))
    largest_f32_mb = int(np.prod(largest_shape)) * 4 / 2**20
    directory = args.keep or Path(tempfile.mkdtemp(prefix="provenance-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        total = write_model(directory, shapes, fmt=args.format)
        print(
            f"wrote {total / 1e9:.2f} GB ({len(shapes)} tensors, bf16, {args.format}) "
            f"in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        base_import = "import numpy, provenance.checkpoint" + (", torch" if args.format == "torch" else "")
        base_wall, base_rss, _ = measure([sys.executable, "-c", base_import])
        in_wall, in_rss, out = measure(
            [sys.executable, "-m", "provenance", "inspect", str(directory), "--format", "json"]
        )
        assert json.loads(out)["num_tensors"] == len(shapes)
        rd_wall, rd_rss, out = measure([sys.executable, "-c", READ_ALL, str(directory)])
        n_values = int(out.split()[0])
        # torch's own import is a fixed cost of ~200 MB that has nothing to do with the model: count it in the
        # constant when the format needs torch.
        constant = CONSTANT_MB + (base_rss if args.format == "torch" else 0)
        limit = 2 * largest_f32_mb + constant
        print(
            f"model: {total / 1e9:.2f} GB bf16 {args.format} on disk, {len(shapes)} tensors, "
            f"{n_values / 1e9:.3f} B values"
        )
        print(f"largest tensor: {largest_name} {list(largest_shape)} = {largest_f32_mb:.0f} MB as float32")
        print(f"baseline ({base_import}): {base_rss:.0f} MB peak RSS")
        print(f"inspect:          wall {in_wall:6.2f} s   peak RSS {in_rss:7.0f} MB")
        print(
            f"read every tensor: wall {rd_wall:6.2f} s   peak RSS {rd_rss:7.0f} MB   "
            f"({total / 1e9 / rd_wall:.2f} GB/s of bf16 read and widened to float32)"
        )
        ok = in_rss < limit and rd_rss < limit
        print(f"limit 2 x largest float32 + {constant:.0f} MB = {limit:.0f} MB: {'PASS' if ok else 'FAIL'}")
        return 0 if ok else 1
    finally:
        if args.keep is None:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
