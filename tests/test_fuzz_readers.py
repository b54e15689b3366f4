"""Mutation fuzzing of every reader: valid seeds written by the real libraries (safetensors, gguf's GGUFWriter,
torch.save, llama2.c export layouts, tokenizers), mutated by hypothesis (bit flips, overwritten length/count fields,
truncation, insertion, deletion), opened and read. The only allowed outcomes are success or InputError.

Budget: ``PROVENANCE_FUZZ_EXAMPLES`` examples per reader (default 20, a few seconds each; CI runs the default).
For a longer local run: ``PROVENANCE_FUZZ_EXAMPLES=5000 python -m pytest -q tests/test_fuzz_*.py``. The long run
draws fresh random examples; the default run is derandomized so CI is reproducible. Every crash found is kept as a
named regression test in ``tests/test_fuzz_regressions.py``.
"""

from __future__ import annotations

import functools
import os
import struct
import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provenance.checkpoint import open_checkpoint
from provenance.errors import InputError

EXAMPLES = int(os.environ.get("PROVENANCE_FUZZ_EXAMPLES", "20"))
LONG = EXAMPLES > 100
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=30),
    derandomize=not LONG,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_READ = 1 << 22  # read every tensor of a mutated file unless it claims more values than this

INTERESTING = [
    0,
    1,
    2,
    7,
    8,
    0x7F,
    0x80,
    0xFF,
    0x7FFF,
    0xFFFF,
    2**31 - 1,
    2**31,
    2**32 - 1,
    2**32,
    10**8,
    10**9,
    2**62,
    2**63 - 1,
    2**64 - 1,
]


# ------------------------------------------------------------------------------------------------------- seeds
@functools.cache
def seeds_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="provenance-fuzz-seeds-"))


@functools.cache
def seed(kind: str) -> tuple[str, bytes, int]:
    """(file name, bytes, length of the header region mutations should favour) of a valid file of ``kind``."""
    d = seeds_dir() / kind
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    if kind == "safetensors":
        from safetensors.numpy import save_file

        save_file(
            {
                "emb.weight": rng.standard_normal((16, 8), dtype=np.float32),
                "layers.0.q.weight": rng.standard_normal((8, 8)).astype(np.float16),
                "layers.0.norm.weight": np.ones(8, np.float32),
                "step": np.array([3], np.int64),
            },
            str(d / "model.safetensors"),
            metadata={"format": "pt"},
        )
        name = "model.safetensors"
    elif kind in ("gguf", "gguf-v1"):
        import gguf

        w = gguf.GGUFWriter(str(d / "model.gguf"), "llama")
        w.add_block_count(1)
        w.add_embedding_length(32)
        w.add_token_list([f"t{i}" for i in range(40)])
        w.add_array("test.ints", [1, 2, 3])
        w.add_tensor("token_embd.weight", rng.standard_normal((40, 32), dtype=np.float32))
        w.add_tensor(
            "blk.0.attn_q.weight",
            gguf.quants.quantize(rng.standard_normal((32, 32), dtype=np.float32), gguf.GGMLQuantizationType.Q8_0),
            raw_dtype=gguf.GGMLQuantizationType.Q8_0,
        )
        w.add_tensor("blk.0.attn_norm.weight", np.ones(32, np.float16))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        name = "model.gguf"
        if kind == "gguf-v1":
            from test_formats_gguf_versions import write_old_gguf

            write_old_gguf(d / "model.gguf", d / "v1.gguf", 1)
            name = "v1.gguf"
    elif kind in ("torch", "torch-legacy"):
        import torch

        torch.manual_seed(0)
        torch.save(
            {
                "model": {"emb.weight": torch.randn(16, 8), "fc.weight": torch.randn(8, 8).half()},
                "iter": 3,
                "args": {"lr": 0.1},
            },
            d / "model.pt",
            _use_new_zipfile_serialization=kind == "torch",
        )
        name = "model.pt"
    elif kind in ("llama2c-v0", "llama2c-v2"):
        from test_formats_llama2c import _weights, write_v0, write_v2

        w = _weights()
        if kind == "llama2c-v0":
            write_v0(d / "model.bin", w, shared=True)
        else:
            write_v2(d / "model.bin", w, shared=False)
        name = "model.bin"
    elif kind == "tok512":
        shared = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "stories260K" / "tok512.bin"
        if shared.is_file():
            data = shared.read_bytes()
        else:  # the same layout, written here
            data = struct.pack("<i", 7) + b"".join(
                struct.pack("<fi", -float(i), 3) + b"t%02d" % (i % 100) for i in range(512)
            )
        (d / "tok512.bin").write_bytes(data)
        name = "tok512.bin"
    else:
        raise KeyError(kind)
    data = (d / name).read_bytes()
    hot = {"safetensors": 8 + struct.unpack("<Q", data[:8])[0], "llama2c-v0": 28, "llama2c-v2": 256, "tok512": 64}.get(
        kind, min(len(data), 1024)
    )
    return name, data, hot


