"""ArchSpec: the architecture in Hugging Face config field names, each value with where it came from.

Values come from metadata first (config.json, params.json, GGUF key-values, the llama2.c header), then from
tensor shapes. What neither can tell (activation, rope theta, norm eps …) is recorded as unknown rather than
guessed; :meth:`ArchSpec.to_hf_config` fills those with LLaMA's defaults and :attr:`ArchSpec.defaulted` says which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

METADATA, INFERRED, UNKNOWN = "metadata", "inferred", "unknown"

# LlamaConfig defaults (transformers configuration_llama.py) used when a value cannot be known.
LLAMA_DEFAULTS: dict[str, Any] = {
    "hidden_act": "silu",
    "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0,
    "max_position_embeddings": 2048,
}

# HF config.json aliases across families: canonical field → names used by some family's config.
CONFIG_ALIASES: dict[str, tuple[str, ...]] = {
    "hidden_size": ("hidden_size", "n_embd", "d_model"),
    "num_hidden_layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "num_attention_heads": ("num_attention_heads", "n_head"),
    "num_key_value_heads": ("num_key_value_heads", "num_kv_heads", "multi_query_group_num"),
    "head_dim": ("head_dim", "kv_channels"),
    "intermediate_size": ("intermediate_size", "n_inner", "ffn_hidden_size"),
    "vocab_size": ("vocab_size", "padded_vocab_size"),
    "tie_word_embeddings": ("tie_word_embeddings",),
    "rms_norm_eps": ("rms_norm_eps", "layer_norm_epsilon", "layer_norm_eps", "layernorm_epsilon"),
    "rope_theta": ("rope_theta", "rotary_emb_base", "rotary_base"),
    "rope_scaling": ("rope_scaling",),
    "attention_bias": ("attention_bias",),
    "mlp_bias": ("mlp_bias",),
    "hidden_act": ("hidden_act", "hidden_activation", "activation_function", "activation"),
    "max_position_embeddings": ("max_position_embeddings", "n_positions", "seq_length", "max_sequence_length"),
    "bos_token_id": ("bos_token_id",),
    "eos_token_id": ("eos_token_id",),
    "sliding_window": ("sliding_window",),
    "partial_rotary_factor": ("partial_rotary_factor", "rotary_pct"),
}

# Meta params.json (facebookresearch/llama ModelArgs) → HF field.
PARAMS_KEYS = {
    "dim": "hidden_size",
    "n_layers": "num_hidden_layers",
    "n_heads": "num_attention_heads",
    "n_kv_heads": "num_key_value_heads",
    "vocab_size": "vocab_size",
    "norm_eps": "rms_norm_eps",
    "rope_theta": "rope_theta",
    "max_seq_len": "max_position_embeddings",
}

# llama2.c header (karpathy/llama2.c run.c Config) → HF field.
LLAMA2C_KEYS = {
    "dim": "hidden_size",
    "hidden_dim": "intermediate_size",
    "n_layers": "num_hidden_layers",
    "n_heads": "num_attention_heads",
    "n_kv_heads": "num_key_value_heads",
    "vocab_size": "vocab_size",
    "seq_len": "max_position_embeddings",
}

# GGUF `{arch}.*` keys (gguf-py constants.py Keys.LLM / Keys.Attention / Keys.Rope) → HF field.
GGUF_KEYS = {
    "embedding_length": "hidden_size",
    "block_count": "num_hidden_layers",
    "attention.head_count": "num_attention_heads",
    "attention.head_count_kv": "num_key_value_heads",
    "attention.key_length": "head_dim",
    "feed_forward_length": "intermediate_size",
    "vocab_size": "vocab_size",
    "attention.layer_norm_rms_epsilon": "rms_norm_eps",
    "attention.layer_norm_epsilon": "rms_norm_eps",
    "rope.freq_base": "rope_theta",
    "context_length": "max_position_embeddings",
    "attention.sliding_window": "sliding_window",
}

# Fields a LlamaConfig understands (transformers configuration_llama.py); to_hf_config writes only these.
LLAMA_CONFIG_FIELDS = (
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "vocab_size",
    "tie_word_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "rope_scaling",
    "attention_bias",
    "mlp_bias",
    "hidden_act",
    "max_position_embeddings",
    "bos_token_id",
    "eos_token_id",
)


@dataclass
class ArchSpec:
    """Architecture values by HF config field name; ``sources[field]`` is "metadata", "inferred" or "unknown"."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def set(self, key: str, value: Any, source: str) -> None:
        self.values[key] = value
        self.sources[key] = source

    def get(self, key: str, default: Any = None) -> Any:
        v = self.values.get(key)
        return default if v is None else v

    def known(self, key: str) -> bool:
        return self.sources.get(key, UNKNOWN) != UNKNOWN and self.values.get(key) is not None

    @property
    def defaulted(self) -> list[str]:
        """Fields that to_hf_config fills with LLaMA defaults because the files do not say."""
        return sorted(k for k in LLAMA_DEFAULTS if not self.known(k))

    def to_hf_config(self) -> dict[str, Any]:
        """A LlamaConfig-compatible config.json dict (unknown values take LlamaConfig's defaults)."""
        cfg: dict[str, Any] = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "torch_dtype": "float32"}
        for key in LLAMA_CONFIG_FIELDS:
            v = self.values.get(key) if self.known(key) or key in ("attention_bias", "mlp_bias") else None
            if v is None and key in LLAMA_DEFAULTS:
                v = LLAMA_DEFAULTS[key]
            if v is not None:
                cfg[key] = v
        cfg.setdefault("attention_bias", False)
        cfg.setdefault("mlp_bias", False)
        cfg["tie_word_embeddings"] = bool(self.values.get("tie_word_embeddings", False))
        return cfg

    def as_dict(self) -> dict[str, Any]:
        return {k: self.values[k] for k in sorted(self.values)}


