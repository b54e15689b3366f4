"""normalize across formats: Meta consolidated, GGUF (F32 and Q8_0), llama2.c (model.bin and ckpt.pt), and the real
stories260K checkpoint. Inputs are written from a transformers LLaMA with Q/K rows in Meta's interleaved order
(the llama.cpp permutation, written out here independently), so a missing or wrong un-permutation shows in logits.
"""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch
import transformers
from test_normalize_common import build, load_llama, logits, tiny_llama_config

from provenance.checkpoint import open_checkpoint
from provenance.normalize import normalize, write_canonical

CFG = dict(intermediate_size=64, num_attention_heads=4, num_key_value_heads=2)  # rows of 32: Q8_0 blocks


def to_meta_order(w: np.ndarray, n_heads: int) -> np.ndarray:
    """HF → Meta rotary rows (llama.cpp convert_hf_to_gguf.py LlamaModel.permute)."""
    rows = w.shape[0]
    return w.reshape(n_heads, 2, rows // n_heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def meta_state_dict(model, cfg) -> dict[str, np.ndarray]:
    sd = {k: v.detach().float().numpy() for k, v in model.state_dict().items()}
    out = {
        "tok_embeddings.weight": sd["model.embed_tokens.weight"],
        "norm.weight": sd["model.norm.weight"],
        "output.weight": sd["lm_head.weight"],
    }
    for i in range(cfg.num_hidden_layers):
        p = f"model.layers.{i}."
        out[f"layers.{i}.attention_norm.weight"] = sd[p + "input_layernorm.weight"]
        out[f"layers.{i}.attention.wq.weight"] = to_meta_order(
            sd[p + "self_attn.q_proj.weight"], cfg.num_attention_heads
        )
        out[f"layers.{i}.attention.wk.weight"] = to_meta_order(
            sd[p + "self_attn.k_proj.weight"], cfg.num_key_value_heads
        )
        out[f"layers.{i}.attention.wv.weight"] = sd[p + "self_attn.v_proj.weight"]
        out[f"layers.{i}.attention.wo.weight"] = sd[p + "self_attn.o_proj.weight"]
        out[f"layers.{i}.ffn_norm.weight"] = sd[p + "post_attention_layernorm.weight"]
        out[f"layers.{i}.feed_forward.w1.weight"] = sd[p + "mlp.gate_proj.weight"]
        out[f"layers.{i}.feed_forward.w2.weight"] = sd[p + "mlp.down_proj.weight"]
        out[f"layers.{i}.feed_forward.w3.weight"] = sd[p + "mlp.up_proj.weight"]
    return out


@pytest.fixture(scope="module")
def llama():
    cfg = tiny_llama_config(**CFG)
    return build(transformers.LlamaForCausalLM, cfg), cfg


def _roundtrip(src, tmp_path, model, tol=1e-4, **kw):
    cm = normalize(open_checkpoint(src), **kw)
    assert cm.llama_compatible and not cm.unmatched and not cm.problems, (cm.incompatible, cm.problems)
    write_canonical(cm, tmp_path / "out")
    diff = np.abs(logits(load_llama(tmp_path / "out")) - logits(model)).max()
    assert diff <= tol, diff
    return cm


def test_meta_consolidated(llama, tmp_path):
    model, cfg = llama
    d = tmp_path / "meta"
    d.mkdir()
    torch.save({k: torch.from_numpy(v) for k, v in meta_state_dict(model, cfg).items()}, d / "consolidated.00.pth")
    (d / "params.json").write_text(
        json.dumps(
            {
                "dim": 32,
                "n_layers": 2,
                "n_heads": 4,
                "n_kv_heads": 2,
                "vocab_size": 64,
                "norm_eps": 1e-5,
                "multiple_of": 32,
            }
        )
    )
    cm = _roundtrip(d, tmp_path, model)
    assert cm.scheme == "meta" and cm.family == "llama"
    assert any("interleaved (Meta) → half-split" in t for t in cm.transforms)
    assert ("layers.0.feed_forward.w3.weight", "model.layers.0.mlp.up_proj.weight") in {
        (r.from_, r.to) for r in cm.renames
    }


def _write_gguf(path, model, cfg, qtype):
    import gguf

    T = gguf.GGMLQuantizationType
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_block_count(cfg.num_hidden_layers)
    w.add_context_length(64)
    w.add_embedding_length(cfg.hidden_size)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(10000.0)
    names = {
        "tok_embeddings.weight": "token_embd.weight",
        "norm.weight": "output_norm.weight",
        "output.weight": "output.weight",
    }
    layer = {
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
    dequantized = {}
    for name, x in meta_state_dict(model, cfg).items():
        if name.startswith("layers."):
            _, i, rest = name.split(".", 2)
            gname = f"blk.{i}.{layer[rest.removesuffix('.weight')]}.weight"
        else:
            gname = names[name]
        if x.ndim == 2 and qtype != T.F32:
            q = gguf.quants.quantize(x, qtype)
            w.add_tensor(gname, q, raw_dtype=qtype)
            dequantized[name] = gguf.quants.dequantize(q, qtype)
        else:
            w.add_tensor(gname, x)
            dequantized[name] = x
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return dequantized


def _model_with(meta_weights, cfg):
    """The transformers model whose weights are these (Meta-order) weights, taken back to HF order."""
    model = transformers.LlamaForCausalLM(cfg).eval()
    inv = {}
    for name, x in meta_weights.items():
        if name.endswith(("wq.weight", "wk.weight")):
            heads = cfg.num_attention_heads if "wq" in name else cfg.num_key_value_heads
            rows = x.shape[0]
            x = x.reshape(heads, rows // heads // 2, 2, -1).swapaxes(1, 2).reshape(x.shape)
        inv[name] = x
    sd = {
        "model.embed_tokens.weight": inv["tok_embeddings.weight"],
        "model.norm.weight": inv["norm.weight"],
        "lm_head.weight": inv["output.weight"],
    }
    hf = {
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
    for name, x in inv.items():
        if name.startswith("layers."):
            _, i, rest = name.split(".", 2)
            sd[f"model.layers.{i}.{hf[rest.removesuffix('.weight')]}.weight"] = x
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()})
    return model


@pytest.mark.parametrize("qtype", ["F32", "Q8_0"])
def test_gguf(llama, tmp_path, qtype):
    import gguf

    model, cfg = llama
    deq = _write_gguf(tmp_path / "m.gguf", model, cfg, getattr(gguf.GGMLQuantizationType, qtype))
    expected = model if qtype == "F32" else _model_with(deq, cfg)  # quantized: the dequantized model is exact
    cm = _roundtrip(tmp_path / "m.gguf", tmp_path, expected)
    assert cm.scheme == "gguf" and cm.arch.values["num_key_value_heads"] == 2
    assert cm.arch.sources["head_dim"] == "metadata"
    if qtype != "F32":  # and close to the float model within quantization error
        assert np.abs(logits(expected) - logits(model)).max() < 0.05 * np.abs(logits(model)).max()


def _write_llama2c_v0(path, model, cfg, shared: bool):
    """karpathy/llama2.c export.py legacy_export: 7 int32 header, then float32 arrays in its order."""
    sd = meta_state_dict(model, cfg)
    L, hd = cfg.num_hidden_layers, cfg.hidden_size // cfg.num_attention_heads
    seq = 16
    vocab = cfg.vocab_size if shared else -cfg.vocab_size
    arrays = [sd["tok_embeddings.weight"]]
    for kind in (
        "attention_norm",
        "attention.wq",
        "attention.wk",
        "attention.wv",
        "attention.wo",
        "ffn_norm",
        "feed_forward.w1",
        "feed_forward.w2",
        "feed_forward.w3",
    ):
        arrays += [sd[f"layers.{i}.{kind}.weight"] for i in range(L)]
    arrays.append(sd["norm.weight"])
    freqs = 1.0 / 10000.0 ** (np.arange(0, hd, 2)[: hd // 2] / hd)
    angles = np.outer(np.arange(seq), freqs)
    arrays += [np.cos(angles), np.sin(angles)]
    if not shared:
        arrays.append(sd["output.weight"])
    with open(path, "wb") as fh:
        fh.write(
            struct.pack(
                "<7i",
                cfg.hidden_size,
                cfg.intermediate_size,
                L,
                cfg.num_attention_heads,
                cfg.num_key_value_heads,
                vocab,
                seq,
            )
        )
        for a in arrays:
            fh.write(np.ascontiguousarray(a, dtype="<f4").tobytes())


def test_llama2c_model_bin(llama, tmp_path):
    model, cfg = llama
    _write_llama2c_v0(tmp_path / "model.bin", model, cfg, shared=False)
    cm = _roundtrip(tmp_path / "model.bin", tmp_path, model)
    assert cm.scheme == "llama2c" and {d["name"] for d in cm.dropped} == {"freq_cis_real", "freq_cis_imag"}


def test_llama2c_ckpt_pt_with_compile_prefix(llama, tmp_path):
    model, cfg = llama
    sd = {"_orig_mod." + k: torch.from_numpy(v) for k, v in meta_state_dict(model, cfg).items()}
    args = {
        "dim": 32,
        "n_layers": 2,
        "n_heads": 4,
        "n_kv_heads": 2,
        "vocab_size": 64,
        "multiple_of": 32,
        "norm_eps": 1e-5,
        "max_seq_len": 64,
        "dropout": 0.0,
    }
    torch.save({"model": sd, "model_args": args, "iter_num": 10}, tmp_path / "ckpt.pt")
    cm = _roundtrip(tmp_path / "ckpt.pt", tmp_path, model)
    assert cm.scheme == "meta"


def _llama2c_reference_logits(ckpt, tokens):
    """An independent forward pass of llama2.c's model.py (interleaved RoPE on Meta-order rows), float64."""
    c = ckpt.metadata["llama2c"]
    t = {n: r.read().astype(np.float64) for n, r in ckpt.tensors.items()}
    H, nh, nkv, L = c["dim"], c["n_heads"], c["n_kv_heads"], c["n_layers"]
    hd = H // nh

    def rms(x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-5) * w

    def rope(x):  # x [T, heads, hd]: rotate pairs (2i, 2i+1) as complex numbers
        T = x.shape[0]
        freqs = 1.0 / 10000.0 ** (np.arange(0, hd, 2) / hd)
        ang = np.outer(np.arange(T), freqs)[:, None, :]
        xc = x[..., 0::2] + 1j * x[..., 1::2]
        y = xc * np.exp(1j * ang)
        out = np.empty_like(x)
        out[..., 0::2], out[..., 1::2] = y.real, y.imag
        return out

    x = t["tok_embeddings.weight"][tokens]
    T = len(tokens)
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(L):
        p = f"layers.{i}."
        h = rms(x, t[p + "attention_norm.weight"])
        q = rope((h @ t[p + "attention.wq.weight"].T).reshape(T, nh, hd))
        k = rope((h @ t[p + "attention.wk.weight"].T).reshape(T, nkv, hd))
        v = (h @ t[p + "attention.wv.weight"].T).reshape(T, nkv, hd)
        k, v = np.repeat(k, nh // nkv, axis=1), np.repeat(v, nh // nkv, axis=1)
        att = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        o = np.einsum("hts,shd->thd", att, v).reshape(T, H)
        x = x + o @ t[p + "attention.wo.weight"].T
        h = rms(x, t[p + "ffn_norm.weight"])
        g = h @ t[p + "feed_forward.w1.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * (h @ t[p + "feed_forward.w3.weight"].T)) @ t[p + "feed_forward.w2.weight"].T
    x = rms(x, t["norm.weight"])
    head = t.get("output.weight", t["tok_embeddings.weight"])
    return x @ head.T


def test_stories260k_normalizes_to_llama_with_equal_logits(stories260k, tmp_path):
    ckpt = open_checkpoint(stories260k)
    cm = normalize(ckpt)
    assert (cm.family, cm.llama_compatible, cm.tied, cm.unmatched) == ("llama", True, True, [])
    a = cm.arch.values
    assert (
        a["hidden_size"],
        a["num_hidden_layers"],
        a["num_attention_heads"],
        a["num_key_value_heads"],
        a["head_dim"],
        a["intermediate_size"],
        a["vocab_size"],
    ) == (64, 5, 8, 4, 8, 172, 512)
    write_canonical(cm, tmp_path / "out")
    tokens = [1, 403, 407, 261, 378, 1317 % 512, 30, 9, 13, 200, 100, 42]
    ours = logits(load_llama(tmp_path / "out"), [tokens])[0]
    assert np.abs(ours - _llama2c_reference_logits(ckpt, tokens)).max() <= 1e-4
