"""Family detection, architectural traits, and the difference from the reference LLaMA.

The family comes from what the files declare (config.json ``model_type``/``architectures``, GGUF
``general.architecture``, params.json, the llama2.c header) and otherwise from the naming scheme that matched.
Traits are the facts that make a model differ from LLaMA beyond names and layout; the graph diff turns them into
plain words, through ``reference_impl.graph`` when that module is available.
"""

from __future__ import annotations

from typing import Any

FAMILIES = (
    "llama",
    "mistral",
    "qwen2",
    "qwen3",
    "gemma",
    "gemma2",
    "phi3",
    "internlm2",
    "baichuan",
    "qwen",
    "falcon",
    "gpt_neox",
    "gpt2",
    "olmo2",
    "chatglm",
    "unknown",
)

DISPLAY = {
    "llama": "LLaMA",
    "mistral": "Mistral",
    "qwen2": "Qwen2",
    "qwen3": "Qwen3",
    "gemma": "Gemma",
    "gemma2": "Gemma2",
    "phi3": "Phi-3",
    "internlm2": "InternLM2",
    "baichuan": "Baichuan",
    "qwen": "Qwen (v1)",
    "falcon": "Falcon",
    "gpt_neox": "GPT-NeoX",
    "gpt2": "GPT-2",
    "olmo2": "OLMo2",
    "chatglm": "ChatGLM",
    "unknown": "unknown",
}

# config.json model_type / GGUF general.architecture → family.
MODEL_TYPES = {
    "llama": "llama",
    "yi": "llama",
    "Yi": "llama",
    "deepseek": "llama",
    "mistral": "mistral",
    "qwen2": "qwen2",
    "qwen3": "qwen3",
    "gemma": "gemma",
    "gemma2": "gemma2",
    "phi3": "phi3",
    "internlm2": "internlm2",
    "baichuan": "baichuan",
    "qwen": "qwen",
    "falcon": "falcon",
    "RefinedWeb": "falcon",
    "RefinedWebModel": "falcon",
    "gpt_neox": "gpt_neox",
    "gptneox": "gpt_neox",
    "gpt2": "gpt2",
    "olmo2": "olmo2",
    "chatglm": "chatglm",
}

# config.json architectures[0] → family (remote-code models often carry only this).
ARCHITECTURES = {
    "LlamaForCausalLM": "llama",
    "YiForCausalLM": "llama",
    "MistralForCausalLM": "mistral",
    "Qwen2ForCausalLM": "qwen2",
    "Qwen3ForCausalLM": "qwen3",
    "GemmaForCausalLM": "gemma",
    "Gemma2ForCausalLM": "gemma2",
    "Phi3ForCausalLM": "phi3",
    "InternLM2ForCausalLM": "internlm2",
    "BaichuanForCausalLM": "baichuan",
    "QWenLMHeadModel": "qwen",
    "FalconForCausalLM": "falcon",
    "RWForCausalLM": "falcon",
    "GPTNeoXForCausalLM": "gpt_neox",
    "GPT2LMHeadModel": "gpt2",
    "Olmo2ForCausalLM": "olmo2",
    "ChatGLMModel": "chatglm",
    "ChatGLMForConditionalGeneration": "chatglm",
}

# Families whose blocks are LLaMA's once names and layouts are undone (conditions checked in traits).
LLAMA_LIKE = {"llama", "mistral", "phi3", "internlm2", "baichuan"}


def declared_family(metadata: dict[str, Any]) -> tuple[str | None, str | None]:
    """(family, where it was declared) from metadata, or (None, None)."""
    cfg = metadata.get("config")
    if isinstance(cfg, dict):
        for arch in cfg.get("architectures") or []:
            if arch in ARCHITECTURES:
                return ARCHITECTURES[arch], f"config.json architectures {arch}"
        mt = cfg.get("model_type")
        if mt in MODEL_TYPES:
            return MODEL_TYPES[mt], f"config.json model_type {mt}"
        if mt:
            return "unknown", f"config.json model_type {mt} (not a family this tool knows)"
    gguf = metadata.get("gguf")
    if isinstance(gguf, dict) and gguf.get("general.architecture"):
        arch = gguf["general.architecture"]
        return MODEL_TYPES.get(arch, "unknown"), f"GGUF general.architecture {arch}"
    if "params" in metadata:
        return "llama", "params.json"
    if "llama2c" in metadata:
        return "llama", "llama2.c header"
    return None, None


def has_language_model_signature(assigns: list[Any]) -> bool:
    """Whether role assignments made from shapes alone describe a transformer language model.

    Structural inference can give a role to any tensor whose shape fits (a CNN's ``fc.bias`` looks like a final norm
    gain), so a structure-only match counts as a language model only with a token embedding (or classifier) and at
    least one per-layer attention or MLP matrix; otherwise the checkpoint is family ``unknown``, every tensor
    unmatched.
    """
    has_vocab = any(a.role in ("embed", "lm_head") for a in assigns)
    has_block = any(a.layer is not None and a.role in _BLOCK_MATRICES for a in assigns)
    return has_vocab and has_block


_BLOCK_MATRICES = {"q", "k", "v", "o", "qkv", "gate", "up", "down", "gate_up"}


