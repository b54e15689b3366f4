"""Tiny, real example checkpoints for the demo (and for tests that need a quick LLaMA-shaped model).

Weights are drawn with numpy from a fixed seed in the way a freshly initialised LLaMA is (normal rows scaled by
1/sqrt(fan_in), unit norm gains), so two seeds give two truly independent models. Files are written by the real
libraries (safetensors, torch.save, gguf).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class TinyLlamaConfig:
    vocab_size: int = 256
    hidden_size: int = 64
    intermediate_size: int = 176
    num_hidden_layers: int = 4
    num_attention_heads: int = 8
    num_key_value_heads: int = 4
    max_position_embeddings: int = 256
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    tie_word_embeddings: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def hf_config(self) -> dict:
        cfg = asdict(self)
        cfg.update({
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "hidden_act": "silu",
            "head_dim": self.head_dim,
            "attention_bias": False,
            "mlp_bias": False,
            "bos_token_id": 1,
            "eos_token_id": 2,
            "torch_dtype": "float32",
        })
        return cfg


def llama_state_dict(cfg: TinyLlamaConfig, seed: int) -> dict[str, np.ndarray]:
    """A LLaMA state dict with Hugging Face names, in the order `save_pretrained` writes layers."""
    rng = np.random.default_rng(seed)
    h, i, hd = cfg.hidden_size, cfg.intermediate_size, cfg.head_dim

    def lin(out: int, inp: int) -> np.ndarray:
        return (rng.standard_normal((out, inp)) / np.sqrt(inp)).astype(np.float32)

    def gain() -> np.ndarray:  # trained gains wander around 1; make them distinguishable per model
        return (1.0 + 0.1 * rng.standard_normal(h)).astype(np.float32)

    sd: dict[str, np.ndarray] = {"model.embed_tokens.weight": (0.02 * rng.standard_normal((cfg.vocab_size, h))).astype(np.float32)}
    for layer in range(cfg.num_hidden_layers):
        p = f"model.layers.{layer}."
        sd[p + "input_layernorm.weight"] = gain()
        sd[p + "self_attn.q_proj.weight"] = lin(cfg.num_attention_heads * hd, h)
        sd[p + "self_attn.k_proj.weight"] = lin(cfg.num_key_value_heads * hd, h)
        sd[p + "self_attn.v_proj.weight"] = lin(cfg.num_key_value_heads * hd, h)
        sd[p + "self_attn.o_proj.weight"] = lin(h, cfg.num_attention_heads * hd)
        sd[p + "post_attention_layernorm.weight"] = gain()
        sd[p + "mlp.gate_proj.weight"] = lin(i, h)
        sd[p + "mlp.up_proj.weight"] = lin(i, h)
        sd[p + "mlp.down_proj.weight"] = lin(h, i)
    sd["model.norm.weight"] = gain()
    if not cfg.tie_word_embeddings:
        sd["lm_head.weight"] = lin(cfg.vocab_size, h)
    return sd


YI_RENAMES = {"input_layernorm": "ln1", "post_attention_layernorm": "ln2"}


def yi_style(sd: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The Yi-34B move: the same tensors, two norm names per layer changed."""
    out = {}
    for name, value in sd.items():
        for old, new in YI_RENAMES.items():
            name = name.replace(f".{old}.", f".{new}.")
        out[name] = value
    return out


def write_hf_dir(directory: Path, sd: dict[str, np.ndarray], config: dict, card: str | None = None,
                 dtype: str = "float32") -> Path:
    """A Hugging Face-style directory: config.json + model.safetensors (+ README.md)."""
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    if dtype == "bfloat16":
        import ml_dtypes

        sd = {k: v.astype(ml_dtypes.bfloat16) for k, v in sd.items()}
    save_file({k: np.ascontiguousarray(v) for k, v in sd.items()}, str(directory / "model.safetensors"),
              metadata={"format": "pt"})
    (directory / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    if card is not None:
        (directory / "README.md").write_text(card)
    return directory
