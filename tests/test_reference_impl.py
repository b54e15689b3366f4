"""The reference model against transformers itself, on tiny random configs and on the real stories260K file."""

from __future__ import annotations

import re
import struct

import numpy as np
import pytest
import torch

transformers = pytest.importorskip("transformers")

from reference_impl import CanonicalLoadError, Llama, LlamaConfig, greedy  # noqa: E402
from reference_impl.model import rope_inv_freq  # noqa: E402


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models run faster on one thread, and much faster when other jobs share the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


BASE = dict(
    vocab_size=101,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=64,
    rms_norm_eps=1e-5,
)

LLAMA3 = {
    "rope_type": "llama3",
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 16,
}

CASES = {
    "mha_untied": {},
    "gqa_tied": dict(num_key_value_heads=2, tie_word_embeddings=True),
    "mqa": dict(num_key_value_heads=1),
    "head_dim_not_hidden_over_heads": dict(num_key_value_heads=2, head_dim=24),
    "llama3_scaling_beyond_original_len": dict(num_key_value_heads=2, rope_theta=500000.0, rope_scaling=LLAMA3),
    "linear_scaling": dict(rope_scaling={"rope_type": "linear", "factor": 4.0}),
    "dynamic_ntk_beyond_max_len": dict(rope_scaling={"rope_type": "dynamic", "factor": 2.0}),
    "attention_and_mlp_bias": dict(attention_bias=True, mlp_bias=True, num_key_value_heads=2),
}
SEQ_LEN = 80  # longer than original_max_position_embeddings (16) and than max_position_embeddings (64)


