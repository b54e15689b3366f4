"""Structure-aware fuzzing of the JSON a checkpoint carries: config.json, params.json, adapter_config.json,
tokenizer.json and the safetensors header. hypothesis replaces keys of valid files with arbitrary JSON values
(wrong types, huge or negative numbers, deep nesting); opening the checkpoint, normalizing it and reading its token
strings must succeed or raise InputError. Budget as in test_fuzz_readers (``PROVENANCE_FUZZ_EXAMPLES``)."""

from __future__ import annotations

import functools
import json
import struct
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from test_fuzz_readers import FUZZ

from provenance.checkpoint import open_checkpoint
from provenance.errors import InputError
from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir, write_meta_dir

CFG = TinyLlamaConfig(
    vocab_size=32,
    hidden_size=16,
    intermediate_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.sampled_from([0, -1, 1, 2**31, 2**63, 2e9, "64", "", "NaN"]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)


@functools.cache
def _base() -> Path:
    d = Path(tempfile.mkdtemp(prefix="provenance-fuzz-json-"))
    sd = llama_state_dict(CFG, seed=0)
    write_hf_dir(d / "hf", sd, CFG.hf_config())
    write_meta_dir(d / "meta", sd, CFG)
    return d


def _exercise(directory: Path) -> None:
    from provenance.lineage import token_strings
    from provenance.normalize import normalize

    try:
        ck = open_checkpoint(directory)
        normalize(ck, graph=False)
        token_strings(ck)
    except InputError as exc:
        assert "\n" not in str(exc)


def _with_file(kind: str, name: str, content: bytes) -> None:
    import shutil

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / kind
        shutil.copytree(_base() / kind, d)
        (d / name).write_bytes(content)
        _exercise(d)


def _replace(obj: dict, edits: list) -> dict:
    out = dict(obj)
    keys = sorted(out)
    for pick, value, extra_key in edits:
        key = extra_key if extra_key is not None else keys[pick % len(keys)]
        out[key] = value
    return out


edits = st.lists(
    st.tuples(st.integers(0, 100), json_values, st.one_of(st.none(), st.text(max_size=6))), min_size=1, max_size=3
)


@FUZZ
@given(edits=edits)
def test_fuzz_config_json(edits):
    cfg = json.loads((_base() / "hf" / "config.json").read_text())
    _with_file("hf", "config.json", json.dumps(_replace(cfg, edits)).encode())


@FUZZ
@given(edits=edits)
def test_fuzz_params_json(edits):
    params = json.loads((_base() / "meta" / "params.json").read_text())
    _with_file("meta", "params.json", json.dumps(_replace(params, edits)).encode())


@FUZZ
@given(edits=edits)
def test_fuzz_adapter_config(edits):
    from safetensors.numpy import save_file

    cfg = {
        "peft_type": "LORA",
        "r": 2,
        "lora_alpha": 4,
        "target_modules": ["q_proj"],
        "base_model_name_or_path": "base",
    }
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        rng = np.random.default_rng(0)
        save_file(
            {
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": rng.standard_normal(
                    (2, 16), dtype=np.float32
                ),
                "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": rng.standard_normal(
                    (16, 2), dtype=np.float32
                ),
            },
            str(d / "adapter_model.safetensors"),
        )
        (d / "adapter_config.json").write_text(json.dumps(_replace(cfg, edits)))
        _exercise(d)


@FUZZ
@given(
    vocab=st.one_of(
        json_values,
        st.dictionaries(st.text(max_size=4), json_values, max_size=6),
        st.dictionaries(st.text(max_size=4), st.integers(-5, 2**40), max_size=6),
    ),
    added=json_values,
)
def test_fuzz_tokenizer_json(vocab, added):
    doc = {"model": {"type": "BPE", "vocab": vocab}, "added_tokens": added}
    _with_file("hf", "tokenizer.json", json.dumps(doc).encode())


entry = st.fixed_dictionaries(
    {
        "dtype": st.one_of(st.sampled_from(["F32", "F16", "BF16", "I64", "F8_E4M3"]), json_values),
        "shape": st.one_of(st.lists(st.integers(-2, 2**63), max_size=70), json_values),
        "data_offsets": st.one_of(st.lists(st.integers(-8, 2**64), min_size=2, max_size=2), json_values),
    }
)


@FUZZ
@given(
    header=st.dictionaries(st.text(max_size=6), st.one_of(entry, json_values), min_size=1, max_size=4),
    tail=st.binary(max_size=256),
)
def test_fuzz_safetensors_header(header, tail):
    blob = json.dumps(header).encode()
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "model.safetensors"
        p.write_bytes(struct.pack("<Q", len(blob)) + blob + tail)
        try:
            ck = open_checkpoint(p)
            for t in ck.tensors.values():
                t.read()
        except InputError as exc:
            assert "\n" not in str(exc)
