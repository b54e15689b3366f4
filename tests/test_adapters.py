"""PEFT LoRA adapters applied to a given base (``compare ADAPTER BASE``), made by the real ``peft`` library on tiny
transformers Llamas; peft's own ``merge_and_unload`` is the oracle for the merged weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from provenance.cli.main import main
from provenance.errors import InputError

LCFG = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    intermediate_size=128,
    vocab_size=256,
)


def _llama(seed: int, **over):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(**dict(LCFG, **over)))


def _adapter(model, out: Path, **lora) -> dict:
    """Save an adapter of ``model`` with peft; return peft's merged state dict (the oracle)."""
    from peft import LoraConfig, get_peft_model

    pm = get_peft_model(model, LoraConfig(init_lora_weights=False, **lora))
    pm.save_pretrained(out, save_embedding_layers=False)
    merged = pm.merge_and_unload()
    return {k: v.detach().float().numpy().copy() for k, v in merged.state_dict().items()}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    _llama(0).save_pretrained(root / "base")
    _llama(1).save_pretrained(root / "other")  # an independent model of the same shape
    _llama(2, hidden_size=32).save_pretrained(root / "narrow")
    oracles = {
        "plain": _adapter(
            _llama(0), root / "plain", r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]
        ),
        "patterns": _adapter(
            _llama(0),
            root / "patterns",
            r=4,
            lora_alpha=16,
            use_rslora=True,
            target_modules=["q_proj", "k_proj", "up_proj", "gate_proj"],
            rank_pattern={"k_proj": 2},
            alpha_pattern={"up_proj": 3},
        ),
        "embedding": _adapter(
            _llama(0), root / "embedding", r=2, lora_alpha=4, target_modules=["embed_tokens", "o_proj"]
        ),
    }
    return root, oracles


def _base_tensors(path: Path):
    from provenance.checkpoint import open_checkpoint
    from provenance.lineage import canonical_tensors

    tensors, arch, _ = canonical_tensors(open_checkpoint(path))
    return tensors, arch


@pytest.mark.parametrize("name", ["plain", "patterns", "embedding"])
def test_applied_adapter_equals_peft_merge(made, name):
    from fingerprints.canon import as_array
    from provenance.adapters import apply_adapter

    root, oracles = made
    base, arch = _base_tensors(root / "base")
    merged, facts = apply_adapter(root / name, base, arch)
    oracle = oracles[name]
    changed = 0
    for k, v in oracle.items():
        got = as_array(merged[k])
        np.testing.assert_allclose(got, v, rtol=1e-5, atol=1e-6, err_msg=k)
        changed += not np.array_equal(as_array(base[k]), v)
    assert facts["tensors_changed"] == changed > 0
    assert facts["peft_type"] == "LORA"


def test_adapter_facts_follow_the_config(made):
    from provenance.adapters import apply_adapter

    root, _ = made
    base, arch = _base_tensors(root / "base")
    _, facts = apply_adapter(root / "patterns", base, arch)
    assert facts["rank"] == [2, 4] and facts["alpha"] == [3.0, 16.0] and facts["use_rslora"] is True
    assert facts["target_modules"] == ["gate_proj", "k_proj", "q_proj", "up_proj"]
    assert facts["low_rank_updates"] == 2 * 4