def traits_of(family: str, roles_present: set[str], values: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """Architectural traits (the vocabulary of the graph diff) from family, tensors and config."""
    t: dict[str, Any] = {}
    has_norm_bias = bool({"attn_norm_bias", "mlp_norm_bias", "final_norm_bias"} & roles_present)
    t["norm"] = "layernorm" if has_norm_bias or family in ("falcon", "gpt_neox", "gpt2") else "rmsnorm"
    t["mlp"] = "gated" if "gate" in roles_present else "plain"
    act = values.get("hidden_act")
    t["activation"] = act if act is not None else "unknown"
    t["qkv_bias"] = bool({"q_bias", "k_bias", "v_bias"} & roles_present)
    t["o_bias"] = "o_bias" in roles_present
    t["mlp_bias"] = bool({"gate_bias", "up_bias", "down_bias"} & roles_present)
    t["qk_norm"] = bool({"q_norm", "k_norm"} & roles_present)
    t["pre_norm"] = "attn_norm" in roles_present
    t["post_norms"] = bool({"attn_out_norm", "mlp_out_norm"} & roles_present)
    t["norm_offset"] = False  # Gemma's 1 + w is folded into the canonical gains (a layout, not an architecture)
    t["embedding_scale"] = family in ("gemma", "gemma2")
    t["positions"] = "learned" if "pos_embed" in roles_present else "rope"
    parallel = False
    if family == "falcon":
        parallel = bool(config.get("parallel_attn", True)) or bool(config.get("new_decoder_architecture"))
        if config.get("alibi"):
            t["positions"] = "alibi"
    if family == "gpt_neox":
        parallel = bool(config.get("use_parallel_residual", True))
    if family == "baichuan" and values.get("hidden_size") == 5120:
        # Baichuan-13B and Baichuan2-13B use ALiBi instead of rotary embeddings (baichuan-inc model cards).
        t["positions"] = "alibi"
    t["parallel_block"] = parallel
    prf = values.get("partial_rotary_factor")
    if family == "chatglm":
        prf = 0.5  # ChatGLM2/3 rotate half of each head's dimensions (modeling_chatglm.py RotaryEmbedding(dim/2))
    t["partial_rotary_factor"] = float(prf) if prf is not None else 1.0
    sw = values.get("sliding_window")
    use_sw = config.get("use_sliding_window", True) if family in ("qwen2", "qwen3") else True
    mpe = values.get("max_position_embeddings")
    t["sliding_window"] = sw if (sw and use_sw and (mpe is None or sw < mpe)) else None
    t["logit_softcapping"] = config.get("final_logit_softcapping") or config.get("attn_logit_softcapping")
    return t


# Trait → (LLaMA's value, words for a difference).
_LLAMA_TRAITS: list[tuple[str, Any, str]] = [
    ("norm", "rmsnorm", "uses LayerNorm where LLaMA uses RMSNorm"),
    ("mlp", "gated", "MLP is not gated (no gate projection) where LLaMA uses SwiGLU"),
    ("qkv_bias", False, "q/k/v projections have bias"),
    ("o_bias", False, "output projection has bias"),
    ("mlp_bias", False, "MLP projections have bias"),
    ("qk_norm", False, "normalises q and k (q_norm/k_norm)"),
    ("pre_norm", True, "has no pre-attention norm (post-norm blocks)"),
    ("post_norms", False, "normalises attention/MLP outputs (extra post-norms)"),
    ("embedding_scale", False, "scales embeddings by sqrt(hidden_size)"),
    ("positions", "rope", "position encoding is {value}, not rotary"),
    ("parallel_block", False, "attention and MLP run in parallel from one residual"),
    ("partial_rotary_factor", 1.0, "applies rotary embeddings to a fraction {value} of each head"),
    ("sliding_window", None, "uses sliding-window attention ({value} tokens)"),
    ("logit_softcapping", None, "soft-caps logits ({value})"),
]


def builtin_diff(traits: dict[str, Any]) -> list[str]:
    """Plain-words differences from the reference LLaMA, from traits alone."""
    out = []
    for key, llama_value, words in _LLAMA_TRAITS:
        v = traits.get(key)
        if v != llama_value and not (v is None and llama_value is None):
            out.append(words.format(value=v))
    act = traits.get("activation")
    if act not in ("silu", "swish", "unknown", None):
        out.append(f"activation is {act} where LLaMA uses silu")
    return sorted(out)


def graph_diff(
    shapes: dict[str, tuple[int, ...]], traits: dict[str, Any], values: dict[str, Any], llama_config: dict[str, Any]
) -> dict[str, Any]:
    """``{"identical", "differences", "source"}`` of the canonical inventory against the reference LLaMA.

    Uses ``reference_impl.graph`` (reference graph traced from the reference model, inventory graph from the
    canonical names/shapes plus traits) when that module is importable; otherwise the trait diff above.
    ``llama_config`` is plain LLaMA with this model's sizes and hyperparameters, so only architecture differs.
    """
    result: dict[str, Any] = {"source": "traits"}
    differences = builtin_diff(traits)
    try:
        from reference_impl import graph as rg  # lazy: another room; may be absent
        from reference_impl.model import LlamaConfig
    except ImportError:
        rg = None
    if rg is not None:
        try:
            ref = rg.reference_graph(LlamaConfig.from_hf(llama_config))
            inv_traits = {k: v for k, v in {**values, **traits}.items() if v is not None and v != "unknown"}
            other = rg.graph_from_inventory(shapes, inv_traits)
            differences = list(rg.diff(ref, other))
            result["source"] = "reference_impl.graph"
        except Exception as exc:  # noqa: BLE001 - the diff is evidence, not a reason to fail a report
            result["note"] = f"reference graph failed ({type(exc).__name__}: {exc}); trait diff used"
    diffs = sorted(set(differences))
    result.update({"identical": not diffs, "differences": diffs})
    return result
