"""Known tensor naming schemes, as one declarative table.

Each row of :data:`SCHEMES` names the tensors of one model family or file format: ``{role: (templates, …)}``
where ``{L}`` stands for the layer index. Code in this package only expands and looks rows up (in the manner of
gguf-py ``tensor_mapping.py`` and mergekit's ``_data/architectures/*.json``); facts live here, each row with the
model or format it comes from. Sources: transformers ``modeling_*.py`` and ``convert_*`` scripts, gguf-py
``constants.py``/``tensor_mapping.py``, Meta ``llama/model.py``, karpathy/llama2.c ``export.py``, Megatron-LM
``megatron/core/models/gpt`` and ``megatron/legacy/model``; summarised in ``shared/reference/tensor-naming.md``.

A row may ``extend`` another row and override or add roles. The same name can mean different roles in
different rows (``post_attention_layernorm`` is the MLP input norm in LLaMA but an attention *output* norm in
Gemma2 and OLMo2): the row that explains a checkpoint best is chosen as a whole, so the name is read in that
row's sense.

Roles and their canonical (Hugging Face ``LlamaForCausalLM``) names are in :data:`CANONICAL`. Fused roles
(``qkv``, ``gate_up``) are split by :mod:`provenance.normalize.layouts`; roles in :data:`BUFFERS` are not weights
(rotary tables, attention masks) and are dropped, each drop recorded with its reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LAYER = "{L}"

# Canonical names: Hugging Face LlamaForCausalLM (transformers `modeling_llama.py`). Family extras keep the name
# that family uses in transformers, except where it would collide with a LLaMA name (see the two *_out_norm).
CANONICAL: dict[str, str] = {
    "embed": "model.embed_tokens.weight",
    "pos_embed": "model.embed_positions.weight",  # learned absolute positions (GPT-2); LLaMA has none
    "final_norm": "model.norm.weight",
    "final_norm_bias": "model.norm.bias",
    "lm_head": "lm_head.weight",
    "lm_head_bias": "lm_head.bias",
    "attn_norm": "model.layers.{L}.input_layernorm.weight",
    "attn_norm_bias": "model.layers.{L}.input_layernorm.bias",
    "q": "model.layers.{L}.self_attn.q_proj.weight",
    "k": "model.layers.{L}.self_attn.k_proj.weight",
    "v": "model.layers.{L}.self_attn.v_proj.weight",
    "o": "model.layers.{L}.self_attn.o_proj.weight",
    "q_bias": "model.layers.{L}.self_attn.q_proj.bias",
    "k_bias": "model.layers.{L}.self_attn.k_proj.bias",
    "v_bias": "model.layers.{L}.self_attn.v_proj.bias",
    "o_bias": "model.layers.{L}.self_attn.o_proj.bias",
    "q_norm": "model.layers.{L}.self_attn.q_norm.weight",  # Qwen3, OLMo2
    "k_norm": "model.layers.{L}.self_attn.k_norm.weight",
    # Gemma2/OLMo2 normalise the attention output; their name for it (post_attention_layernorm) is LLaMA's MLP norm.
    "attn_out_norm": "model.layers.{L}.post_attention_output_layernorm.weight",
    "mlp_norm": "model.layers.{L}.post_attention_layernorm.weight",
    "mlp_norm_bias": "model.layers.{L}.post_attention_layernorm.bias",
    "mlp_out_norm": "model.layers.{L}.post_feedforward_layernorm.weight",  # Gemma2, OLMo2
    "gate": "model.layers.{L}.mlp.gate_proj.weight",
    "up": "model.layers.{L}.mlp.up_proj.weight",
    "down": "model.layers.{L}.mlp.down_proj.weight",
    "gate_bias": "model.layers.{L}.mlp.gate_proj.bias",
    "up_bias": "model.layers.{L}.mlp.up_proj.bias",
    "down_bias": "model.layers.{L}.mlp.down_proj.bias",
}

# Fused source roles and the canonical roles they split into (row order inside the fused tensor is a layout
# property of the row: see Scheme.qkv_layout).
FUSED: dict[str, tuple[str, ...]] = {
    "qkv": ("q", "k", "v"),
    "qkv_bias": ("q_bias", "k_bias", "v_bias"),
    "gate_up": ("gate", "up"),
}

# Buffers that are not weights: dropped (and reported as dropped, with this reason).
BUFFERS: dict[str, str] = {
    "rope_inv_freq": "rotary inverse-frequency buffer (recomputed from head_dim and rope_theta)",
    "rope_freqs": "rotary frequency table (recomputed from head_dim and rope_theta)",
    "attn_mask": "causal-mask buffer, not a weight",
}

GLOBAL_ROLES = {"embed", "pos_embed", "final_norm", "final_norm_bias", "lm_head", "lm_head_bias", "rope_freqs"}


@dataclass(frozen=True)
class Scheme:
    """One naming scheme (a model family's or a file format's tensor names)."""

    name: str
    family: str  # the family these names imply ("llama" for formats that only carry LLaMA models)
    source: str  # where the names come from
    roles: dict[str, tuple[str, ...]]
    extends: str | None = None
    rope: str = "hf"  # Q/K row order: "hf" (half-split), "meta" (interleaved pairs), "by_gguf_arch"
    qkv_layout: str = "contiguous"  # "contiguous" [Q;K;V], "grouped" per KV group, "neox" per head, "falcon"
    conv1d: bool = False  # GPT-2 style Conv1D: linear weights stored [in, out]; checked against shapes
    formats: tuple[str, ...] = ()  # checkpoint formats that use this scheme natively (a tie-breaker)
    model_types: tuple[str, ...] = ()  # config.json model_type / GGUF general.architecture values


def _hf(prefix: str = "model.") -> dict[str, tuple[str, ...]]:
    p = prefix + "layers.{L}."
    return {
        "embed": (prefix + "embed_tokens.weight",),
        "attn_norm": (p + "input_layernorm.weight",),
        "q": (p + "self_attn.q_proj.weight",),
        "k": (p + "self_attn.k_proj.weight",),
        "v": (p + "self_attn.v_proj.weight",),
        "o": (p + "self_attn.o_proj.weight",),
        "mlp_norm": (p + "post_attention_layernorm.weight",),
        "gate": (p + "mlp.gate_proj.weight",),
        "up": (p + "mlp.up_proj.weight",),
        "down": (p + "mlp.down_proj.weight",),
        "final_norm": (prefix + "norm.weight",),
        "lm_head": ("lm_head.weight",),
        "rope_inv_freq": (p + "self_attn.rotary_emb.inv_freq",),  # transformers < 4.38 saved this buffer
    }


_META_LAYER = {
    "attn_norm": ("layers.{L}.attention_norm.weight",),
    "q": ("layers.{L}.attention.wq.weight",),
    "k": ("layers.{L}.attention.wk.weight",),
    "v": ("layers.{L}.attention.wv.weight",),
    "o": ("layers.{L}.attention.wo.weight",),
    "mlp_norm": ("layers.{L}.ffn_norm.weight",),
    "gate": ("layers.{L}.feed_forward.w1.weight",),  # Meta: w2(silu(w1 x) * w3 x)
    "up": ("layers.{L}.feed_forward.w3.weight",),
    "down": ("layers.{L}.feed_forward.w2.weight",),
}

_ROWS: list[Scheme] = [
    # Hugging Face LlamaForCausalLM (transformers modeling_llama.py). Also Mistral, DeepSeek-LLM v1, the current
    # Yi upload, TinyLlama, Vicuna …, and mlx-lm exports of these (mlx-lm keeps the HF names).
    Scheme("hf_llama", "llama", "transformers LlamaForCausalLM", _hf(), model_types=("llama", "yi", "deepseek")),
    # HF LlamaModel saved without the causal-LM wrapper: no `model.` prefix, no lm_head.
    Scheme("hf_llama_base", "llama", "transformers LlamaModel (no LM head)", _hf(prefix="")),
    # The original Yi-34B/6B upload (YiForCausalLM, Nov 2023): LLaMA with the two norms renamed ln1/ln2.
    Scheme(
        "yi_original",
        "llama",
        "01-ai/Yi YiForCausalLM (original upload)",
        {
            "attn_norm": ("model.layers.{L}.ln1.weight",),
            "mlp_norm": ("model.layers.{L}.ln2.weight",),
        },
        extends="hf_llama",
        model_types=("yi", "Yi"),
    ),
    # Mistral (transformers modeling_mistral.py): LLaMA names.
    Scheme(
        "hf_mistral", "mistral", "transformers MistralForCausalLM", {}, extends="hf_llama", model_types=("mistral",)
    ),
    # Qwen2 / Qwen2.5 (transformers modeling_qwen2.py): LLaMA names plus q/k/v biases.
    Scheme(
        "hf_qwen2",
        "qwen2",
        "transformers Qwen2ForCausalLM",
        {
            "q_bias": ("model.layers.{L}.self_attn.q_proj.bias",),
            "k_bias": ("model.layers.{L}.self_attn.k_proj.bias",),
            "v_bias": ("model.layers.{L}.self_attn.v_proj.bias",),
        },
        extends="hf_llama",
        model_types=("qwen2",),
    ),
    # Qwen3 (transformers modeling_qwen3.py): LLaMA names plus per-head RMSNorm on q and k.
    Scheme(
        "hf_qwen3",
        "qwen3",
        "transformers Qwen3ForCausalLM",
        {
            "q_norm": ("model.layers.{L}.self_attn.q_norm.weight",),
            "k_norm": ("model.layers.{L}.self_attn.k_norm.weight",),
        },
        extends="hf_llama",
        model_types=("qwen3",),
    ),
    # Gemma (transformers modeling_gemma.py): LLaMA names; norms compute x*(1+w); embedding scaled by sqrt(H).
    Scheme("hf_gemma", "gemma", "transformers GemmaForCausalLM", {}, extends="hf_llama", model_types=("gemma",)),
    # Gemma2 (transformers modeling_gemma2.py): sandwich norms. post_attention_layernorm normalises the attention
    # OUTPUT here; the MLP input norm is pre_feedforward_layernorm.
    Scheme(
        "hf_gemma2",
        "gemma2",
        "transformers Gemma2ForCausalLM",
        {
            "attn_out_norm": ("model.layers.{L}.post_attention_layernorm.weight",),
            "mlp_norm": ("model.layers.{L}.pre_feedforward_layernorm.weight",),
            "mlp_out_norm": ("model.layers.{L}.post_feedforward_layernorm.weight",),
        },
        extends="hf_llama",
        model_types=("gemma2",),
    ),
    # OLMo2 (transformers modeling_olmo2.py): norms after attention and MLP only, q/k norms over all heads.
    Scheme(
        "hf_olmo2",
        "olmo2",
        "transformers Olmo2ForCausalLM",
        {
            "attn_norm": (),
            "mlp_norm": (),
            "attn_out_norm": ("model.layers.{L}.post_attention_layernorm.weight",),
            "mlp_out_norm": ("model.layers.{L}.post_feedforward_layernorm.weight",),
            "q_norm": ("model.layers.{L}.self_attn.q_norm.weight",),
            "k_norm": ("model.layers.{L}.self_attn.k_norm.weight",),
        },
        extends="hf_llama",
        model_types=("olmo2",),
    ),
    # Phi-3 (transformers modeling_phi3.py): fused qkv_proj [Q;K;V] and gate_up_proj [gate; up].
    Scheme(
        "hf_phi3",
        "phi3",
        "transformers Phi3ForCausalLM",
        {
            "q": (),
            "k": (),
            "v": (),
            "gate": (),
            "up": (),
            "qkv": ("model.layers.{L}.self_attn.qkv_proj.weight",),
            "gate_up": ("model.layers.{L}.mlp.gate_up_proj.weight",),
        },
        extends="hf_llama",
        model_types=("phi3",),
    ),
    # Baichuan / Baichuan2 (remote code modeling_baichuan.py): W_pack = [Q; K; V] thirds, otherwise LLaMA names.
    Scheme(
        "hf_baichuan",
        "baichuan",
        "baichuan-inc Baichuan(2) remote code",
        {
            "q": (),
            "k": (),
            "v": (),
            "qkv": ("model.layers.{L}.self_attn.W_pack.weight",),
        },
        extends="hf_llama",
        model_types=("baichuan",),
    ),
    # InternLM2 (remote code modeling_internlm2.py): wqkv grouped per KV head, Meta-like names under model.
    Scheme(
        "hf_internlm2",
        "internlm2",
        "internlm InternLM2ForCausalLM remote code",
        {
            "embed": ("model.tok_embeddings.weight",),
            "attn_norm": ("model.layers.{L}.attention_norm.weight",),
            "qkv": ("model.layers.{L}.attention.wqkv.weight",),
            "o": ("model.layers.{L}.attention.wo.weight",),
            "mlp_norm": ("model.layers.{L}.ffn_norm.weight",),
            "gate": ("model.layers.{L}.feed_forward.w1.weight",),
            "up": ("model.layers.{L}.feed_forward.w3.weight",),
            "down": ("model.layers.{L}.feed_forward.w2.weight",),
            "final_norm": ("model.norm.weight",),
            "lm_head": ("output.weight",),
        },
        qkv_layout="grouped",
        model_types=("internlm2",),
    ),
    # Qwen (v1, remote code modeling_qwen.py): GPT-2-like names but nn.Linear; mlp.w2 is the GATE, w1 the UP.
    Scheme(
        "hf_qwen1",
        "qwen",
        "Qwen/Qwen-7B remote code (QWenLMHeadModel)",
        {
            "embed": ("transformer.wte.weight",),
            "attn_norm": ("transformer.h.{L}.ln_1.weight",),
            "qkv": ("transformer.h.{L}.attn.c_attn.weight",),
            "qkv_bias": ("transformer.h.{L}.attn.c_attn.bias",),
            "o": ("transformer.h.{L}.attn.c_proj.weight",),
            "mlp_norm": ("transformer.h.{L}.ln_2.weight",),
            "gate": ("transformer.h.{L}.mlp.w2.weight",),
            "up": ("transformer.h.{L}.mlp.w1.weight",),
            "down": ("transformer.h.{L}.mlp.c_proj.weight",),
            "final_norm": ("transformer.ln_f.weight",),
            "lm_head": ("lm_head.weight",),
            "rope_inv_freq": ("transformer.rotary_emb.inv_freq",),
        },
        model_types=("qwen",),
    ),
    # Falcon (transformers modeling_falcon.py). query_key_value is grouped per KV head (new decoder architecture,
    # and Falcon-7B multi-query as one group) or per head [q,k,v] (Falcon-RW); ln_attn/ln_mlp in the new arch.
    Scheme(
        "hf_falcon",
        "falcon",
        "transformers FalconForCausalLM",
        {
            "embed": ("transformer.word_embeddings.weight",),
            "attn_norm": ("transformer.h.{L}.input_layernorm.weight", "transformer.h.{L}.ln_attn.weight"),
            "attn_norm_bias": ("transformer.h.{L}.input_layernorm.bias", "transformer.h.{L}.ln_attn.bias"),
            "mlp_norm": ("transformer.h.{L}.post_attention_layernorm.weight", "transformer.h.{L}.ln_mlp.weight"),
            "mlp_norm_bias": ("transformer.h.{L}.post_attention_layernorm.bias", "transformer.h.{L}.ln_mlp.bias"),
            "qkv": ("transformer.h.{L}.self_attention.query_key_value.weight",),
            "qkv_bias": ("transformer.h.{L}.self_attention.query_key_value.bias",),
            "o": ("transformer.h.{L}.self_attention.dense.weight",),
            "o_bias": ("transformer.h.{L}.self_attention.dense.bias",),
            "up": ("transformer.h.{L}.mlp.dense_h_to_4h.weight",),
            "up_bias": ("transformer.h.{L}.mlp.dense_h_to_4h.bias",),
            "down": ("transformer.h.{L}.mlp.dense_4h_to_h.weight",),
            "down_bias": ("transformer.h.{L}.mlp.dense_4h_to_h.bias",),
            "final_norm": ("transformer.ln_f.weight",),
            "final_norm_bias": ("transformer.ln_f.bias",),
            "lm_head": ("lm_head.weight",),
        },
        qkv_layout="falcon",
        model_types=("falcon", "RefinedWeb", "RefinedWebModel"),
    ),
    # GPT-NeoX / Pythia (transformers modeling_gpt_neox.py): query_key_value is per head [q, k, v].
    Scheme(
        "hf_gpt_neox",
        "gpt_neox",
        "transformers GPTNeoXForCausalLM",
        {
            "embed": ("gpt_neox.embed_in.weight",),
            "attn_norm": ("gpt_neox.layers.{L}.input_layernorm.weight",),
            "attn_norm_bias": ("gpt_neox.layers.{L}.input_layernorm.bias",),
            "mlp_norm": ("gpt_neox.layers.{L}.post_attention_layernorm.weight",),
            "mlp_norm_bias": ("gpt_neox.layers.{L}.post_attention_layernorm.bias",),
            "qkv": ("gpt_neox.layers.{L}.attention.query_key_value.weight",),
            "qkv_bias": ("gpt_neox.layers.{L}.attention.query_key_value.bias",),
            "o": ("gpt_neox.layers.{L}.attention.dense.weight",),
            "o_bias": ("gpt_neox.layers.{L}.attention.dense.bias",),
            "up": ("gpt_neox.layers.{L}.mlp.dense_h_to_4h.weight",),
            "up_bias": ("gpt_neox.layers.{L}.mlp.dense_h_to_4h.bias",),
            "down": ("gpt_neox.layers.{L}.mlp.dense_4h_to_h.weight",),
            "down_bias": ("gpt_neox.layers.{L}.mlp.dense_4h_to_h.bias",),
            "final_norm": ("gpt_neox.final_layer_norm.weight",),
            "final_norm_bias": ("gpt_neox.final_layer_norm.bias",),
            "lm_head": ("embed_out.weight",),
            "rope_inv_freq": ("gpt_neox.layers.{L}.attention.rotary_emb.inv_freq",),
            "attn_mask": ("gpt_neox.layers.{L}.attention.bias", "gpt_neox.layers.{L}.attention.masked_bias"),
        },
        qkv_layout="neox",
        model_types=("gpt_neox",),
    ),
    # GPT-2 (transformers modeling_gpt2.py): Conv1D weights are stored [in, out].
    Scheme(
        "hf_gpt2",
        "gpt2",
        "transformers GPT2LMHeadModel",
        {
            "embed": ("transformer.wte.weight",),
            "pos_embed": ("transformer.wpe.weight",),
            "attn_norm": ("transformer.h.{L}.ln_1.weight",),
            "attn_norm_bias": ("transformer.h.{L}.ln_1.bias",),
            "qkv": ("transformer.h.{L}.attn.c_attn.weight",),
            "qkv_bias": ("transformer.h.{L}.attn.c_attn.bias",),
            "o": ("transformer.h.{L}.attn.c_proj.weight",),
            "o_bias": ("transformer.h.{L}.attn.c_proj.bias",),
            "mlp_norm": ("transformer.h.{L}.ln_2.weight",),
            "mlp_norm_bias": ("transformer.h.{L}.ln_2.bias",),
            "up": ("transformer.h.{L}.mlp.c_fc.weight",),
            "up_bias": ("transformer.h.{L}.mlp.c_fc.bias",),
            "down": ("transformer.h.{L}.mlp.c_proj.weight",),
            "down_bias": ("transformer.h.{L}.mlp.c_proj.bias",),
            "final_norm": ("transformer.ln_f.weight",),
            "final_norm_bias": ("transformer.ln_f.bias",),
            "lm_head": ("lm_head.weight",),
            "attn_mask": ("transformer.h.{L}.attn.bias", "transformer.h.{L}.attn.masked_bias"),
        },
        conv1d=True,
        model_types=("gpt2",),
    ),
    # ChatGLM2/3 (THUDM remote code modeling_chatglm.py): [Q; K; V] with multi-query groups, [gate; up] fused.
    Scheme(
        "hf_chatglm",
        "chatglm",
        "THUDM ChatGLM2/3 remote code",
        {
            "embed": ("transformer.embedding.word_embeddings.weight",),
            "attn_norm": ("transformer.encoder.layers.{L}.input_layernorm.weight",),
            "qkv": ("transformer.encoder.layers.{L}.self_attention.query_key_value.weight",),
            "qkv_bias": ("transformer.encoder.layers.{L}.self_attention.query_key_value.bias",),
            "o": ("transformer.encoder.layers.{L}.self_attention.dense.weight",),
            "mlp_norm": ("transformer.encoder.layers.{L}.post_attention_layernorm.weight",),
            "gate_up": ("transformer.encoder.layers.{L}.mlp.dense_h_to_4h.weight",),
            "down": ("transformer.encoder.layers.{L}.mlp.dense_4h_to_h.weight",),
            "final_norm": ("transformer.encoder.final_layernorm.weight",),
            "lm_head": ("transformer.output_layer.weight",),
            "rope_inv_freq": ("transformer.rotary_pos_emb.inv_freq",),
        },
        model_types=("chatglm",),
    ),
    # Meta consolidated.*.pth (facebookresearch/llama model.py); Q/K rows in interleaved rotary order.
    # Also old mlx-examples llama weights.npz (same names).
    Scheme(
        "meta",
        "llama",
        "Meta llama consolidated.*.pth",
        {
            "embed": ("tok_embeddings.weight",),
            **_META_LAYER,
            "final_norm": ("norm.weight",),
            "lm_head": ("output.weight",),
            "rope_freqs": ("rope.freqs",),
        },
        rope="meta",
        formats=("meta", "torch"),
    ),
    # llama2.c model.bin / ckpt.pt (karpathy/llama2.c model.py, export.py): Meta names and order, plus the
    # precomputed freq_cis tables of the v0 export.
    Scheme(
        "llama2c",
        "llama",
        "karpathy/llama2.c model.bin / ckpt.pt",
        {
            "rope_freqs": ("freq_cis_real", "freq_cis_imag"),
        },
        extends="meta",
        rope="meta",
        formats=("llama2c",),
    ),
    # GGUF (gguf-py constants.py TENSOR_NAMES). Q/K row order depends on general.architecture (see layouts).
    Scheme(
        "gguf",
        "llama",
        "GGUF (llama.cpp)",
        {
            "embed": ("token_embd.weight",),
            "pos_embed": ("position_embd.weight",),
            "attn_norm": ("blk.{L}.attn_norm.weight",),
            "attn_norm_bias": ("blk.{L}.attn_norm.bias",),
            "q": ("blk.{L}.attn_q.weight",),
            "k": ("blk.{L}.attn_k.weight",),
            "v": ("blk.{L}.attn_v.weight",),
            "qkv": ("blk.{L}.attn_qkv.weight",),
            "q_bias": ("blk.{L}.attn_q.bias",),
            "k_bias": ("blk.{L}.attn_k.bias",),
            "v_bias": ("blk.{L}.attn_v.bias",),
            "qkv_bias": ("blk.{L}.attn_qkv.bias",),
            "o": ("blk.{L}.attn_output.weight",),
            "o_bias": ("blk.{L}.attn_output.bias",),
            "q_norm": ("blk.{L}.attn_q_norm.weight",),
            "k_norm": ("blk.{L}.attn_k_norm.weight",),
            "attn_out_norm": ("blk.{L}.post_attention_norm.weight",),
            "mlp_norm": ("blk.{L}.ffn_norm.weight",),
            "mlp_norm_bias": ("blk.{L}.ffn_norm.bias",),
            "mlp_out_norm": ("blk.{L}.post_ffw_norm.weight",),
            "gate": ("blk.{L}.ffn_gate.weight",),
            "up": ("blk.{L}.ffn_up.weight",),
            "down": ("blk.{L}.ffn_down.weight",),
            "up_bias": ("blk.{L}.ffn_up.bias",),
            "down_bias": ("blk.{L}.ffn_down.bias",),
            "final_norm": ("output_norm.weight",),
            "final_norm_bias": ("output_norm.bias",),
            "lm_head": ("output.weight",),
            "rope_freqs": ("rope_freqs.weight",),
        },
        rope="by_gguf_arch",
        formats=("gguf",),
    ),
    # Megatron-core GPT (megatron/core/models/gpt, TransformerEngine layer names): grouped QKV, [gate; up] fc1,
    # the pre-norms fused into the following linear as layer_norm_weight.
    Scheme(
        "megatron_core",
        "llama",
        "Megatron-LM core (mcore) GPTModel",
        {
            "embed": ("embedding.word_embeddings.weight",),
            "attn_norm": (
                "decoder.layers.{L}.self_attention.linear_qkv.layer_norm_weight",
                "decoder.layers.{L}.input_layernorm.weight",
            ),
            "qkv": ("decoder.layers.{L}.self_attention.linear_qkv.weight",),
            "o": ("decoder.layers.{L}.self_attention.linear_proj.weight",),
            "mlp_norm": (
                "decoder.layers.{L}.mlp.linear_fc1.layer_norm_weight",
                "decoder.layers.{L}.pre_mlp_layernorm.weight",
            ),
            "gate_up": ("decoder.layers.{L}.mlp.linear_fc1.weight",),
            "down": ("decoder.layers.{L}.mlp.linear_fc2.weight",),
            "final_norm": ("decoder.final_layernorm.weight",),
            "lm_head": ("output_layer.weight",),
        },
        qkv_layout="grouped",
    ),
    # Legacy Megatron-LM (megatron/legacy/model/transformer.py, language_model.py): grouped query_key_value.
    Scheme(
        "megatron_legacy",
        "llama",
        "Megatron-LM legacy ParallelTransformer",
        {
            "embed": ("language_model.embedding.word_embeddings.weight",),
            "attn_norm": (
                "language_model.encoder.layers.{L}.input_norm.weight",
                "language_model.encoder.layers.{L}.input_layernorm.weight",
            ),
            "qkv": ("language_model.encoder.layers.{L}.self_attention.query_key_value.weight",),
            "o": ("language_model.encoder.layers.{L}.self_attention.dense.weight",),
            "mlp_norm": (
                "language_model.encoder.layers.{L}.post_attention_norm.weight",
                "language_model.encoder.layers.{L}.post_attention_layernorm.weight",
            ),
            "gate_up": ("language_model.encoder.layers.{L}.mlp.dense_h_to_4h.weight",),
            "down": ("language_model.encoder.layers.{L}.mlp.dense_4h_to_h.weight",),
            "final_norm": ("language_model.encoder.final_norm.weight", "language_model.encoder.final_layernorm.weight"),
            "lm_head": ("language_model.output_layer.weight",),
        },
        qkv_layout="grouped",
    ),
]

# Wrapper prefixes that say nothing about the model: torch.compile, DataParallel/DDP, PEFT's wrapper.
# Stripped (repeatedly, longest first) before a name is looked up; each strip is recorded in the rename rule.
PREFIXES: tuple[tuple[str, str], ...] = (
    ("base_model.model.", "PEFT wrapper prefix"),  # peft PeftModel: base_model.model.<HF module>
    ("_orig_mod.", "torch.compile prefix"),  # torch._dynamo OptimizedModule
    ("module.", "DataParallel/DDP prefix"),  # torch.nn.parallel
)

# Adapter suffixes: a LoRA tensor is named after the module it modifies (peft tuners/lora; llama.cpp LoRA GGUF).
ADAPTER_SUFFIXES: tuple[str, ...] = (
    ".lora_A.weight",
    ".lora_B.weight",
    ".lora_embedding_A",
    ".lora_embedding_B",
    ".weight.lora_a",
    ".weight.lora_b",
)


def _expand() -> dict[str, Scheme]:
    by_name: dict[str, Scheme] = {}
    for row in _ROWS:
        roles: dict[str, tuple[str, ...]] = {}
        if row.extends:
            roles.update(by_name[row.extends].roles)
        roles.update(row.roles)
        roles = {r: t for r, t in roles.items() if t}
        by_name[row.name] = Scheme(
            row.name,
            row.family,
            row.source,
            roles,
            row.extends,
            row.rope,
            row.qkv_layout,
            row.conv1d,
            row.formats,
            row.model_types,
        )
    return by_name


SCHEMES: dict[str, Scheme] = _expand()

_LAYER_RE = re.compile(r"(?:^|\.)(\d+)(?=\.|$)")


def layer_key(name: str) -> tuple[str, int | None]:
    """``("blk.{L}.attn_q.weight", 3)`` for ``blk.3.attn_q.weight``: the first dotted number is the layer."""
    m = _LAYER_RE.search(name)
    if not m:
        return name, None
    start, end = m.span(1)
    return name[:start] + LAYER + name[end:], int(m.group(1))


@dataclass
class Lookup:
    """A scheme expanded to ``template → role``."""

    scheme: Scheme
    table: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, scheme: Scheme) -> Lookup:
        table: dict[str, str] = {}
        for role, templates in scheme.roles.items():
            for t in templates:
                table[t] = role
        return cls(scheme, table)

    def role(self, name: str) -> tuple[str, int | None] | None:
        key, layer = layer_key(name)
        role = self.table.get(key)
        if role is None and layer is not None and name in self.table:  # a template without a layer index
            return self.table[name], None
        if role is None:
            return None
        return role, layer


LOOKUPS: dict[str, Lookup] = {name: Lookup.of(s) for name, s in SCHEMES.items()}


def canonical_name(role: str, layer: int | None) -> str:
    template = CANONICAL[role]
    return template.replace(LAYER, str(layer)) if LAYER in template else template


# ---------------------------------------------------------------------------------------------------------------
# Mixture-of-experts MLPs (sparse upcycling and MoE families). Templates use {L} for the layer and {E} for the
# expert. Canonical names are Qwen2-MoE's (transformers modeling_qwen2_moe.py): routed experts
# ``mlp.experts.{E}.{gate,up,down}_proj``, router ``mlp.gate``, always-on ``mlp.shared_expert`` and its scalar gate
# ``mlp.shared_expert_gate``. These tensors are kept out of the dense-LLaMA role inference.
EXPERT = "{E}"
MOE_CANONICAL: dict[str, str] = {
    "expert_gate": "model.layers.{L}.mlp.experts.{E}.gate_proj.weight",
    "expert_up": "model.layers.{L}.mlp.experts.{E}.up_proj.weight",
    "expert_down": "model.layers.{L}.mlp.experts.{E}.down_proj.weight",
    "router": "model.layers.{L}.mlp.gate.weight",
    "shared_gate": "model.layers.{L}.mlp.shared_expert.gate_proj.weight",
    "shared_up": "model.layers.{L}.mlp.shared_expert.up_proj.weight",
    "shared_down": "model.layers.{L}.mlp.shared_expert.down_proj.weight",
    "shared_router": "model.layers.{L}.mlp.shared_expert_gate.weight",
}
_QWEN_MOE = dict(MOE_CANONICAL)
MOE_LAYOUTS: dict[str, tuple[str, dict[str, str]]] = {
    # Mixtral (transformers MixtralForCausalLM hub layout; mistral-src moe.py): w1 gate, w3 up, w2 down, as in Meta.
    "mixtral": (
        "transformers MixtralForCausalLM (hub layout)",
        {
            "expert_gate": "model.layers.{L}.block_sparse_moe.experts.{E}.w1.weight",
            "expert_up": "model.layers.{L}.block_sparse_moe.experts.{E}.w3.weight",
            "expert_down": "model.layers.{L}.block_sparse_moe.experts.{E}.w2.weight",
            "router": "model.layers.{L}.block_sparse_moe.gate.weight",
        },
    ),
    # Qwen1.5-MoE / Qwen2-MoE (transformers modeling_qwen2_moe.py), also OLMoE and Qwen3-MoE (no shared expert).
    "qwen2_moe": ("transformers Qwen2MoeForCausalLM", _QWEN_MOE),
    # DeepSeek-MoE / DeepSeek-V2 remote code (modeling_deepseek.py): `shared_experts` (plural) is one wider MLP.
    "deepseek_moe": (
        "deepseek-ai DeepseekForCausalLM remote code",
        dict(
            _QWEN_MOE,
            shared_gate="model.layers.{L}.mlp.shared_experts.gate_proj.weight",
            shared_up="model.layers.{L}.mlp.shared_experts.up_proj.weight",
            shared_down="model.layers.{L}.mlp.shared_experts.down_proj.weight",
        ),
    ),
    # llama.cpp GGUF, one tensor per expert (Mixtral conversions before the stacked layout; gguf-py tensor_mapping.py
    # MODEL_TENSOR.FFN_*_EXP history); routers and shared experts as gguf-py constants.py names them.
    "gguf": (
        "llama.cpp GGUF",
        {
            "expert_gate": "blk.{L}.ffn_gate.{E}.weight",
            "expert_up": "blk.{L}.ffn_up.{E}.weight",
            "expert_down": "blk.{L}.ffn_down.{E}.weight",
            "router": "blk.{L}.ffn_gate_inp.weight",
            "shared_gate": "blk.{L}.ffn_gate_shexp.weight",
            "shared_up": "blk.{L}.ffn_up_shexp.weight",
            "shared_down": "blk.{L}.ffn_down_shexp.weight",
            "shared_router": "blk.{L}.ffn_gate_inp_shexp.weight",
        },
    ),
    # llama.cpp GGUF, all experts of a role stacked in one 3-D tensor [experts, rows, columns] (numpy order;
    # gguf-py constants.py FFN_GATE_EXP "blk.{bid}.ffn_gate_exps" etc.): read one expert at a time.
    "gguf_stacked": (
        "llama.cpp GGUF, stacked experts",
        {
            "expert_gate": "blk.{L}.ffn_gate_exps.weight",
            "expert_up": "blk.{L}.ffn_up_exps.weight",
            "expert_down": "blk.{L}.ffn_down_exps.weight",
        },
    ),
}
STACKED_MOE = {"gguf_stacked"}  # layouts whose templates have no {E}: one tensor holds every expert


def _moe_regex(template: str) -> re.Pattern:
    parts = re.split(r"(\{L\}|\{E\})", template)
    rx = "".join("(?P<L>\\d+)" if p == LAYER else "(?P<E>\\d+)" if p == EXPERT else re.escape(p) for p in parts)
    return re.compile(f"^{rx}$")


_MOE_RX: list[tuple[str, str, re.Pattern]] = [
    (layout, role, _moe_regex(t)) for layout, (_, roles) in MOE_LAYOUTS.items() for role, t in roles.items()
]


def moe_canonical(name: str) -> tuple[str, str] | None:
    """``(canonical name, layout)`` for a mixture-of-experts tensor name (prefixes already stripped), else None. For
    a stacked layout (:data:`STACKED_MOE`) the canonical name keeps ``{E}``: the tensor holds every expert."""
    for layout, role, rx in _MOE_RX:
        m = rx.match(name)
        if m:
            out = MOE_CANONICAL[role].replace(LAYER, m.group("L"))
            return (out.replace(EXPERT, m.group("E")) if "E" in rx.groupindex else out), layout
    return None
