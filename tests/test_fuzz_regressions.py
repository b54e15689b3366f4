"""Every crash, hang or runaway allocation the fuzz suite (and issue 11's abuse run) found, kept as a named test with
the smallest input that showed it. Each must now be one InputError line naming the file, and fail fast."""

from __future__ import annotations

import json
import os
import struct

import gguf
import numpy as np
import pytest
from test_formats_cli import assert_one_line_error, run_cli
from test_fuzz_readers import mutate, seed, seeds_dir

from provenance.checkpoint import open_checkpoint
from provenance.errors import InputError


def _gguf_bytes(version: int, kvs: bytes, n_kv: int, infos: bytes = b"", n_tensors: int = 0) -> bytes:
    n = "<I" if version == 1 else "<Q"
    return b"GGUF" + struct.pack("<I", version) + struct.pack(n, n_tensors) + struct.pack(n, n_kv) + kvs + infos


def _gstr(s: str, version: int = 3) -> bytes:
    b = s.encode()
    return struct.pack("<I" if version == 1 else "<Q", len(b)) + b


# ----------------------------------------------------------------------------------------------------------- GGUF
def test_gguf_array_of_1e8_elements_in_a_tiny_file(tmp_path):
    """Issue 11: a 26 KB GGUF declaring an array of 10^8 uint32 cost gguf's reader 30 s and 3.6 GB."""
    kv = _gstr("test.bomb") + struct.pack("<I", 9) + struct.pack("<I", 4) + struct.pack("<Q", 10**8)
    p = tmp_path / "bomb.gguf"
    p.write_bytes(_gguf_bytes(3, kv + b"\0" * 26_000, 1))
    with pytest.raises(InputError, match="declares 100000000 elements"):
        open_checkpoint(p)
    # below the element cap, the count is checked against the bytes left in the file before anything is read
    p.write_bytes(p.read_bytes().replace(struct.pack("<Q", 10**8), struct.pack("<Q", 10**7)))
    with pytest.raises(InputError, match="needs 40000000 bytes"):
        open_checkpoint(p)


def test_gguf_array_of_strings_longer_than_the_file(tmp_path):
    kv = _gstr("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<I", 8) + struct.pack("<Q", 10**7)
    p = tmp_path / "strings.gguf"
    p.write_bytes(_gguf_bytes(3, kv + _gstr("a") * 10, 1))
    with pytest.raises(InputError, match="truncated or corrupt GGUF"):
        open_checkpoint(p)


def test_gguf_declared_counts_above_the_caps(tmp_path):
    p = tmp_path / "counts.gguf"
    p.write_bytes(_gguf_bytes(3, b"", 2**40, n_tensors=2**40))
    with pytest.raises(InputError, match="declares"):
        open_checkpoint(p)


def test_gguf_split_count_as_a_string(tmp_path):
    """Issue 11: ``split.count`` of the wrong type crashed with a TypeError."""
    kv = _gstr("split.count") + struct.pack("<I", 8) + _gstr("3")
    p = tmp_path / "s.gguf"
    p.write_bytes(_gguf_bytes(3, kv, 1) + b"\0" * 64)
    assert_one_line_error(run_cli("inspect", p), "s.gguf", "split.count is '3'")


def test_gguf_zero_sized_dimension(tmp_path):
    info = _gstr("w") + struct.pack("<I", 2) + struct.pack("<QQ", 4, 0) + struct.pack("<I", 0) + struct.pack("<Q", 0)
    p = tmp_path / "z.gguf"
    p.write_bytes(_gguf_bytes(3, b"", 0, info, 1) + b"\0" * 64)
    with pytest.raises(InputError, match="zero dimension"):
        open_checkpoint(p)


