"""Mixture-of-experts layouts read by normalization: Mixtral and Qwen2-MoE written by transformers'
save_pretrained, DeepSeek-MoE names (shared_experts) written with safetensors; every expert, router and shared
expert lands under its canonical (Qwen2-MoE) name with the stored values, and none is left to role inference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file, save_file

from provenance.checkpoint import open_checkpoint
from provenance.normalize import normalize
from provenance.normalize.schemes import moe_canonical

SMALL = dict(vocab_size=128, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, num_experts_per_tok=2)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from transformers import MixtralConfig, MixtralForCausalLM, Qwen2MoeConfig, Qwen2MoeForCausalLM

    root = tmp_path_factory.mktemp("moe")
    torch.manual_seed(0)
    MixtralForCausalLM(MixtralConfig(num_local_experts=3, **SMALL)).save_pretrained(root / "mixtral")
    Qwen2MoeForCausalLM(Qwen2MoeConfig(num_experts=3, moe_intermediate_size=24, shared_expert_intermediate_size=40,
                                       decoder_sparse_step=1, **SMALL)).save_pretrained(root / "qwen2_moe")
    # DeepSeek-MoE's names differ from Qwen2-MoE's in `shared_experts` (plural) and have no shared-expert gate.
    src = load_file(root / "qwen2_moe" / "model.safetensors")
    ds = {k.replace(".shared_expert.", ".shared_experts."): v for k, v in src.items() if "shared_expert_gate" not in k}
    (root / "deepseek").mkdir()
    save_file(ds, root / "deepseek" / "model.safetensors")
    return root


def _values(path):
    return load_file(next(path.glob("*.safetensors")))


@pytest.mark.parametrize("kind,experts,shared", [("mixtral", 3, False), ("qwen2_moe", 3, True),
                                                 ("deepseek", 3, True)])
def test_every_expert_is_mapped_with_its_values(files, kind, experts, shared):
    ckpt = open_checkpoint(files / kind)
    cm = normalize(ckpt, graph=False)
    assert cm.unmatched == []
    src = _values(files / kind)
    by_target = {r.to: r.from_ for r in cm.renames}
    for L in range(2):
        for e in range(experts):
            for r in ("gate", "up", "down"):
                name = f"model.layers.{L}.mlp.experts.{e}.{r}_proj.weight"
                assert name in cm.tensors, name
                np.testing.assert_array_equal(cm.tensors[name].read(), src[by_target.get(name, name)])
        assert f"model.layers.{L}.mlp.gate.weight" in cm.tensors  # the router
        assert (f"model.layers.{L}.mlp.shared_expert.up_proj.weight" in cm.tensors) == shared
        # no dense MLP was invented from expert tensors by role inference
        assert f"model.layers.{L}.mlp.up_proj.weight" not in cm.tensors
    assert "mixture-of-experts MLP (not a dense LLaMA MLP)" in cm.incompatible
    # attention still normalised as usual
    assert cm.tensors["model.layers.1.self_attn.q_proj.weight"].shape == (32, 32)


def test_mixtral_expert_roles_follow_w1_w3_w2(files):
    """w1 is the gate, w3 the up projection, w2 the down projection (as in Meta's LLaMA and mistral-src)."""
    cm = normalize(open_checkpoint(files / "mixtral"), graph=False)
    src = _values(files / "mixtral")
    for role, w in (("gate", "w1"), ("up", "w3"), ("down", "w2")):
        np.testing.assert_array_equal(cm.tensors[f"model.layers.0.mlp.experts.2.{role}_proj.weight"].read(),
                                      src[f"model.layers.0.block_sparse_moe.experts.2.{w}.weight"])


def test_moe_name_table():
    assert moe_canonical("model.layers.7.block_sparse_moe.experts.5.w2.weight") == (
        "model.layers.7.mlp.experts.5.down_proj.weight", "mixtral")
    assert moe_canonical("model.layers.3.block_sparse_moe.gate.weight") == ("model.layers.3.mlp.gate.weight",
                                                                            "mixtral")
    assert moe_canonical("model.layers.2.mlp.shared_experts.up_proj.weight")[0] == \
        "model.layers.2.mlp.shared_expert.up_proj.weight"
    assert moe_canonical("model.layers.2.mlp.up_proj.weight") is None  # a dense MLP is not an expert
