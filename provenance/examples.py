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
        cfg.update(
            {
                "architectures": ["LlamaForCausalLM"],
                "model_type": "llama",
                "hidden_act": "silu",
                "head_dim": self.head_dim,
                "attention_bias": False,
                "mlp_bias": False,
                "bos_token_id": 1,
                "eos_token_id": 2,
                "torch_dtype": "float32",
            }
        )
        return cfg


def llama_state_dict(cfg: TinyLlamaConfig, seed: int) -> dict[str, np.ndarray]:
    """A LLaMA state dict with Hugging Face names, in the order `save_pretrained` writes layers."""
    rng = np.random.default_rng(seed)
    h, i, hd = cfg.hidden_size, cfg.intermediate_size, cfg.head_dim

    def lin(out: int, inp: int) -> np.ndarray:
        return (rng.standard_normal((out, inp)) / np.sqrt(inp)).astype(np.float32)

    def gain() -> np.ndarray:  # trained gains wander around 1; make them distinguishable per model
        return (1.0 + 0.1 * rng.standard_normal(h)).astype(np.float32)

    sd: dict[str, np.ndarray] = {
        "model.embed_tokens.weight": (0.02 * rng.standard_normal((cfg.vocab_size, h))).astype(np.float32)
    }
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


def write_hf_dir(
    directory: Path, sd: dict[str, np.ndarray], config: dict, card: str | None = None, dtype: str = "float32"
) -> Path:
    """A Hugging Face-style directory: config.json + model.safetensors (+ README.md)."""
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    if dtype == "bfloat16":
        import ml_dtypes

        sd = {k: v.astype(ml_dtypes.bfloat16) for k, v in sd.items()}
    save_file(
        {k: np.ascontiguousarray(v) for k, v in sd.items()},
        str(directory / "model.safetensors"),
        metadata={"format": "pt"},
    )
    (directory / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    if card is not None:
        (directory / "README.md").write_text(card)
    return directory


# --- other formats -------------------------------------------------------------------------------------------
# The same state dict as the files other tools write. Meta's reference code, llama.cpp and llama2.c keep the Q/K
# rows of each head interleaved (pairs (0,1), (2,3), … rotate together); Hugging Face's conversion script
# (transformers convert_llama_weights_to_hf.py, ``permute``) reorders them into two halves. ``to_meta_rotary`` is
# the inverse of that script's permutation, the one llama.cpp's convert_hf_to_gguf.py applies (``LlamaModel.permute``).

META_LAYER_NAMES = {  # HF suffix → Meta llama/model.py suffix
    "input_layernorm": "attention_norm",
    "self_attn.q_proj": "attention.wq",
    "self_attn.k_proj": "attention.wk",
    "self_attn.v_proj": "attention.wv",
    "self_attn.o_proj": "attention.wo",
    "post_attention_layernorm": "ffn_norm",
    "mlp.gate_proj": "feed_forward.w1",
    "mlp.down_proj": "feed_forward.w2",
    "mlp.up_proj": "feed_forward.w3",
}
META_GLOBAL_NAMES = {
    "model.embed_tokens.weight": "tok_embeddings.weight",
    "model.norm.weight": "norm.weight",
    "lm_head.weight": "output.weight",
}
GGUF_NAMES = {  # Meta name → GGUF name (llama.cpp gguf-py constants, MODEL_TENSOR names for LLM_ARCH_LLAMA)
    "tok_embeddings": "token_embd",
    "norm": "output_norm",
    "output": "output",
    "attention_norm": "attn_norm",
    "attention.wq": "attn_q",
    "attention.wk": "attn_k",
    "attention.wv": "attn_v",
    "attention.wo": "attn_output",
    "ffn_norm": "ffn_norm",
    "feed_forward.w1": "ffn_gate",
    "feed_forward.w2": "ffn_down",
    "feed_forward.w3": "ffn_up",
}


def to_meta_rotary(w: np.ndarray, n_heads: int) -> np.ndarray:
    """Q/K rows from Hugging Face half-split order to Meta's interleaved order, head by head."""
    rows = w.shape[0]
    return w.reshape(n_heads, 2, rows // n_heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def meta_state_dict(sd: dict[str, np.ndarray], cfg: TinyLlamaConfig) -> dict[str, np.ndarray]:
    """A Hugging Face LLaMA state dict under Meta's names, Q/K rows in Meta's rotary order."""
    out: dict[str, np.ndarray] = {}
    for name, value in sd.items():
        if name in META_GLOBAL_NAMES:
            out[META_GLOBAL_NAMES[name]] = value
            continue
        _, _, layer, rest = name.split(".", 3)
        role = rest.removesuffix(".weight")
        if role == "self_attn.q_proj":
            value = to_meta_rotary(value, cfg.num_attention_heads)
        elif role == "self_attn.k_proj":
            value = to_meta_rotary(value, cfg.num_key_value_heads)
        out[f"layers.{layer}.{META_LAYER_NAMES[role]}.weight"] = value
    return out


def meta_params(cfg: TinyLlamaConfig) -> dict:
    """params.json as Meta ships it (facebookresearch/llama ``ModelArgs``); the FFN size 176 follows from
    dim 64 and multiple_of 16 by Meta's rule ``multiple_of * ceil(int(2/3 * 4 * dim) / multiple_of)``."""
    return {
        "dim": cfg.hidden_size,
        "n_layers": cfg.num_hidden_layers,
        "n_heads": cfg.num_attention_heads,
        "n_kv_heads": cfg.num_key_value_heads,
        "vocab_size": cfg.vocab_size,
        "multiple_of": 16,
        "norm_eps": cfg.rms_norm_eps,
        "rope_theta": cfg.rope_theta,
    }


def write_torch_dir(directory: Path, sd: dict[str, np.ndarray], config: dict, card: str | None = None) -> Path:
    """A Hugging Face-style directory from before safetensors: config.json + pytorch_model.bin (torch.save)."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    torch.save({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}, directory / "pytorch_model.bin")
    (directory / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    if card is not None:
        (directory / "README.md").write_text(card)
    return directory


def write_meta_dir(directory: Path, sd: dict[str, np.ndarray], cfg: TinyLlamaConfig) -> Path:
    """Meta's original layout: consolidated.00.pth (one model-parallel rank) + params.json."""
    import torch

    directory.mkdir(parents=True, exist_ok=True)
    meta = meta_state_dict(sd, cfg)
    torch.save(
        {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in meta.items()}, directory / "consolidated.00.pth"
    )
    (directory / "params.json").write_text(json.dumps(meta_params(cfg), indent=2, sort_keys=True) + "\n")
    return directory


def gguf_llama_writer(path: Path, cfg: TinyLlamaConfig, name: str = "tiny"):
    """A gguf-py GGUFWriter for ``path`` holding llama.cpp's LLaMA hyperparameter keys for ``cfg``; the caller adds
    any further keys and the tensors, then writes."""
    import gguf

    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(name)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(cfg.rope_theta)
    w.add_rope_dimension_count(cfg.head_dim)
    return w


def write_gguf(
    path: Path,
    sd: dict[str, np.ndarray],
    cfg: TinyLlamaConfig,
    name: str = "tiny",
    qtype: str = "Q8_0",
    fallback: str = "F32",
    tokens: list[str] | None = None,
) -> Path:
    """A llama.cpp GGUF file written with gguf-py's GGUFWriter. Matrices are stored as ``qtype`` (F32, F16, or a
    type gguf-py can quantize such as Q8_0 or Q4_0) when their rows split into whole quantization blocks and as
    ``fallback`` (F32 or F16) otherwise, as llama.cpp's converter falls back; norm gains stay F32. ``tokens``: a
    vocabulary (SentencePiece pieces) stored as llama.cpp's ``tokenizer.ggml.tokens``."""
    import gguf

    kind = getattr(gguf.GGMLQuantizationType, qtype)
    fallback_dtype = {"F32": np.float32, "F16": np.float16}[fallback]
    block = gguf.GGML_QUANT_SIZES[kind][0]
    w = gguf_llama_writer(path, cfg, name)
    if tokens is not None:
        w.add_tokenizer_model("llama")
        w.add_token_list(tokens)
    for meta_name, x in meta_state_dict(sd, cfg).items():
        stem = meta_name.removesuffix(".weight")
        if stem.startswith("layers."):
            _, layer, role = stem.split(".", 2)
            gname = f"blk.{layer}.{GGUF_NAMES[role]}.weight"
        else:
            gname = f"{GGUF_NAMES[stem]}.weight"
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim == 2 and kind != gguf.GGMLQuantizationType.F32 and x.shape[-1] % block == 0:
            w.add_tensor(gname, gguf.quants.quantize(x, kind), raw_dtype=kind)
        elif x.ndim == 2 and kind != gguf.GGMLQuantizationType.F32:
            w.add_tensor(gname, x.astype(fallback_dtype))
        else:
            w.add_tensor(gname, x)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
