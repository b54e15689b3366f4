"""LLaMA-compatible families without a transformers implementation (InternLM2, Baichuan, Megatron core and
legacy): their checkpoints are built from a transformers LLaMA by fusing q/k/v and gate/up the way each
family's own code lays them out, then normalized back; logits must equal the LLaMA's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import transformers
from safetensors.numpy import save_file
from test_normalize_common import build, load_llama, logits, tiny_llama_config

from provenance.checkpoint import open_checkpoint
from provenance.normalize import normalize, write_canonical

NH, NKV, HD = 4, 2, 8


def grouped_qkv(q, k, v):
    """InternLM2 wqkv / Megatron linear_qkv: per KV group, its query heads, then K, then V."""
    g = NH // NKV
    cols = q.shape[1]
    return np.concatenate(
        [q.reshape(NKV, g, HD, cols), k.reshape(NKV, 1, HD, cols), v.reshape(NKV, 1, HD, cols)], axis=1
    ).reshape(-1, cols)


def convert(sd, family):
    out = {}
    L = 2
    if family == "internlm2":
        out["model.tok_embeddings.weight"] = sd["model.embed_tokens.weight"]
        out["model.norm.weight"] = sd["model.norm.weight"]
        out["output.weight"] = sd["lm_head.weight"]
    elif family == "baichuan":
        out.update({k: sd[k] for k in ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight")})
    elif family == "megatron_core":
        out["embedding.word_embeddings.weight"] = sd["model.embed_tokens.weight"]
        out["decoder.final_layernorm.weight"] = sd["model.norm.weight"]
        out["output_layer.weight"] = sd["lm_head.weight"]
    else:
        out["language_model.embedding.word_embeddings.weight"] = sd["model.embed_tokens.weight"]
        out["language_model.encoder.final_norm.weight"] = sd["model.norm.weight"]
        out["language_model.output_layer.weight"] = sd["lm_head.weight"]
    for i in range(L):
        p = f"model.layers.{i}."
        q, k, v = (sd[p + f"self_attn.{x}_proj.weight"] for x in "qkv")
        o = sd[p + "self_attn.o_proj.weight"]
        gate, up, down = (sd[p + f"mlp.{x}_proj.weight"] for x in ("gate", "up", "down"))
        n1, n2 = sd[p + "input_layernorm.weight"], sd[p + "post_attention_layernorm.weight"]
        if family == "internlm2":
            out.update(
                {
                    f"{p}attention_norm.weight": n1,
                    f"{p}attention.wqkv.weight": grouped_qkv(q, k, v),
                    f"{p}attention.wo.weight": o,
                    f"{p}ffn_norm.weight": n2,
                    f"{p}feed_forward.w1.weight": gate,
                    f"{p}feed_forward.w3.weight": up,
                    f"{p}feed_forward.w2.weight": down,
                }
            )
        elif family == "baichuan":
            out.update(
                {
                    p + "input_layernorm.weight": n1,
                    p + "self_attn.W_pack.weight": np.concatenate([q, k, v]),
                    p + "self_attn.o_proj.weight": o,
                    p + "post_attention_layernorm.weight": n2,
                    p + "mlp.gate_proj.weight": gate,
                    p + "mlp.up_proj.weight": up,
                    p + "mlp.down_proj.weight": down,
                }
            )
        elif family == "megatron_core":
            d = f"decoder.layers.{i}."
            out.update(
                {
                    d + "self_attention.linear_qkv.layer_norm_weight": n1,
                    d + "self_attention.linear_qkv.weight": grouped_qkv(q, k, v),
                    d + "self_attention.linear_proj.weight": o,
                    d + "mlp.linear_fc1.layer_norm_weight": n2,
                    d + "mlp.linear_fc1.weight": np.concatenate([gate, up]),
                    d + "mlp.linear_fc2.weight": down,
                }
            )
        else:
            d = f"language_model.encoder.layers.{i}."
            out.update(
                {
                    d + "input_norm.weight": n1,
                    d + "self_attention.query_key_value.weight": grouped_qkv(q, k, v),
                    d + "self_attention.dense.weight": o,
                    d + "post_attention_norm.weight": n2,
                    d + "mlp.dense_h_to_4h.weight": np.concatenate([gate, up]),
                    d + "mlp.dense_4h_to_h.weight": down,
                }
            )
    return out


CONFIG = {
    "internlm2": {"architectures": ["InternLM2ForCausalLM"], "model_type": "internlm2"},
    "baichuan": {"architectures": ["BaichuanForCausalLM"], "model_type": "baichuan"},
}


@pytest.mark.parametrize("family", ["internlm2", "baichuan", "megatron_core", "megatron_legacy"])
def test_fused_llama_family_normalizes_back(tmp_path, family):
    cfg = tiny_llama_config(num_attention_heads=NH, num_key_value_heads=NKV)
    model = build(transformers.LlamaForCausalLM, cfg)
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    src = tmp_path / "src"
    src.mkdir()
    weights = convert(sd, family)
    hf = {
        "hidden_size": 32,
        "intermediate_size": 48,
        "num_hidden_layers": 2,
        "num_attention_heads": NH,
        "num_key_value_heads": NKV,
        "vocab_size": 64,
        "rms_norm_eps": 1e-5,
        "hidden_act": "silu",
        "max_position_embeddings": 64,
    }
    if family in CONFIG:
        save_file(weights, str(src / "model.safetensors"))
        (src / "config.json").write_text(json.dumps({**hf, **CONFIG[family]}))
        ckpt = open_checkpoint(src)
        cm = normalize(ckpt)
    else:  # Megatron: a torch checkpoint with no config beside it; heads given as they would be by option
        torch.save({k: torch.from_numpy(v) for k, v in weights.items()}, src / "model_optim_rng.pt")
        cm = normalize(open_checkpoint(src / "model_optim_rng.pt"), head_dim=HD)
        cm.arch.set("rms_norm_eps", 1e-5, "metadata")
    assert cm.scheme == {"internlm2": "hf_internlm2", "baichuan": "hf_baichuan"}.get(family, family)
    assert cm.llama_compatible and not cm.unmatched and not cm.problems, (cm.incompatible, cm.problems)
    write_canonical(cm, tmp_path / "out")
    assert np.abs(logits(load_llama(tmp_path / "out")) - logits(model)).max() <= 1e-4


def test_vocabulary_padding_is_reported(tmp_path):
    model = build(transformers.LlamaForCausalLM, tiny_llama_config())
    model.save_pretrained(tmp_path / "m")
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    cfg["vocab_size"] = 60  # the tokenizer has 60 tokens; the embedding is padded to 64 rows
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    cm = normalize(open_checkpoint(tmp_path / "m"))
    assert cm.arch.values["vocab_size"] == 64
    assert any("padded" in n for n in cm.arch.notes)
