"""PEFT adapters written by peft's own save_pretrained (safetensors and .bin)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from provenance.checkpoint import open_checkpoint
from provenance.errors import InputError

BASE = "example-org/tiny-llama-base"


@pytest.fixture(scope="module")
def adapter_dirs(tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        vocab_size=128,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    model.name_or_path = BASE  # set by from_pretrained; peft records it as base_model_name_or_path
    peft_model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    root = tmp_path_factory.mktemp("peft")
    # save_embedding_layers=False: the default "auto" looks the base model up on the Hub; tests stay offline.
    peft_model.save_pretrained(root / "st", save_embedding_layers=False)
    peft_model.save_pretrained(root / "bin", safe_serialization=False, save_embedding_layers=False)
    expected = {k: v.detach().clone() for k, v in peft_model.state_dict().items() if "lora_" in k}
    return root / "st", root / "bin", expected


def _check(ck, expected):
    assert ck.format == "peft"
    a = ck.adapter
    assert (a.base_model, a.rank, a.alpha, a.peft_type) == (BASE, 4, 8.0, "LORA")
    assert a.target_modules == ["q_proj", "v_proj"]
    assert ck.metadata["adapter_config"]["r"] == 4
    assert len(ck.tensors) == 2 * 2 * 2  # layers × (q, v) × (A, B)
    for name, ref in ck.tensors.items():
        # peft stores `base_model.model.<module>.lora_A.weight`; the live state dict adds the adapter name.
        live = name.replace(".lora_A.weight", ".lora_A.default.weight").replace(
            ".lora_B.weight", ".lora_B.default.weight"
        )
        np.testing.assert_array_equal(ref.read(), expected[live].numpy())
    a_ref = ck["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"]
    assert a_ref.shape == (4, 32)


def test_safetensors_adapter(adapter_dirs):
    st, _, expected = adapter_dirs
    ck = open_checkpoint(st)
    _check(ck, expected)
    assert [f.name for f in ck.files] == ["adapter_config.json", "adapter_model.safetensors"]
    assert not ck.warnings


def test_bin_adapter(adapter_dirs):
    _, b, expected = adapter_dirs
    _check(open_checkpoint(b), expected)


def test_adapter_weights_file_opened_directly(adapter_dirs):
    st, _, expected = adapter_dirs
    _check(open_checkpoint(st / "adapter_model.safetensors"), expected)


def test_inspect_report_shows_adapter(adapter_dirs):
    from provenance.inspect import inspect_report

    rep = inspect_report(open_checkpoint(adapter_dirs[0]))
    assert rep["adapter"] == {
        "base_model": BASE,
        "rank": 4,
        "alpha": 8.0,
        "peft_type": "LORA",
        "target_modules": ["q_proj", "v_proj"],
    }
    json.dumps(rep, default=str)


def test_config_without_weights(tmp_path):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    with pytest.raises(InputError, match="no adapter weights"):
        open_checkpoint(tmp_path)