def randomize(model: torch.nn.Module, seed: int = 0) -> None:
    """Weights large enough that attention, RoPE and norms all matter (HF init gives near-uniform outputs)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.copy_(1.0 + 0.2 * noise if name.endswith("norm.weight") else noise / p.shape[-1] ** 0.5)


def compare(hf_cls, hf_config, seq_len: int = SEQ_LEN) -> None:
    hf = hf_cls(hf_config).eval()
    randomize(hf)
    ref = Llama(LlamaConfig.from_hf(hf_config.to_dict())).eval()
    report = ref.load_canonical(hf.state_dict())
    assert not report.missing and not report.unexpected
    ids = torch.randint(0, hf_config.vocab_size, (2, seq_len), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ref(ids), hf(ids).logits.float())


@pytest.mark.parametrize("case", sorted(CASES))
def test_logits_equal_transformers_llama(case):
    compare(transformers.LlamaForCausalLM, transformers.LlamaConfig(**BASE, **CASES[case]))


def test_logits_equal_transformers_mistral_with_sliding_window_shorter_than_sequence():
    cfg = transformers.MistralConfig(**BASE, num_key_value_heads=2, sliding_window=8)
    assert LlamaConfig.from_hf(cfg.to_dict()).sliding_window == 8
    compare(transformers.MistralForCausalLM, cfg)


def test_logits_equal_transformers_qwen2_with_qkv_bias_only():
    cfg = transformers.Qwen2Config(**BASE, num_key_value_heads=2, tie_word_embeddings=True)
    ours = LlamaConfig.from_hf(cfg.to_dict())
    assert ours.attention_bias and not ours.o_proj_bias and ours.sliding_window is None
    compare(transformers.Qwen2ForCausalLM, cfg)


def test_from_hf_reads_both_rope_spellings_and_ignores_unknown_keys():
    v4 = {
        "hidden_size": 64,
        "num_attention_heads": 4,
        "rope_theta": 500000.0,
        "torch_dtype": "bfloat16",
        "rope_scaling": {"type": "linear", "factor": 2.0},
        "some_future_key": [1, 2],
    }
    v5 = {
        "hidden_size": 64,
        "num_attention_heads": 4,
        "rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 500000.0},
    }
    plain = {
        "hidden_size": 64,
        "num_attention_heads": 4,
        "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0},
    }
    assert LlamaConfig.from_hf(v4) == LlamaConfig.from_hf(v5)
    assert LlamaConfig.from_hf(v5).rope_scaling == {"rope_type": "linear", "factor": 2.0}
    assert LlamaConfig.from_hf(v5).rope_theta == 500000.0
    assert LlamaConfig.from_hf(plain).rope_scaling is None
    assert LlamaConfig.from_hf(plain).head_dim == 16 and LlamaConfig.from_hf(plain).num_key_value_heads == 4


def test_llama3_scaling_leaves_high_frequencies_and_divides_low_ones():
    cfg = LlamaConfig(**{**BASE, "rope_scaling": {**LLAMA3, "original_max_position_embeddings": 8192}})
    plain, scaled = rope_inv_freq(LlamaConfig(**BASE), 64), rope_inv_freq(cfg, 64)
    assert scaled[0] == plain[0]  # shortest wavelength untouched
    assert torch.isclose(scaled[-1], plain[-1] / 8)  # longest wavelength divided by factor


def test_parameter_names_are_the_canonical_hf_names():
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**BASE, num_key_value_heads=2))
    ref = Llama(LlamaConfig(**BASE, num_key_value_heads=2))
    assert set(dict(ref.named_parameters())) == set(hf.state_dict())


def test_strict_load_lists_missing_unexpected_and_misshapen_keys():
    ref = Llama(LlamaConfig(**BASE))
    sd = {k: v.clone() for k, v in ref.state_dict().items()}
    del sd["model.layers.1.mlp.up_proj.weight"]
    sd["model.layers.0.ln1.weight"] = torch.ones(64)
    sd["model.norm.weight"] = torch.ones(65)
    with pytest.raises(CanonicalLoadError) as err:
        Llama(LlamaConfig(**BASE)).load_canonical(sd)
    msg = str(err.value)
    assert "model.layers.1.mlp.up_proj.weight" in msg and "model.layers.0.ln1.weight" in msg
    assert "model.norm.weight: got (65,), expected (64,)" in msg
    report = Llama(LlamaConfig(**BASE)).load_canonical(sd, strict=False)
    assert report.missing == ["model.layers.1.mlp.up_proj.weight"]
    assert report.unexpected == ["model.layers.0.ln1.weight"]


def test_loads_numpy_arrays_and_tied_head_may_be_absent_or_equal():
    cfg = LlamaConfig(**BASE, tie_word_embeddings=True)
    src = Llama(cfg)
    randomize(src)
    arrays = {k: v.numpy().copy() for k, v in src.state_dict().items()}
    assert "lm_head.weight" in arrays  # state_dict lists the tied head under both names
    ids = torch.arange(10)[None]
    with_head, without_head = Llama(cfg), Llama(cfg)
    with_head.load_canonical(arrays)
    without_head.load_canonical({k: v for k, v in arrays.items() if k != "lm_head.weight"})
    torch.testing.assert_close(with_head(ids), src(ids))
    torch.testing.assert_close(without_head(ids), src(ids))
    arrays["lm_head.weight"] = arrays["lm_head.weight"] + 1
    with pytest.raises(CanonicalLoadError, match="differs from model.embed_tokens.weight"):
        Llama(cfg).load_canonical(arrays)


def test_bfloat16_forward_returns_float32_logits_close_to_float32():
    cfg = LlamaConfig(**BASE, num_key_value_heads=2)
    f32 = Llama(cfg)
    randomize(f32)
    bf16 = Llama(cfg, dtype=torch.bfloat16)
    bf16.load_canonical(f32.state_dict())
    ids = torch.arange(12)[None]
    out = bf16(ids)
    assert out.dtype == torch.float32
    assert (out - f32(ids)).abs().max() < 0.5


# ------------------------------------------------------------------ KV cache and weights kept as stored
def greedy_full_recompute(model, prompt, steps):
    """The cache-free definition: recompute the whole sequence for every new token."""
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(steps):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
    return ids[len(prompt) :]


@pytest.mark.parametrize(
    "extra",
    [
        dict(num_key_value_heads=2),
        dict(num_key_value_heads=1, sliding_window=5),
        dict(rope_scaling={"rope_type": "dynamic", "factor": 2.0}, max_position_embeddings=8),
    ],
)
def test_cached_greedy_equals_full_recompute(extra):
    model = Llama(LlamaConfig(**{**BASE, **extra})).eval()
    randomize(model, seed=2)
    assert greedy(model, [1, 7, 9], 20) == greedy_full_recompute(model, [1, 7, 9], 20)


def test_streamed_model_runs_from_stored_bfloat16_and_keeps_nothing_widened():
    from reference_impl.model import streamed

    cfg = LlamaConfig(**BASE, num_key_value_heads=2, tie_word_embeddings=True)
    f32 = Llama(cfg).eval()
    randomize(f32, seed=4)
    stored = {n: p.detach().to(torch.bfloat16) for n, p in f32.named_parameters(remove_duplicate=False)}
    f32.load_canonical({n: v.float() for n, v in stored.items() if n != "lm_head.weight"})  # the widened values
    lazy = streamed(
        Llama.empty(cfg).eval(), {**stored, "model.norm.weight": lambda: stored["model.norm.weight"].float()}
    )
    ids = torch.randint(0, cfg.vocab_size, (2, 20), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.equal(lazy(ids), f32(ids))
    assert {p.device.type for p in lazy.parameters()} == {"meta"}  # weights given back after each unit
    assert greedy(lazy, [1], 12) == greedy(f32, [1], 12)


def test_check_shapes_reports_like_a_non_strict_load_without_reading():
    model = Llama.empty(LlamaConfig(**BASE))
    shapes = model.expected_shapes()
    shapes.pop("model.layers.1.mlp.up_proj.weight")
    shapes["model.layers.0.self_attn.q_proj.weight"] = (3, 64)
    shapes["model.layers.0.extra.weight"] = (4,)
    r = model.check_shapes(shapes)
    assert r.missing == ["model.layers.1.mlp.up_proj.weight"] and r.unexpected == ["model.layers.0.extra.weight"]
    assert r.mismatched == ["model.layers.0.self_attn.q_proj.weight: got (3, 64), expected (64, 64)"]


def test_parameters_on_meta_builds_transformers_models_with_real_buffers():
    from reference_impl.model import parameters_on_meta

    with parameters_on_meta():
        hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**BASE))
    assert {p.device.type for p in hf.parameters()} == {"meta"}
    assert all(b.device.type == "cpu" for b in hf.buffers()) and any(True for _ in hf.buffers())
    assert nn_register_is_restored()


def nn_register_is_restored() -> bool:
    return torch.nn.Linear(2, 2).weight.device.type == "cpu"


# ------------------------------------------------------------------ stories260K (real llama2.c v0 checkpoint)
def read_llama2c_v0(path) -> tuple[dict, dict[str, np.ndarray]]:
    """Parse the legacy llama2.c export here, independently of the project's reader: 7 int32 header fields,
    then float32 arrays in a fixed order (llama2.c `export.py legacy_export`); a positive vocab_size means
    the classifier is the embedding. Q/K rows are moved from Meta's interleaved rotary order to HF's
    half-split order with the permutation of transformers' convert_llama_weights_to_hf.py."""
    raw = path.read_bytes()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", raw[:28])
    hd = dim // n_heads
    data = np.frombuffer(raw, dtype="<f4", offset=28)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = int(np.prod(shape))
        out = data[pos : pos + n].reshape(shape)
        pos += n
        return out

    def meta_to_hf(w, heads):
        return w.reshape(heads, hd // 2, 2, dim).transpose(0, 2, 1, 3).reshape(heads * hd, dim)

    emb = take(abs(vocab), dim)
    att_norm = take(n_layers, dim)
    wq, wk = take(n_layers, n_heads * hd, dim), take(n_layers, n_kv * hd, dim)
    wv, wo = take(n_layers, n_kv * hd, dim), take(n_layers, dim, n_heads * hd)
    ffn_norm = take(n_layers, dim)
    w1, w2, w3 = take(n_layers, hidden, dim), take(n_layers, dim, hidden), take(n_layers, hidden, dim)
    sd = {"model.embed_tokens.weight": emb, "model.norm.weight": take(dim)}
    for i in range(n_layers):
        p = f"model.layers.{i}."
        sd.update(
            {
                p + "input_layernorm.weight": att_norm[i],
                p + "post_attention_layernorm.weight": ffn_norm[i],
                p + "self_attn.q_proj.weight": meta_to_hf(wq[i], n_heads),
                p + "self_attn.k_proj.weight": meta_to_hf(wk[i], n_kv),
                p + "self_attn.v_proj.weight": wv[i],
                p + "self_attn.o_proj.weight": wo[i],
                p + "mlp.gate_proj.weight": w1[i],
                p + "mlp.down_proj.weight": w2[i],
                p + "mlp.up_proj.weight": w3[i],
            }
        )
    sd["lm_head.weight"] = emb if vocab > 0 else take(abs(vocab), dim)
    config = dict(
        vocab_size=abs(vocab),
        hidden_size=dim,
        intermediate_size=hidden,
        num_hidden_layers=n_layers,
        num_attention_heads=n_heads,
        num_key_value_heads=n_kv,
        max_position_embeddings=seq_len,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=vocab > 0,
    )
    return config, {k: np.array(v) for k, v in sd.items()}  # writable copies


def test_stories260k_greedy_from_bos_equals_transformers_for_64_steps(stories260k):
    config, sd = read_llama2c_v0(stories260k)
    ref = Llama(LlamaConfig(**config)).eval()
    assert not ref.load_canonical(sd).missing
    hf = transformers.LlamaForCausalLM(transformers.LlamaConfig(**config)).eval()
    hf.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
    ours = greedy(ref, [1], 64)
    with torch.no_grad():
        theirs = hf.generate(
            torch.tensor([[1]]),
            max_new_tokens=64,
            min_new_tokens=64,
            do_sample=False,
            eos_token_id=None,
            pad_token_id=0,
        )[0, 1:].tolist()
    assert ours == theirs
    # llama2.c's run.c, greedy from BOS on this file with tok512.bin, prints the story quoted in
    # ../shared/models/stories260K/SOURCE.md; the first 64 tokens must spell its opening.
    text = decode_llama2c_tokens(stories260k.with_name("tok512.bin"), ours)
    story = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."
    assert text.startswith(story), text


def decode_llama2c_tokens(tok_path, ids: list[int]) -> str:
    """Decode with a llama2.c tokenizer file, written here independently of the project's reader: an int32
    max_token_length, then per token a float32 score, an int32 length and the bytes (run.c `build_tokenizer`).
    As run.c's `decode`, a leading space is dropped after BOS and ``<0xNN>`` pieces stand for one raw byte."""
    raw = tok_path.read_bytes()
    pos, pieces = 4, []
    while pos < len(raw):
        _score, n = struct.unpack_from("<fi", raw, pos)
        pieces.append(raw[pos + 8 : pos + 8 + n])
        pos += 8 + n
    out = b""
    for i, t in enumerate(ids):
        piece = pieces[t]
        m = re.fullmatch(rb"<0x([0-9A-Fa-f]{2})>", piece)
        if m:
            piece = bytes([int(m.group(1), 16)])
        elif i == 0:
            piece = piece.lstrip(b" ")
        out += piece
    return out.decode("utf-8", "replace")


# ------------------------------------------------------------------------------------------ architecture graph
from reference_impl.graph import Graph, diff, graph_from_inventory, reference_graph  # noqa: E402

TINY = dict(
    vocab_size=101,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
)


def inventory(hf_model) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in hf_model.state_dict().items()}