def test_gguf_string_where_a_size_is_expected(tmp_path):
    w = gguf.GGUFWriter(str(tmp_path / "m.gguf"), "llama")
    w.add_string("llama.embedding_length", "64")
    w.add_tensor("token_embd.weight", np.ones((4, 8), np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    assert_one_line_error(run_cli("inspect", tmp_path / "m.gguf"), "llama.embedding_length", "non-negative integer")


def test_gguf_version_1_and_unknown_versions(tmp_path):
    p = tmp_path / "v9.gguf"
    p.write_bytes(_gguf_bytes(3, b"", 0).replace(struct.pack("<I", 3), struct.pack("<I", 9), 1) + b"\0" * 32)
    with pytest.raises(InputError, match="unsupported GGUF version 9"):
        open_checkpoint(p)
    big = tmp_path / "be.gguf"
    big.write_bytes(b"GGUF" + struct.pack(">I", 3) + struct.pack(">QQ", 0, 0) + b"\0" * 32)
    with pytest.raises(InputError, match="big-endian"):
        open_checkpoint(big)


# ---------------------------------------------------------------------------------------------------- safetensors
def _safetensors(tmp_path, header: dict, data: bytes = b"", raw: bytes | None = None):
    blob = raw if raw is not None else json.dumps(header).encode()
    p = tmp_path / "model.safetensors"
    p.write_bytes(struct.pack("<Q", len(blob)) + blob + data)
    return p


@pytest.mark.parametrize(
    "header, problem",
    [
        ({"w": {"dtype": "F32", "shape": [2**62, 4], "data_offsets": [0, 16]}}, "needs"),  # product overflows int64
        ({"w": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}, "at most 64"),
        ({"w": {"dtype": "F32", "shape": [[2], 2], "data_offsets": [0, 16]}}, "shape"),
        ({"w": {"dtype": "F32", "shape": [True, 4], "data_offsets": [0, 16]}}, "shape"),
        ({"w": {"dtype": ["F32"], "shape": [4], "data_offsets": [0, 16]}}, "unsupported dtype"),
        (
            {
                "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
                "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]},
            },
            "overlap",
        ),
    ],
)
def test_safetensors_headers_that_escaped(tmp_path, header, problem):
    p = _safetensors(tmp_path, header, b"\0" * 16)
    with pytest.raises(InputError, match=problem):
        open_checkpoint(p)


def test_safetensors_lone_surrogate_name(tmp_path):
    """Issue 11: a tensor named "\\ud800" broke the JSON output of inspect."""
    raw = b'{"\\ud800": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}'
    p = _safetensors(tmp_path, {}, b"\0" * 4, raw=raw)
    assert_one_line_error(run_cli("inspect", p, "--format", "json"), "model.safetensors", "surrogate")


@pytest.mark.parametrize(
    "raw, problem",
    [
        (b'{"w": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested"),
        (b'{"w": ' + b"[" * 100 + b"]" * 100 + b"}", "nested deeper than 64"),
        (b'{"w": ' + b"9" * 5000 + b"}", "invalid JSON"),
        (b'{"w": NaN}', "non-finite"),
    ],
    ids=["deep", "depth-100", "huge-int", "nan"],
)
def test_json_depth_huge_integers_and_nan(tmp_path, raw, problem):
    (tmp_path / "m").mkdir()
    save = tmp_path / "m" / "model.safetensors"
    from safetensors.numpy import save_file

    save_file({"w": np.ones((2, 2), np.float32)}, str(save))
    (tmp_path / "m" / "config.json").write_bytes(raw)
    with pytest.raises(InputError, match=problem):
        open_checkpoint(tmp_path / "m")
    p = _safetensors(tmp_path, {}, raw=raw)
    with pytest.raises(InputError, match=problem):
        open_checkpoint(p)


@pytest.mark.parametrize(
    "name, doc, problem",
    [
        ("config.json", {"architectures": 5}, "architectures is 5"),
        ("config.json", {"model_type": "llama", "hidden_size": "64"}, "hidden_size is '64'"),
        ("params.json", {"dim": "64", "n_layers": 2}, "dim is '64'"),
    ],
)
def test_companion_values_of_the_wrong_type(tmp_path, name, doc, problem):
    from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir, write_meta_dir

    cfg = TinyLlamaConfig()
    sd = llama_state_dict(cfg, 0)
    d = (write_meta_dir if name == "params.json" else write_hf_dir)(
        tmp_path / "m", sd, *([cfg] if name == "params.json" else [cfg.hf_config()])
    )
    (d / name).write_text(json.dumps(doc))
    assert_one_line_error(run_cli("compare", d, d), name, problem)


def test_adapter_rank_nan(tmp_path):
    (tmp_path / "adapter_config.json").write_text('{"peft_type": "LORA", "r": NaN}')
    from safetensors.numpy import save_file

    save_file({"x.lora_A.weight": np.ones((2, 2), np.float32)}, str(tmp_path / "adapter_model.safetensors"))
    with pytest.raises(InputError, match="non-finite"):
        open_checkpoint(tmp_path)


# ---------------------------------------------------------------------------------------------------------- torch
def test_torch_zip_with_an_unknown_version_needed(tmp_path):
    """Found by test_fuzz_readers: two bit flips made zipfile raise NotImplementedError ("zip file version 6.4")."""
    name, data, hot = seed("torch")
    bad = bytearray(data)
    cd = bytes(bad).rfind(b"PK\x01\x02")  # a central directory entry: "version needed to extract" at +6
    bad[cd + 6] = 64
    p = tmp_path / "model.pt"
    p.write_bytes(bytes(bad))
    with pytest.raises(InputError, match="zip archive unreadable"):
        open_checkpoint(p)


@pytest.mark.parametrize("kind", ["sparse", "complex", "nested", "quantized"])
def test_unusual_torch_tensors(tmp_path, kind):
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = {
            "sparse": lambda: torch.eye(3).to_sparse(),
            "complex": lambda: torch.ones(3, dtype=torch.complex64),
            "nested": lambda: torch.nested.nested_tensor([torch.ones(2), torch.ones(3)]),
            "quantized": lambda: torch.quantize_per_tensor(torch.ones(3), 0.1, 0, torch.qint8),
        }[kind]()
    torch.save({"w": t}, tmp_path / "m.pt")
    assert_one_line_error(run_cli("inspect", tmp_path / "m.pt"), "m.pt", "only dense real tensors")


# ------------------------------------------------------------------------------------------------------ tokenizers
def test_tokenizer_json_id_2e9_does_not_allocate(tmp_path):
    """Issue 11: a token id of 2e9 made compare allocate 16 GB."""
    from safetensors.numpy import save_file

    from provenance.lineage import token_strings

    save_file({"w": np.ones((2, 2), np.float32)}, str(tmp_path / "model.safetensors"))
    (tmp_path / "tokenizer.json").write_text(json.dumps({"model": {"vocab": {"a": 0, "b": 2_000_000_000}}}))
    with pytest.raises(InputError, match="outside"):
        token_strings(open_checkpoint(tmp_path))


def test_a_3gb_tokenizer_model_is_refused_by_its_size(tmp_path):
    from safetensors.numpy import save_file

    from provenance.formats.tokenizers import read_token_strings

    save_file({"w": np.ones((2, 2), np.float32)}, str(tmp_path / "model.safetensors"))
    with open(tmp_path / "tokenizer.model", "wb") as fh:  # sparse: no disk used, 3 GB by its size
        fh.truncate(3 << 30)
    with pytest.raises(InputError, match="above the"):
        read_token_strings(open_checkpoint(tmp_path))


def test_seeds_still_open():
    for kind in ("torch", "gguf"):
        name, data, _ = seed(kind)
        assert mutate(data, 16, [("flip", True, 0, 0, 0), ("flip", True, 0, 0, 0)]) == data  # two flips cancel
        assert open_checkpoint(seeds_dir() / kind / name).tensors


def test_fingerprint_sniffing_survives_any_header(tmp_path):
    from fingerprints.fingerprint import is_fingerprint_file

    for raw in (b"[1, 2]", b'{"__metadata__": 5}', b"[" * 5000 + b"]" * 5000, b"\xff\xfe"):
        p = tmp_path / "x.fp"
        p.write_bytes(struct.pack("<Q", len(raw)) + raw)
        assert is_fingerprint_file(p) is False
    assert os.path.exists(p)


def test_torch_names_with_lone_surrogates(tmp_path):
    """A pickle can carry strings no UTF-8 report can hold: a tensor name is refused, other strings replaced."""
    import torch

    torch.save({"\ud800x": torch.ones(2, 2)}, tmp_path / "a.pt")
    assert_one_line_error(run_cli("inspect", tmp_path / "a.pt", "--format", "json"), "a.pt", "lone surrogate")
    torch.save({"w": torch.ones(2, 2), "info": {"\udcff": 1, 5: "x"}}, tmp_path / "b.pt")
    proc = run_cli("inspect", tmp_path / "b.pt", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["metadata"]["torch"]["non_tensor_entries"]["info"] == {"5": "x", "?": 1}


def test_torch_tensor_that_requires_grad(tmp_path):
    """Found by test_fuzz_readers: one flipped bit (byte 216 of the zip seed) set a tensor's requires_grad, and
    reading it raised RuntimeError ("Can't call numpy() on Tensor that requires grad"). A saved nn.Parameter is the
    same case in a genuine file."""
    import torch

    name, data, hot = seed("torch")
    p = tmp_path / "flipped.pt"
    p.write_bytes(mutate(data, hot, [("flip", False, 216, 0, 0)]))
    try:
        for t in open_checkpoint(p).tensors.values():
            t.read()
    except InputError:
        pass
    torch.save({"w": torch.nn.Parameter(torch.ones(2, 3))}, tmp_path / "param.pt")
    np.testing.assert_array_equal(open_checkpoint(tmp_path / "param.pt")["w"].read(), np.ones((2, 3), np.float32))
