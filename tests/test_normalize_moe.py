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

SMALL = dict(
    vocab_size=128,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    num_experts_per_tok=2,
)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from transformers import MixtralConfig, MixtralForCausalLM, Qwen2MoeConfig, Qwen2MoeForCausalLM

    root = tmp_path_factory.mktemp("moe")
    torch.manual_seed(0)
    MixtralForCausalLM(MixtralConfig(num_local_experts=3, **SMALL)).save_pretrained(root / "mixtral")
    Qwen2MoeForCausalLM(
        Qwen2MoeConfig(
            num_experts=3, moe_intermediate_size=24, shared_expert_intermediate_size=40, decoder_sparse_step=1, **SMALL
        )
    ).save_pretrained(root / "qwen2_moe")
    # DeepSeek-MoE's names differ from Qwen2-MoE's in `shared_experts` (plural) and have no shared-expert gate.
    src = load_file(root / "qwen2_moe" / "model.safetensors")
    ds = {k.replace(".shared_expert.", ".shared_experts."): v for k, v in src.items() if "shared_expert_gate" not in k}
    (root / "deepseek").mkdir()
    save_file(ds, root / "deepseek" / "model.safetensors")
    return root


def _values(path):
    return load_file(next(path.glob("*.safetensors")))


@pytest.mark.parametrize("kind,experts,shared", [("mixtral", 3, False), ("qwen2_moe", 3, True), ("deepseek", 3, True)])
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
        np.testing.assert_array_equal(
            cm.tensors[f"model.layers.0.mlp.experts.2.{role}_proj.weight"].read(),
            src[f"model.layers.0.block_sparse_moe.experts.2.{w}.weight"],
        )


def test_moe_name_table():
    assert moe_canonical("model.layers.7.block_sparse_moe.experts.5.w2.weight") == (
        "model.layers.7.mlp.experts.5.down_proj.weight",
        "mixtral",
    )
    assert moe_canonical("model.layers.3.block_sparse_moe.gate.weight") == ("model.layers.3.mlp.gate.weight", "mixtral")
    assert (
        moe_canonical("model.layers.2.mlp.shared_experts.up_proj.weight")[0]
        == "model.layers.2.mlp.shared_expert.up_proj.weight"
    )
    assert moe_canonical("model.layers.2.mlp.up_proj.weight") is None  # a dense MLP is not an expert


# ------------------------------------------------------------------------------------------- llama.cpp GGUF MoE
def _write_moe_gguf(path, dense: dict, moe: dict, cfg, stacked: bool, experts: int) -> None:
    """A Mixtral-style GGUF written with gguf-py's GGUFWriter: the dense model's llama.cpp tensors (from
    provenance.examples.write_gguf, Q/K in Meta order) with the MLP replaced by experts — stacked
    ``ffn_*_exps [experts, rows, columns]`` or one ``ffn_*.{E}`` tensor per expert — and the router ffn_gate_inp."""
    import gguf

    from provenance.examples import gguf_llama_writer, write_gguf

    dense_path = path.with_suffix(".dense.gguf")
    write_gguf(dense_path, dense, cfg, qtype="F32")
    src = gguf.GGUFReader(str(dense_path))
    w = gguf_llama_writer(path, cfg)
    w.add_expert_count(experts)
    w.add_expert_used_count(2)
    for t in src.tensors:
        if ".ffn_gate." in t.name or ".ffn_up." in t.name or ".ffn_down." in t.name:
            continue
        w.add_tensor(t.name, np.array(t.data))
    for L in range(cfg.num_hidden_layers):
        p = f"model.layers.{L}.mlp."
        for role, gname in (("gate", "ffn_gate"), ("up", "ffn_up"), ("down", "ffn_down")):
            per = [moe[f"{p}experts.{e}.{role}_proj.weight"] for e in range(experts)]
            if stacked:
                w.add_tensor(f"blk.{L}.{gname}_exps.weight", np.ascontiguousarray(np.stack(per), np.float32))
            else:
                for e, x in enumerate(per):
                    w.add_tensor(f"blk.{L}.{gname}.{e}.weight", np.ascontiguousarray(x, np.float32))
        w.add_tensor(f"blk.{L}.ffn_gate_inp.weight", np.ascontiguousarray(moe[p + "gate.weight"], np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture(scope="module")
def gguf_moe(tmp_path_factory):
    from fingerprints import variants as V
    from fingerprints.toymodels import ToyConfig, zoo
    from provenance.examples import TinyLlamaConfig

    toy = ToyConfig()
    base = zoo(toy)["base"]
    moe = V.upcycle_moe(base, n_experts=3, relative=0.2, seed=2)
    cfg = TinyLlamaConfig(
        **{
            k: getattr(toy, k)
            for k in (
                "vocab_size",
                "hidden_size",
                "intermediate_size",
                "num_hidden_layers",
                "num_attention_heads",
                "num_key_value_heads",
                "rms_norm_eps",
                "rope_theta",
            )
        }
    )
    root = tmp_path_factory.mktemp("gguf_moe")
    for stacked in (True, False):
        _write_moe_gguf(root / f"moe-{'stacked' if stacked else 'split'}.gguf", base, moe, cfg, stacked, 3)
    (root / "dense").mkdir()
    save_file({k: np.ascontiguousarray(v) for k, v in base.items()}, root / "dense" / "model.safetensors")
    import json

    (root / "dense" / "config.json").write_text(json.dumps(toy.arch()))
    return root, moe


@pytest.mark.parametrize("layout", ["stacked", "split"])
def test_gguf_experts_are_read_expert_by_expert(gguf_moe, layout):
    root, moe = gguf_moe
    cm = normalize(open_checkpoint(root / f"moe-{layout}.gguf"), graph=False)
    assert cm.unmatched == [] and not [p for p in cm.problems if "expert" in p]
    for L in range(4):
        for e in range(3):
            for r in ("gate", "up", "down"):
                name = f"model.layers.{L}.mlp.experts.{e}.{r}_proj.weight"
                np.testing.assert_array_equal(cm.tensors[name].read(), moe[name])
        np.testing.assert_array_equal(
            cm.tensors[f"model.layers.{L}.mlp.gate.weight"].read(), moe[f"model.layers.{L}.mlp.gate.weight"]
        )


@pytest.mark.parametrize("layout", ["stacked", "split"])
def test_gguf_moe_against_its_dense_origin(gguf_moe, layout):
    from provenance.lineage import compare_paths

    root, _ = gguf_moe
    r = compare_paths(root / f"moe-{layout}.gguf", root / "dense")
    assert r["verdict"] == "derived" and r["log10_p_value"] <= -6
    assert "moe-upcycled" in r["relation"]
    assert all(len(e["experts"]) == 3 for e in r["layers"])