def graphs_for(hf_cls, hf_config, **traits) -> tuple[Graph, Graph]:
    """(LLaMA reference graph with this config's sizes, graph of a real state dict of hf_cls)."""
    values = hf_config.to_dict()
    ref = reference_graph(LlamaConfig.from_hf(values))
    return ref, graph_from_inventory(inventory(hf_cls(hf_config)), {**values, **traits})


def test_reference_graph_is_traced_from_the_model():
    g = reference_graph(LlamaConfig(**TINY))
    kinds = {n.name: n.kind for n in g.nodes}
    assert kinds["model.layers.3.self_attn.attention"] == "attention"
    assert kinds["model.layers.0.mlp.act_fn"] == "activation"
    assert g.node("model.layers.0.self_attn.attention").attrs["num_kv_heads"] == 2
    assert ("model.layers.0.self_attn.rope", "model.layers.0.self_attn.attention") in g.edges
    assert ("model.layers.0.residual_add", "model.layers.0.post_attention_layernorm") in g.edges
    assert sum(k == "residual_add" for k in kinds.values()) == 8


def test_real_llama_state_dict_inventory_is_identical_to_reference_graph():
    for extra in (
        {},
        {"tie_word_embeddings": True},
        {"head_dim": 32, "attention_bias": True},
        {"rope_scaling": {"rope_type": "linear", "factor": 2.0}},
    ):
        cfg = transformers.LlamaConfig(**TINY, **extra)
        hf = transformers.LlamaForCausalLM(cfg)
        ref = reference_graph(LlamaConfig.from_hf(cfg.to_dict()), as_llama=False)
        other = graph_from_inventory(inventory(hf), cfg.to_dict())
        assert diff(ref, other) == [], extra
        assert set(ref.edges) == set(other.edges)


