"""normalize on Hugging Face safetensors checkpoints: canonical, Yi-style, sharded, bf16; refusals; inspect fields."""

from __future__ import annotations

import json

import numpy as np
import pytest
import transformers
from test_normalize_common import build, load_llama, logits, normalize_to, rewrite_safetensors, tiny_llama_config

from provenance.checkpoint import open_checkpoint
from provenance.cli.main import main
from provenance.normalize import normalize


@pytest.fixture(scope="module")
def hf_llama(tmp_path_factory):
    d = tmp_path_factory.mktemp("hf")
    model = build(transformers.LlamaForCausalLM, tiny_llama_config())
    model.save_pretrained(d / "llama")
    return d / "llama", model


def _exit_code(argv) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_hf_llama_is_already_canonical(hf_llama, tmp_path):
    src, model = hf_llama
    cm = normalize(open_checkpoint(src))
    assert (cm.family, cm.llama_compatible, cm.renames, cm.unmatched) == ("llama", True, [], [])
    assert cm.graph_diff["identical"] is True
    assert cm.arch.values["num_key_value_heads"] == 2 and cm.arch.sources["head_dim"] == "metadata"
    normalize_to(src, tmp_path / "out")
    assert np.abs(logits(load_llama(tmp_path / "out")) - logits(model)).max() <= 1e-4


def test_yi_style_norm_names_map_to_llama_roles(hf_llama, tmp_path):
    src, model = hf_llama
    cfg = json.loads((src / "config.json").read_text())
    cfg.update({"architectures": ["YiForCausalLM"], "model_type": "Yi"})
    yi = rewrite_safetensors(
        src,
        tmp_path / "yi",
        lambda n: n.replace("input_layernorm", "ln1").replace("post_attention_layernorm", "ln2"),
        cfg,
    )
    cm = normalize(open_checkpoint(yi))
    assert cm.family == "llama" and cm.llama_compatible and not cm.unmatched
    assert {(r.from_, r.to) for r in cm.renames} == {
        (f"model.layers.{i}.{a}.weight", f"model.layers.{i}.{b}.weight")
        for i in range(2)
        for a, b in (("ln1", "input_layernorm"), ("ln2", "post_attention_layernorm"))
    }
    assert cm.summary_lines()[0] == (
        "LLaMA architecture; 2 tensor names differ per layer: ln1 → input_layernorm, ln2 → post_attention_layernorm"
    )
    normalize_to(yi, tmp_path / "out")
    assert np.abs(logits(load_llama(tmp_path / "out")) - logits(model)).max() <= 1e-4


def test_yi_style_without_config_uses_the_structural_norm_rule(hf_llama, tmp_path):
    src, model = hf_llama
    cfg = json.loads((src / "config.json").read_text())
    # Unknown norm names, HF config kept: the scheme explains everything else, the Yi-style rule the norms.
    odd = rewrite_safetensors(
        src,
        tmp_path / "odd",
        lambda n: n.replace("input_layernorm", "norm_a").replace("post_attention_layernorm", "norm_b"),
        cfg,
    )
    cm = normalize(open_checkpoint(odd))
    norm_renames = [r for r in cm.renames if "norm_" in r.from_]
    assert len(norm_renames) == 4 and all("Yi-style" in r.rule for r in norm_renames)
    assert all(r.confidence == "medium" for r in norm_renames)
    normalize_to(odd, tmp_path / "out")
    assert np.abs(logits(load_llama(tmp_path / "out")) - logits(model)).max() <= 1e-4


def test_sharded_input_and_sharded_output(tmp_path):
    model = build(transformers.LlamaForCausalLM, tiny_llama_config(tie_word_embeddings=True))
    model.save_pretrained(tmp_path / "in", max_shard_size="20KB")
    assert (tmp_path / "in" / "model.safetensors.index.json").is_file()
    cm = normalize(open_checkpoint(tmp_path / "in"))
    assert cm.tied and cm.llama_compatible and "lm_head.weight" in cm.tensors
    normalize_to(tmp_path / "in", tmp_path / "out", "--max-shard-size", "30KB")
    index = json.loads((tmp_path / "out" / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) > 1
    assert np.abs(logits(load_llama(tmp_path / "out")) - logits(model)).max() <= 1e-4


def test_bf16_input_keeps_dtype(tmp_path):
    import copy

    import torch

    reference = build(transformers.LlamaForCausalLM, tiny_llama_config())
    with torch.no_grad():  # the float32 model whose weights are exactly the bf16 values stored
        for p in reference.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    copy.deepcopy(reference).to(torch.bfloat16).save_pretrained(tmp_path / "in")
    normalize_to(tmp_path / "in", tmp_path / "out", "--dtype", "keep")
    header = json.loads((tmp_path / "out" / "model.safetensors").read_bytes()[8:][:4000].split(b"}}")[0] + b"}}")
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"BF16"}
    assert np.abs(logits(load_llama(tmp_path / "out")) - logits(reference)).max() <= 1e-4


