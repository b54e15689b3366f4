"""Real transformers models of each family (tiny configs, save_pretrained) → family, compatibility, ArchSpec, renames.

LLaMA-compatible families (LLaMA, Mistral without a sliding window, Phi-3 after unfusing) are also written back
and must give the original model's logits from stock LlamaForCausalLM.
"""

from __future__ import annotations

import numpy as np
import pytest
import transformers
from test_normalize_common import build, load_llama, logits

from provenance.checkpoint import open_checkpoint
from provenance.normalize import normalize, write_canonical

SMALL = dict(
    vocab_size=64,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=64,
)
IDS = dict(pad_token_id=0, bos_token_id=1, eos_token_id=2)

# (case, model class, config, family, llama_compatible, expected architecture values, expected renames per layer)
CASES = [
    (
        "llama",
        transformers.LlamaForCausalLM,
        transformers.LlamaConfig(**SMALL, num_key_value_heads=2),
        "llama",
        True,
        {"num_key_value_heads": 2, "head_dim": 8, "hidden_act": "silu"},
        set(),
    ),
    (
        "mistral",
        transformers.MistralForCausalLM,
        transformers.MistralConfig(**SMALL, num_key_value_heads=2, sliding_window=None),
        "mistral",
        True,
        {"num_key_value_heads": 2, "intermediate_size": 48},
        set(),
    ),
    (
        "mistral_window",
        transformers.MistralForCausalLM,
        transformers.MistralConfig(**SMALL, num_key_value_heads=2, sliding_window=16),
        "mistral",
        False,
        {"sliding_window": 16},
        set(),
    ),
    (
        "qwen2",
        transformers.Qwen2ForCausalLM,
        transformers.Qwen2Config(**SMALL, num_key_value_heads=2),
        "qwen2",
        False,
        {"attention_bias": True, "num_key_value_heads": 2},
        set(),
    ),
    (
        "qwen3",
        transformers.Qwen3ForCausalLM,
        transformers.Qwen3Config(**SMALL, num_key_value_heads=2, head_dim=16),
        "qwen3",
        False,
        {"head_dim": 16, "num_attention_heads": 4},
        set(),
    ),
    (
        "gemma",
        transformers.GemmaForCausalLM,
        transformers.GemmaConfig(**SMALL, num_key_value_heads=1, head_dim=16),
        "gemma",
        False,
        {"tie_word_embeddings": True, "hidden_act": "gelu_pytorch_tanh", "head_dim": 16},
        set(),
    ),
    (
        "gemma2",
        transformers.Gemma2ForCausalLM,
        transformers.Gemma2Config(**SMALL, num_key_value_heads=2, head_dim=16),
        "gemma2",
        False,
        {"head_dim": 16},
        {
            ("post_attention_layernorm", "post_attention_output_layernorm"),
            ("pre_feedforward_layernorm", "post_attention_layernorm"),
        },
    ),
    (
        "phi3",
        transformers.Phi3ForCausalLM,
        transformers.Phi3Config(**SMALL, num_key_value_heads=2, **IDS),
        "phi3",
        True,
        {"num_key_value_heads": 2, "intermediate_size": 48},
        {
            ("qkv_proj", "q_proj"),
            ("qkv_proj", "k_proj"),
            ("qkv_proj", "v_proj"),
            ("gate_up_proj", "gate_proj"),
            ("gate_up_proj", "up_proj"),
        },
    ),
    (
        "gpt_neox",
        transformers.GPTNeoXForCausalLM,
        transformers.GPTNeoXConfig(**SMALL),
        "gpt_neox",
        False,
        {"partial_rotary_factor": 0.25, "num_key_value_heads": 4, "hidden_act": "gelu"},
        None,
    ),
    (
        "falcon",
        transformers.FalconForCausalLM,
        transformers.FalconConfig(
            vocab_size=64,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            new_decoder_architecture=True,
            num_kv_heads=2,
        ),
        "falcon",
        False,
        {"num_key_value_heads": 2, "intermediate_size": 128},
        None,
    ),
    (
        "falcon_mq",
        transformers.FalconForCausalLM,
        transformers.FalconConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4),
        "falcon",
        False,
        {"num_key_value_heads": 1},
        None,
    ),
    (
        "gpt2",
        transformers.GPT2LMHeadModel,
        transformers.GPT2Config(
            vocab_size=64, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=1, eos_token_id=2
        ),
        "gpt2",
        False,
        {"hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 64},
        None,
    ),
    (
        "olmo2",
        transformers.Olmo2ForCausalLM,
        transformers.Olmo2Config(**SMALL, num_key_value_heads=2, **IDS),
        "olmo2",
        False,
        {"num_key_value_heads": 2},
        {("post_attention_layernorm", "post_attention_output_layernorm")},
    ),
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    out = {}
    for case, cls, cfg, *_ in CASES:
        model = build(cls, cfg)
        model.save_pretrained(root / case)
        out[case] = (root / case, model)
    return out


def _per_layer_renames(cm) -> set[tuple[str, str]]:
    from provenance.normalize.canonical import _short

    return {_short(r.from_, r.to) for r in cm.renames if r.from_.startswith("model.layers.")}


@pytest.mark.parametrize("case,cls,cfg,family,compatible,values,renames", CASES, ids=[c[0] for c in CASES])
def test_family_architecture_and_renames(saved, tmp_path, case, cls, cfg, family, compatible, values, renames):
    path, model = saved[case]
    cm = normalize(open_checkpoint(path))
    assert cm.family == family
    assert cm.llama_compatible is compatible, cm.incompatible
    assert cm.unmatched == []
    for key, value in values.items():
        assert cm.arch.values[key] == value, key
    assert cm.arch.values["num_hidden_layers"] == 2
    assert cm.graph_diff["identical"] is compatible
    if renames is not None:
        assert _per_layer_renames(cm) == renames
    # Every canonical weight has the HF LLaMA (or family-extra) name and [out, in] orientation.
    h = cm.arch.values["hidden_size"]
    for name, t in cm.tensors.items():
        if name.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight", "gate_proj.weight", "up_proj.weight")):
            assert t.shape[1] == h, name
        if name.endswith(("o_proj.weight", "down_proj.weight")):
            assert t.shape[0] == h, name
    if compatible:
        write_canonical(cm, tmp_path / "out")
        assert np.abs(logits(load_llama(tmp_path / "out")) - logits(model)).max() <= 1e-4
    else:
        assert cm.graph_diff["differences"]


def test_fused_qkv_splits_reassemble_the_source(saved):
    """q/k/v taken out of each fused layout put back in that layout give the stored tensor exactly."""
    for case, fused_name, layout in [
        ("gpt_neox", "gpt_neox.layers.0.attention.query_key_value.weight", "neox"),
        ("falcon", "transformer.h.0.self_attention.query_key_value.weight", "grouped"),
        ("phi3", "model.layers.0.self_attn.qkv_proj.weight", "contiguous"),
    ]:
        path, _ = saved[case]
        cm = normalize(open_checkpoint(path))
        a = cm.arch.values
        q, k, v = (cm.tensors[f"model.layers.0.self_attn.{p}_proj.weight"].read() for p in "qkv")
        hd, nh, nkv = a["head_dim"], a["num_attention_heads"], a["num_key_value_heads"]
        if layout == "neox":
            rebuilt = np.stack([q.reshape(nh, hd, -1), k.reshape(nh, hd, -1), v.reshape(nh, hd, -1)], 1)
        elif layout == "grouped":
            g = nh // nkv
            rebuilt = np.concatenate(
                [q.reshape(nkv, g, hd, -1), k.reshape(nkv, 1, hd, -1), v.reshape(nkv, 1, hd, -1)], 1
            )
        else:
            rebuilt = np.concatenate([q, k, v])
        assert np.array_equal(rebuilt.reshape(-1, q.shape[1]), cm.source.tensors[fused_name].read()), case


def test_gpt2_conv1d_is_transposed(saved):
    path, model = saved["gpt2"]
    cm = normalize(open_checkpoint(path))
    w = model.transformer.h[0].mlp.c_fc.weight.detach().numpy()  # Conv1D [in, out]
    assert np.array_equal(cm.tensors["model.layers.0.mlp.up_proj.weight"].read(), w.T)
    assert any("Conv1D" in t for t in cm.transforms)


def test_gemma_norm_offset_is_folded(saved):
    path, model = saved["gemma"]
    cm = normalize(open_checkpoint(path))
    w = model.model.layers[0].input_layernorm.weight.detach().numpy()
    assert np.allclose(cm.tensors["model.layers.0.input_layernorm.weight"].read(), 1.0 + w)
    assert cm.tied and "lm_head.weight" in cm.tensors