def test_qwen2_inventory_differs_by_qkv_bias():
    ref, other = graphs_for(transformers.Qwen2ForCausalLM, transformers.Qwen2Config(**TINY))
    assert diff(ref, other) == ["q/k/v projections have bias"]
    exact = reference_graph(LlamaConfig.from_hf(transformers.Qwen2Config(**TINY).to_dict()), as_llama=False)
    assert diff(exact, other) == []  # the reference can run Qwen2's q/k/v bias


def test_qwen3_inventory_adds_qk_norm():
    ref, other = graphs_for(transformers.Qwen3ForCausalLM, transformers.Qwen3Config(**TINY, head_dim=32))
    assert diff(ref, other) == ["adds q_norm/k_norm (queries and keys normalized per head, Qwen3/OLMo2 style)"]


def test_gemma_like_inventory_reports_offset_activation_and_embedding_scale():
    cfg = transformers.GemmaConfig(**TINY, head_dim=16)
    ref, other = graphs_for(
        transformers.GemmaForCausalLM, cfg, norm_offset=1.0, embedding_scale=8.0, tie_word_embeddings=True
    )
    found = diff(ref, other)
    assert "activation gelu_pytorch_tanh where LLaMA uses silu" in found
    assert "norms scale by (1 + weight) (Gemma style) where LLaMA scales by weight" in found
    assert "embeddings scaled by 8 where LLaMA does not scale them" in found
    assert found == sorted(found)