def test_refuses_a_model_that_is_not_llama(tmp_path, capsys):
    cfg = transformers.Qwen2Config(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
    )
    build(transformers.Qwen2ForCausalLM, cfg).save_pretrained(tmp_path / "qwen2")
    assert _exit_code(["normalize", str(tmp_path / "qwen2"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "not LLaMA-compatible" in err and "bias" in err
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_unmatched_tensor_is_listed_and_refused(hf_llama, tmp_path, capsys):
    src, _ = hf_llama
    from safetensors.numpy import load_file, save_file

    sd = load_file(str(src / "model.safetensors"))
    sd["model.extra_adapter.weight"] = np.ones((3, 5), np.float32)
    (tmp_path / "x").mkdir()
    save_file(sd, str(tmp_path / "x" / "model.safetensors"))
    (tmp_path / "x" / "config.json").write_text((src / "config.json").read_text())
    cm = normalize(open_checkpoint(tmp_path / "x"))
    assert cm.unmatched == ["model.extra_adapter.weight"] and not cm.llama_compatible
    assert _exit_code(["normalize", str(tmp_path / "x"), "-o", str(tmp_path / "out")]) == 2
    assert "model.extra_adapter.weight" in capsys.readouterr().err


def test_non_finite_weights_are_refused_and_no_shard_is_left(hf_llama, tmp_path, capsys):
    src, _ = hf_llama
    from safetensors.numpy import load_file, save_file

    sd = load_file(str(src / "model.safetensors"))
    sd["model.layers.1.mlp.up_proj.weight"][3, 4] = np.inf
    (tmp_path / "x").mkdir()
    save_file(sd, str(tmp_path / "x" / "model.safetensors"))
    (tmp_path / "x" / "config.json").write_text((src / "config.json").read_text())
    assert _exit_code(["normalize", str(tmp_path / "x"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("provenance: error: ") and "model.safetensors" in err
    assert "model.layers.1.mlp.up_proj.weight" in err and "non-finite" in err and "Traceback" not in err
    assert not (tmp_path / "out" / "model.safetensors").exists()


def test_output_directory_must_be_empty_unless_forced(hf_llama, tmp_path):
    src, _ = hf_llama
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    assert _exit_code(["normalize", str(src), "-o", str(tmp_path / "out")]) == 2
    assert _exit_code(["normalize", str(src), "-o", str(tmp_path / "out"), "--force"]) == 0


def test_inspect_json_has_normalization_fields(hf_llama, tmp_path, capsys):
    src, _ = hf_llama
    assert _exit_code(["inspect", str(src), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["family"] == "llama" and report["llama_compatible"] is True
    assert report["architecture"]["hidden_size"] == 32 and report["renames"] == [] and report["unmatched"] == []
    assert report["graph_diff"] == {**report["graph_diff"], "identical": True, "differences": []}
    assert _exit_code(["inspect", str(src)]) == 0
    assert "LLaMA architecture; tensor names already canonical" in capsys.readouterr().out


def test_inspect_of_non_llm_tensors_reports_unknown(tmp_path, capsys):
    from safetensors.numpy import save_file

    save_file(
        {"conv.weight": np.ones((4, 3, 3, 3), np.float32), "fc.bias": np.zeros(7, np.float32)},
        str(tmp_path / "vision.safetensors"),
    )
    assert _exit_code(["inspect", str(tmp_path / "vision.safetensors"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["family"] == "unknown" and report["llama_compatible"] is False
    assert report["unmatched"] == ["conv.weight", "fc.bias"]
    assert _exit_code(["normalize", str(tmp_path / "vision.safetensors"), "-o", str(tmp_path / "o")]) == 2


def test_peft_adapter_names_map_to_canonical_modules(tmp_path):
    import peft

    model = build(transformers.LlamaForCausalLM, tiny_llama_config())
    peft.get_peft_model(model, peft.LoraConfig(r=2, target_modules=["q_proj", "v_proj"])).save_pretrained(
        tmp_path / "adapter"
    )
    cm = normalize(open_checkpoint(tmp_path / "adapter"))
    assert cm.unmatched == [] and not cm.llama_compatible
    assert (
        "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight",
        "model.layers.1.self_attn.v_proj.lora_B.weight",
    ) in {(r.from_, r.to) for r in cm.renames}
    assert all("PEFT wrapper prefix" in r.rule for r in cm.renames)
    assert cm.summary_lines()[0].startswith("adapter weights (no base model)")
