"""Structural inference: tensors renamed to names no table knows (``net.blocks.3.mix.a``), no config."""

from __future__ import annotations

import numpy as np
import pytest
import transformers
from safetensors.numpy import load_file, save_file
from test_normalize_common import build, load_llama, logits, normalize_to, tiny_llama_config

from provenance.checkpoint import open_checkpoint
from provenance.cli.main import main
from provenance.normalize import normalize, write_canonical

# HF module order → opaque letters (order kept), and a scrambled assignment that defeats order.
IN_ORDER = {
    "input_layernorm": "a",
    "self_attn.q_proj": "b",
    "self_attn.k_proj": "c",
    "self_attn.v_proj": "d",
    "self_attn.o_proj": "e",
    "post_attention_layernorm": "f",
    "mlp.gate_proj": "g",
    "mlp.up_proj": "h",
    "mlp.down_proj": "i",
}
SCRAMBLED = {
    "input_layernorm": "f",
    "self_attn.q_proj": "h",
    "self_attn.k_proj": "a",
    "self_attn.v_proj": "e",
    "self_attn.o_proj": "b",
    "post_attention_layernorm": "c",
    "mlp.gate_proj": "i",
    "mlp.up_proj": "g",
    "mlp.down_proj": "d",
}


def opaque(name: str, letters: dict, globals_: dict) -> str:
    if name in globals_:
        return globals_[name]
    parts = name.split(".")
    layer, module = parts[2], ".".join(parts[3:-1])
    return f"net.blocks.{layer}.mix.{letters[module]}"


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    d = tmp_path_factory.mktemp("structural")
    model = build(transformers.LlamaForCausalLM, tiny_llama_config())
    model.save_pretrained(d / "hf")
    return d, model, load_file(str(d / "hf" / "model.safetensors"))


def _write(directory, sd, letters, globals_):
    directory.mkdir()
    save_file({opaque(k, letters, globals_): v for k, v in sd.items()}, str(directory / "model.safetensors"))
    return directory


def _exit(argv) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_fully_renamed_without_config(hf, tmp_path, capsys):
    d, model, sd = hf
    g = {"model.embed_tokens.weight": "net.a", "model.norm.weight": "net.b", "lm_head.weight": "net.c"}
    src = _write(tmp_path / "renamed", sd, IN_ORDER, g)
    cm = normalize(open_checkpoint(src))
    assert cm.family == "llama" and cm.unmatched == [] and cm.llama_compatible
    assert cm.arch.sources["head_dim"] == "unknown"
    assert any("head_dim" in p for p in cm.problems)
    assert _exit(["normalize", str(src), "-o", str(tmp_path / "refused")]) == 2
    assert "--head-dim" in capsys.readouterr().err
    cm = normalize(open_checkpoint(src), head_dim=8)
    assert not cm.problems
    by_target = {r.to: r for r in cm.renames}
    assert by_target["model.layers.0.input_layernorm.weight"].from_ == "net.blocks.0.mix.a"
    assert "Yi-style" in by_target["model.layers.0.input_layernorm.weight"].rule
    assert by_target["model.layers.1.self_attn.o_proj.weight"].from_ == "net.blocks.1.mix.e"
    assert by_target["model.layers.1.self_attn.o_proj.weight"].confidence == "low"
    assert by_target["model.embed_tokens.weight"].from_ == "net.a"
    assert all(r.rule.startswith("structural") for r in cm.renames)
    assert any("q/k/v/o/gate/up" in a for a in cm.ambiguities)  # what order decided is reported
    normalize_to(src, tmp_path / "out", "--head-dim", "8", "--rms-norm-eps", "1e-5")
    assert np.abs(logits(load_llama(tmp_path / "out")) - logits(model)).max() <= 1e-4


def test_scrambled_names_resolved_by_a_reference(hf, tmp_path):
    d, model, sd = hf
    g = {"model.embed_tokens.weight": "net.c", "model.norm.weight": "net.b", "lm_head.weight": "net.a"}
    src = _write(tmp_path / "scrambled", sd, SCRAMBLED, g)
    # The reference: the same architecture with its weights moved (a fine-tune, say), with HF names.
    rng = np.random.default_rng(1)
    ref_sd = {k: (v + 0.05 * v.std() * rng.standard_normal(v.shape)).astype(np.float32) for k, v in sd.items()}
    (tmp_path / "ref").mkdir()
    save_file(ref_sd, str(tmp_path / "ref" / "model.safetensors"))
    (tmp_path / "ref" / "config.json").write_text((d / "hf" / "config.json").read_text())
    cm = normalize(open_checkpoint(src), head_dim=8, reference=open_checkpoint(tmp_path / "ref"))
    cm.arch.set("rms_norm_eps", 1e-5, "metadata")  # invisible in weights (the CLI takes --rms-norm-eps)
    expected = {opaque(k, SCRAMBLED, g): k for k in sd}
    assert {r.from_: r.to for r in cm.renames} == expected
    assert all(r.confidence == "high" for r in cm.renames)
    write_canonical(cm, tmp_path / "out")
    assert np.abs(logits(load_llama(tmp_path / "out")) - logits(model)).max() <= 1e-4


def test_scrambled_stories260k(stories260k, tmp_path):
    """The real trained checkpoint, renamed and scrambled (Meta rotary order kept, no metadata)."""
    from test_normalize_formats import _llama2c_reference_logits

    ckpt = open_checkpoint(stories260k)
    meta = {
        "attention_norm": "input_layernorm",
        "attention.wq": "self_attn.q_proj",
        "attention.wk": "self_attn.k_proj",
        "attention.wv": "self_attn.v_proj",
        "attention.wo": "self_attn.o_proj",
        "ffn_norm": "post_attention_layernorm",
        "feed_forward.w1": "mlp.gate_proj",
        "feed_forward.w2": "mlp.down_proj",
        "feed_forward.w3": "mlp.up_proj",
    }
    out = {}
    for n, t in ckpt.tensors.items():
        if n.startswith("layers."):
            _, i, rest = n.split(".", 2)
            out[f"net.blocks.{i}.mix.{SCRAMBLED[meta[rest.removesuffix('.weight')]]}"] = t.read()
        elif n == "tok_embeddings.weight":
            out["net.a"] = t.read()
        elif n == "norm.weight":
            out["net.b"] = t.read()
    (tmp_path / "s").mkdir()
    save_file(out, str(tmp_path / "s" / "model.safetensors"))
    renamed = open_checkpoint(tmp_path / "s")
    alone = normalize(renamed, head_dim=8)
    assert alone.unmatched == [] and alone.ambiguities  # cannot be sure alone, and says so
    assert any(r.confidence == "low" for r in alone.renames)
    cm = normalize(renamed, head_dim=8, reference=ckpt)
    cm.arch.set("rms_norm_eps", 1e-5, "metadata")
    assert all(r.confidence == "high" for r in cm.renames), [r for r in cm.renames if r.confidence != "high"]
    assert any("interleaved (Meta) → half-split" in t for t in cm.transforms)
    write_canonical(cm, tmp_path / "out")
    tokens = [1, 403, 407, 261, 378, 30, 9, 13]
    ours = logits(load_llama(tmp_path / "out"), [tokens])[0]
    assert np.abs(ours - _llama2c_reference_logits(ckpt, tokens)).max() <= 1e-4