# ------------------------------------------------------------------------------------------------- mutations
OPS = ("flip", "byte", "u32", "u64", "cut", "insert", "delete", "zero")
mutation = st.tuples(
    st.sampled_from(OPS), st.booleans(), st.integers(0, 2**32), st.integers(0, 2**64 - 1), st.sampled_from(INTERESTING)
)
mutations = st.lists(mutation, min_size=1, max_size=4)


def mutate(data: bytes, hot: int, muts) -> bytes:
    b = bytearray(data)
    for op, in_header, where, rnd, special in muts:
        if not b:
            break
        pos = where % (min(hot, len(b)) if in_header else len(b))
        value = special if rnd % 3 else rnd
        if op == "flip":
            b[pos] ^= 1 << (rnd % 8)
        elif op == "byte":
            b[pos] = value & 0xFF
        elif op == "u32":
            b[pos : pos + 4] = struct.pack("<I", value & 0xFFFFFFFF)
        elif op == "u64":
            b[pos : pos + 8] = struct.pack("<Q", value & (2**64 - 1))
        elif op == "cut":
            del b[pos:]
        elif op == "insert":
            b[pos:pos] = rnd.to_bytes(8, "little")[: 1 + rnd % 8]
        elif op == "delete":
            del b[pos : pos + 1 + rnd % 16]
        elif op == "zero":
            b[pos : pos + 1 + rnd % 64] = bytes(len(b[pos : pos + 1 + rnd % 64]))
    return bytes(b)


def exercise(path: Path) -> None:
    """Open the file and read everything a command would: tensors, token strings. Only InputError may escape."""
    from provenance.lineage import token_strings

    try:
        ck = open_checkpoint(path)
        for t in ck.tensors.values():
            if t.numel <= MAX_READ:
                t.read()
        token_strings(ck)
    except InputError as exc:
        assert "\n" not in str(exc)


def run_mutated(kind: str, muts, extra: dict[str, bytes] | None = None) -> None:
    name, data, hot = seed(kind)
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / name
        p.write_bytes(mutate(data, hot, muts))
        for n, blob in (extra or {}).items():
            (Path(tmp) / n).write_bytes(blob)
        exercise(p)


def test_seeds_are_valid():
    for kind in ("safetensors", "gguf", "gguf-v1", "torch", "torch-legacy", "llama2c-v0", "llama2c-v2"):
        name, data, _ = seed(kind)
        ck = open_checkpoint(seeds_dir() / kind / name)
        assert ck.tensors, kind


@pytest.mark.parametrize(
    "kind", ["safetensors", "gguf", "gguf-v1", "torch", "torch-legacy", "llama2c-v0", "llama2c-v2"]
)
@FUZZ
@given(muts=mutations)
def test_fuzz_weights(kind, muts):
    run_mutated(kind, muts)


@FUZZ
@given(muts=mutations)
def test_fuzz_llama2c_tokenizer(muts):
    """tok512.bin mutated beside a valid llama2.c model of vocabulary 512."""
    from test_formats_llama2c import CFG, _weights, write_v0

    name, data, hot = seed("tok512")
    cfg = dict(CFG, vocab=512)
    with tempfile.TemporaryDirectory() as tmp:
        write_v0(Path(tmp) / "model.bin", _weights(0, cfg), shared=True, cfg=cfg)
        (Path(tmp) / name).write_bytes(mutate(data, hot, muts))
        exercise(Path(tmp) / "model.bin")