def test_gemma2_inventory_reports_extra_norms():
    cfg = transformers.Gemma2Config(**TINY, head_dim=16, hidden_activation="silu", hidden_act="silu")
    ref, other = graphs_for(transformers.Gemma2ForCausalLM, cfg, activation="silu", tie_word_embeddings=True)
    post_norms = "adds norms on the attention and MLP outputs before the residual adds (Gemma2/OLMo2-style post-norms)"
    assert post_norms in diff(ref, other)
    # The normalization room renames Gemma2's attention-output norm so it cannot collide with LLaMA's MLP norm.
    canonical = {
        k.replace("post_attention_layernorm", "post_attention_output_layernorm").replace(
            "pre_feedforward_layernorm", "post_attention_layernorm"
        ): v
        for k, v in inventory(transformers.Gemma2ForCausalLM(cfg)).items()
    }
    assert post_norms in diff(ref, graph_from_inventory(canonical, {"activation": "silu"}))


def test_gpt2_like_inventory_plain_mlp_learned_positions_layernorm():
    cfg = LlamaConfig(**TINY)
    shapes = {k: tuple(v.shape) for k, v in Llama(cfg).state_dict().items() if "gate_proj" not in k}
    shapes["model.embed_positions.weight"] = (128, 64)
    found = diff(reference_graph(cfg), graph_from_inventory(shapes, {"norm": "layernorm", "activation": "gelu"}))
    assert found == [
        "MLP is not gated (no gate_proj) where LLaMA uses SwiGLU",
        "activation gelu where LLaMA uses silu",
        "uses LayerNorm where LLaMA uses RMSNorm",
        "uses learned absolute position embeddings (GPT-2 style) where LLaMA uses rotary embeddings",
    ]