def _cli(argv, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("fingerprint_only", [False, True])
def test_compare_adapter_base_reports_relation_adapter(made, capsys, fingerprint_only):
    root, _ = made
    extra = ["--fingerprint-only"] if fingerprint_only else []
    code, out, err = _cli(["compare", root / "plain", root / "base", "--format", "json", *extra], capsys)
    assert code == 0, err
    r = json.loads(out)
    assert r["verdict"] == "derived" and r["p_value"] <= 1e-6
    assert "adapter" in r["relation"]
    a = r["adapter"]
    assert (a["rank"], a["alpha"], a["side"], a["tensors_changed"]) == (4, 8.0, "suspect", 6)
    assert a["target_modules"] == ["down_proj", "q_proj", "v_proj"]


def test_adapter_on_the_reference_side_too(made, capsys):
    root, _ = made
    code, out, err = _cli(["compare", root / "base", root / "plain", "--format", "json"], capsys)
    assert code == 0, err
    r = json.loads(out)
    assert r["verdict"] == "derived" and r["adapter"]["side"] == "reference" and "adapter" in r["relation"]


def test_adapter_applied_to_an_independent_model_is_not_derived_from_the_base(made, capsys):
    """The adapter changes little: applied to an unrelated model, the result is that model, not the base's kin."""
    root, _ = made
    code, out, err = _cli(["compare", root / "plain", root / "base", "--format", "json"], capsys)
    base_rel = json.loads(out)
    # apply to `other`, compare with `base`: the adapted `other` has nothing of `base`
    from fingerprints.deep import deep_compare
    from fingerprints.verdict import verdict
    from provenance.adapters import apply_adapter

    other, arch = _base_tensors(root / "other")
    adapted, _ = apply_adapter(root / "plain", other, arch)
    base, _ = _base_tensors(root / "base")
    res = deep_compare(base, arch, adapted, arch)
    assert verdict(res["log10_p"]) != "derived" and verdict(res["fingerprint"]["log10_p"]) != "derived"
    assert base_rel["verdict"] == "derived"


def test_shapes_that_do_not_fit_are_one_line_exit_2(made, capsys):
    root, _ = made
    code, out, err = _cli(["compare", root / "plain", root / "narrow"], capsys)
    assert code == 2 and out == ""
    line = err.strip()
    assert "\n" not in line and "Traceback" not in err
    assert "needs a 64×128 weight, the base has 32×128" in line and "model.layers.0." in line


def test_declared_base_model_is_never_opened(made, capsys, tmp_path):
    """base_model_name_or_path pointing at another real model: the base given on the command line is used."""
    import shutil

    root, _ = made
    adapter = tmp_path / "adapter"
    shutil.copytree(root / "plain", adapter)
    cfg_path = adapter / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = str(root / "other")
    cfg_path.write_text(json.dumps(cfg))
    code, out, err = _cli(["compare", adapter, root / "base", "--format", "json"], capsys)
    assert code == 0, err
    r = json.loads(out)
    assert r["verdict"] == "derived" and r["adapter"]["base_model_declared"] == str(root / "other")
    cfg["base_model_name_or_path"] = "/nonexistent/../../etc/passwd"
    cfg_path.write_text(json.dumps(cfg))
    code, out, err = _cli(["compare", adapter, root / "base", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["verdict"] == "derived", err


def test_rank_contradicting_the_config_is_refused(made, tmp_path):
    import shutil

    from provenance.adapters import apply_adapter

    root, _ = made
    adapter = tmp_path / "adapter"
    shutil.copytree(root / "plain", adapter)
    cfg_path = adapter / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["r"] = 8
    cfg_path.write_text(json.dumps(cfg))
    base, arch = _base_tensors(root / "base")
    with pytest.raises(InputError, match="rank 4 in the tensors, 8 in adapter_config.json"):
        apply_adapter(adapter, base, arch)


def test_two_adapters_or_an_adapter_and_a_fingerprint_are_refused(made, capsys, tmp_path):
    root, _ = made
    code, _, err = _cli(["compare", root / "plain", root / "embedding"], capsys)
    assert code == 2 and "both sides are PEFT adapters" in err
    fp = tmp_path / "base.fp"
    code, _, err = _cli(["fingerprint", root / "base", "-o", fp], capsys)
    assert code == 0, err
    code, _, err = _cli(["compare", root / "plain", fp], capsys)
    assert code == 2 and "not to a fingerprint file" in err
    code, _, err = _cli(["fingerprint", root / "plain", "-o", tmp_path / "a.fp"], capsys)
    assert code == 2  # an adapter alone has no fingerprint
