"""Every row of the naming-scheme table: a checkpoint named by that row maps each name to the row's role.

The checkpoint is built in memory (TensorRefs over numpy arrays) from the row's own templates, so a row added to
the table is tested the day it is added.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from provenance.checkpoint import Checkpoint, TensorRef
from provenance.normalize import normalize
from provenance.normalize.schemes import BUFFERS, CANONICAL, FUSED, LOOKUPS, SCHEMES, canonical_name

H, HD, NH, I, V, LAYERS = 16, 4, 4, 24, 40, 2  # noqa: E741 (I: intermediate size, as in the papers)


def _shapes(scheme) -> dict[str, tuple[int, ...]]:
    nkv = NH if scheme.qkv_layout == "neox" else 2
    q, kv = NH * HD, nkv * HD
    s = {
        "embed": (V, H),
        "pos_embed": (8, H),
        "final_norm": (H,),
        "final_norm_bias": (H,),
        "lm_head": (V, H),
        "lm_head_bias": (V,),
        "attn_norm": (H,),
        "attn_norm_bias": (H,),
        "mlp_norm": (H,),
        "mlp_norm_bias": (H,),
        "attn_out_norm": (H,),
        "mlp_out_norm": (H,),
        "q": (q, H),
        "k": (kv, H),
        "v": (kv, H),
        "o": (H, q),
        "q_bias": (q,),
        "k_bias": (kv,),
        "v_bias": (kv,),
        "o_bias": (H,),
        "q_norm": (HD,),
        "k_norm": (HD,),
        "gate": (I, H),
        "up": (I, H),
        "down": (H, I),
        "gate_bias": (I,),
        "up_bias": (I,),
        "down_bias": (H,),
        "qkv": (q + 2 * kv, H),
        "qkv_bias": (q + 2 * kv,),
        "gate_up": (2 * I, H),
        "rope_inv_freq": (HD // 2,),
        "rope_freqs": (HD // 2,),
        "attn_mask": (1, 1, 8, 8),
    }
    if scheme.conv1d:  # GPT-2 Conv1D stores [in, out]
        for role in ("q", "k", "v", "o", "gate", "up", "down", "qkv", "gate_up"):
            s[role] = s[role][::-1]
    return s


def _metadata(scheme) -> dict:
    nkv = NH if scheme.qkv_layout == "neox" else 2
    if scheme.name == "gguf":
        return {
            "gguf": {
                "general.architecture": "llama",
                "llama.attention.head_count": NH,
                "llama.attention.head_count_kv": nkv,
                "llama.embedding_length": H,
            }
        }
    if scheme.name == "meta":
        return {"params": {"dim": H, "n_heads": NH, "n_kv_heads": nkv, "n_layers": LAYERS}}
    if scheme.name == "llama2c":
        return {"llama2c": {"dim": H, "n_heads": NH, "n_kv_heads": nkv, "n_layers": LAYERS, "hidden_dim": I}}
    cfg = {"num_attention_heads": NH, "num_key_value_heads": nkv, "head_dim": HD, "new_decoder_architecture": True}
    if scheme.model_types:
        cfg["model_type"] = scheme.model_types[0]
    return {"config": cfg}


def _checkpoint(scheme, variant: int) -> tuple[Checkpoint, dict[str, tuple[str, int | None]]]:
    shapes = _shapes(scheme)
    rng = np.random.default_rng(0)
    tensors, expected = {}, {}
    for role, templates in scheme.roles.items():
        template = templates[min(variant, len(templates) - 1)]
        layers = range(LAYERS) if "{L}" in template else [None]
        for layer in layers:
            name = template.replace("{L}", str(layer)) if layer is not None else template
            shape = shapes[role]
            if role == "rope_freqs" and scheme.name == "llama2c":
                shape = (8, HD // 2)
            data = rng.standard_normal(shape).astype(np.float32)
            tensors[name] = TensorRef(
                name, shape, "F32", Path("mem"), lambda a, b, d=data: d.reshape(d.shape[0] if d.ndim else 1, -1)[a:b]
            )
            expected[name] = (role, layer)
    fmt = {"gguf": "gguf", "meta": "meta", "llama2c": "llama2c"}.get(scheme.name, "safetensors")
    return Checkpoint(Path("mem"), fmt, [], tensors, metadata=_metadata(scheme)), expected


ROWS = [(name, v) for name, s in SCHEMES.items() for v in range(max(len(t) for t in s.roles.values()))]


@pytest.mark.parametrize("scheme_name,variant", ROWS, ids=[f"{n}-{v}" for n, v in ROWS])
def test_every_row_maps_its_names_to_its_roles(scheme_name, variant):
    scheme = SCHEMES[scheme_name]
    ckpt, expected = _checkpoint(scheme, variant)
    cm = normalize(ckpt)
    assert cm.unmatched == [], cm.unmatched
    chosen = LOOKUPS[cm.scheme]
    renamed = {(r.from_, r.to) for r in cm.renames}
    dropped = {d["name"] for d in cm.dropped}
    for name, (role, layer) in expected.items():
        assert chosen.role(name) == (role, layer), (name, cm.scheme)
        if role in BUFFERS or role == "rope_freqs":
            assert name in dropped
        elif role in FUSED:
            for part in FUSED[role]:
                assert (name, canonical_name(part, layer)) in renamed
        else:
            target = canonical_name(role, layer)
            assert target in cm.tensors
            assert name == target or (name, target) in renamed


def test_every_role_has_a_canonical_name_or_is_fused_or_a_buffer():
    for scheme in SCHEMES.values():
        for role in scheme.roles:
            assert role in CANONICAL or role in FUSED or role in BUFFERS or role == "rope_freqs", (scheme.name, role)
        assert scheme.source and scheme.family


def test_same_name_means_different_roles_per_family():
    name = "model.layers.3.post_attention_layernorm.weight"
    assert LOOKUPS["hf_llama"].role(name) == ("mlp_norm", 3)
    assert LOOKUPS["hf_gemma2"].role(name) == ("attn_out_norm", 3)
    assert LOOKUPS["hf_olmo2"].role(name) == ("attn_out_norm", 3)
    assert LOOKUPS["hf_qwen1"].role("transformer.h.0.mlp.w2.weight") == ("gate", 0)
    assert LOOKUPS["meta"].role("layers.0.feed_forward.w2.weight") == ("down", 0)


def test_wrapper_prefixes_are_stripped_and_recorded():
    scheme = SCHEMES["hf_llama"]
    ckpt, expected = _checkpoint(scheme, 0)
    prefixed = {
        ("_orig_mod." if i % 2 else "module.") + n: TensorRef(
            ("_orig_mod." if i % 2 else "module.") + n, t.shape, t.dtype, t.file, t.reader
        )
        for i, (n, t) in enumerate(ckpt.tensors.items())
    }
    cm = normalize(Checkpoint(Path("mem"), "torch", [], prefixed, metadata=ckpt.metadata))
    assert cm.unmatched == [] and cm.llama_compatible
    assert all("prefix" in r.rule for r in cm.renames)
    assert len(cm.renames) + len(cm.dropped) == len(prefixed)