def _first(cfg: dict[str, Any], names: tuple[str, ...]) -> Any:
    for n in names:
        if n in cfg and cfg[n] is not None:
            return cfg[n]
    return None


def metadata_values(metadata: dict[str, Any]) -> dict[str, Any]:
    """Architecture values the files declare, in HF field names (config.json wins over other sources)."""
    out: dict[str, Any] = {}
    gguf = metadata.get("gguf")
    if isinstance(gguf, dict):
        arch = gguf.get("general.architecture")
        if isinstance(arch, str):
            for key, hf in GGUF_KEYS.items():
                v = gguf.get(f"{arch}.{key}")
                if isinstance(v, (list, tuple)):  # per-layer arrays (e.g. head_count_kv); take the first
                    v = v[0] if v else None
                if v is not None:
                    out.setdefault(hf, v)
            dims = gguf.get(f"{arch}.rope.dimension_count")
            if dims is not None and "head_dim" not in out:
                out["rope_dimension_count"] = dims
            tokens = gguf.get("tokenizer.ggml.tokens")
            if "vocab_size" not in out and isinstance(tokens, (list, tuple)):
                out["vocab_size"] = len(tokens)
            for key, hf in (
                ("tokenizer.ggml.bos_token_id", "bos_token_id"),
                ("tokenizer.ggml.eos_token_id", "eos_token_id"),
            ):
                if gguf.get(key) is not None:
                    out.setdefault(hf, gguf[key])
    l2c = metadata.get("llama2c")
    if isinstance(l2c, dict):
        for key, hf in LLAMA2C_KEYS.items():
            if l2c.get(key) is not None:
                out[hf] = l2c[key]
        if "shared_classifier" in l2c:
            out["tie_word_embeddings"] = bool(l2c["shared_classifier"])
    torch_meta = metadata.get("torch")
    model_args = torch_meta.get("model_args") if isinstance(torch_meta, dict) else None
    if isinstance(model_args, dict):  # llama2.c ckpt.pt: {"model": ..., "model_args": ModelArgs fields}
        for key, hf in {**PARAMS_KEYS, "hidden_dim": "intermediate_size"}.items():
            if isinstance(model_args.get(key), (int, float)) and (key != "vocab_size" or model_args[key] > 0):
                out[hf] = model_args[key]
    params = metadata.get("params")
    if isinstance(params, dict):
        for key, hf in PARAMS_KEYS.items():
            if params.get(key) is not None and (key != "vocab_size" or params[key] > 0):
                out[hf] = params[key]
    cfg = metadata.get("config")
    if isinstance(cfg, dict):
        for hf, names in CONFIG_ALIASES.items():
            v = _first(cfg, names)
            if v is not None:
                out[hf] = v
        rp = cfg.get("rope_parameters")  # transformers v5 moves rope_theta/rope_scaling here
        if isinstance(rp, dict):
            if rp.get("rope_theta") is not None:
                out.setdefault("rope_theta", rp["rope_theta"])
            if rp.get("rope_type") not in (None, "default"):
                out.setdefault("rope_scaling", rp)
            if rp.get("partial_rotary_factor") is not None:
                out.setdefault("partial_rotary_factor", rp["partial_rotary_factor"])
        if cfg.get("model_type") == "gpt_neox" and "intermediate_size" not in cfg:
            out.pop("intermediate_size", None)
    return out