def test_layernorm_parallel_block_alibi_extra_tensor_and_sizes_in_plain_words():
    cfg = LlamaConfig(**TINY)
    shapes = {k: tuple(v.shape) for k, v in Llama(cfg).state_dict().items()}
    shapes["model.layers.3.self_attn.extra_gate.weight"] = (4, 64)
    shapes["model.layers.1.input_layernorm.bias"] = (64,)
    other = graph_from_inventory(
        shapes, {"norm": "layernorm", "parallel_block": True, "num_attention_heads": 4, "num_key_value_heads": 2}
    )
    found = diff(reference_graph(cfg), other)
    assert "uses LayerNorm where LLaMA uses RMSNorm" in found
    assert "layer 1: model.layers.1.input_layernorm has bias" not in found  # templated, not full names
    assert "layer 1: input_layernorm has bias" in found
    assert "layer 3 has an extra tensor model.layers.3.self_attn.extra_gate.weight [4, 64]" in found
    assert any("parallel block" in line for line in found)  # node sets differ only by the extra tensor

    no_extra = {k: v for k, v in shapes.items() if "extra_gate" not in k and not k.endswith("layernorm.bias")}
    parallel = diff(reference_graph(cfg), graph_from_inventory(no_extra, {"parallel_block": True}))
    assert any("parallel block" in line for line in parallel)
    alibi = diff(reference_graph(cfg), graph_from_inventory(no_extra, {"alibi": True}))
    assert alibi == ["uses ALiBi position biases where LLaMA uses rotary embeddings"]
    bigger = LlamaConfig(**{**TINY, "hidden_size": 128})
    assert diff(reference_graph(bigger), graph_from_inventory(no_extra, {})) == [
        "hidden size 64 vs 128 in the reference"
    ]


def test_edges_join_existing_nodes_and_layer_counts_are_said_once():
    cfg = LlamaConfig(**TINY)
    shapes = {k: tuple(v.shape) for k, v in Llama(cfg).state_dict().items() if not k.startswith("model.layers.3.")}
    shapes["model.layers.0.self_attn.rel_bias.weight"] = (8,)
    for g in (reference_graph(cfg), graph_from_inventory(shapes, {})):
        names = {n.name for n in g.nodes}
        assert len(names) == len(g.nodes)
        assert all(a in names and b in names for a, b in g.edges)
    assert diff(reference_graph(cfg), graph_from_inventory(shapes, {})) == [
        "3 layers vs 4 in the reference",
        "layer 0 has an extra tensor model.layers.0.self_attn.rel_bias.weight [8]",
    ]


def test_streamed_single_token_step_widens_in_blocks_with_float32_products(monkeypatch):
    """A cached step (few positions) multiplies block by block: the same logits as float32 up to summation order."""
    from reference_impl import model as M

    monkeypatch.setattr(M, "BLOCK_ELEMS", 64 * 7)  # 7 rows per block: many blocks and a ragged last one
    cfg = LlamaConfig(**BASE, num_key_value_heads=2)
    f32 = Llama(cfg).eval()
    randomize(f32, seed=6)
    stored = {n: p.detach().to(torch.bfloat16) for n, p in f32.named_parameters()}
    f32.load_canonical({n: v.float() for n, v in stored.items()})
    lazy = M.streamed(Llama.empty(cfg).eval(), stored)
    ids = torch.tensor([[1, 5, 9, 2]])
    with torch.no_grad():
        a, b = lazy.new_cache(), f32.new_cache()
        lazy.run(ids[:, :3], a), f32.run(ids[:, :3], b)
        torch.testing.assert_close(lazy.run(ids[:, 3:], a), f32.run(ids[:, 3:], b))
