"""A small, readable LLaMA-family decoder in PyTorch: the reference suspect checkpoints are run against.

Reads top to bottom: config → rotary embeddings (pure functions) → attention → MLP → decoder layer → model.
Module attribute names are the Hugging Face `LlamaForCausalLM` names, so a canonical state dict maps 1:1 onto
`named_parameters()`. Numerics follow transformers' Llama (float32 RMSNorm, half-split `rotate_half` RoPE,
float32 softmax) so logits agree to float32 rounding; the tests check that against transformers itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class LlamaConfig:
    """Architecture hyper-parameters, spelled as in Hugging Face `LlamaConfig` (config.json)."""

    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: int | None = None  # None: plain multi-head attention (= num_attention_heads)
    head_dim: int | None = None  # None: hidden_size // num_attention_heads (Mistral-Nemo, Qwen3 set it apart)
    max_position_embeddings: int = 2048
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    # None, or {"rope_type": "linear"|"dynamic"|"llama3", "factor": …, …} as in transformers' rope utilities.
    rope_scaling: Mapping[str, Any] | None = field(default=None, hash=False)
    attention_bias: bool = False  # bias on q/k/v (and o_proj, unless o_proj_bias says otherwise)
    o_proj_bias: bool | None = None  # None: same as attention_bias (HF Llama); Qwen2 has q/k/v bias only
    mlp_bias: bool = False
    tie_word_embeddings: bool = False
    hidden_act: str = "silu"
    sliding_window: int | None = None  # Mistral: a query attends to at most this many most recent positions
    bos_token_id: int | None = 1

    def __post_init__(self) -> None:
        # Derived defaults, as transformers' LlamaConfig.__post_init__ computes them.
        if self.num_key_value_heads is None:
            object.__setattr__(self, "num_key_value_heads", self.num_attention_heads)
        if self.head_dim is None:
            object.__setattr__(self, "head_dim", self.hidden_size // self.num_attention_heads)
        if self.o_proj_bias is None:
            object.__setattr__(self, "o_proj_bias", self.attention_bias)
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(
                f"num_attention_heads {self.num_attention_heads} is not a multiple of "
                f"num_key_value_heads {self.num_key_value_heads}"
            )

    @classmethod
    def from_hf(cls, hf: Mapping[str, Any]) -> LlamaConfig:
        """Build from a config.json dict (Llama, Mistral or Qwen2); unknown keys are ignored.

        RoPE settings come in two spellings: transformers < 5 writes `rope_theta` and `rope_scaling`
        ({"type" or "rope_type": …}); transformers 5 writes one `rope_parameters` dict holding `rope_theta`
        and `rope_type` ("default" for plain RoPE).
        """
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in hf.items() if k in known and v is not None}
        values["rope_theta"], values["rope_scaling"] = rope_settings(hf)
        is_qwen2 = hf.get("model_type") == "qwen2" or "Qwen2ForCausalLM" in (hf.get("architectures") or ())
        if is_qwen2:  # transformers' Qwen2Attention: q/k/v always biased, o_proj never
            values.update(attention_bias=True, o_proj_bias=False)
        if is_qwen2 and not hf.get("use_sliding_window", False):
            values.pop("sliding_window", None)  # Qwen2 ignores sliding_window unless use_sliding_window
        if isinstance(values.get("bos_token_id"), list):
            values["bos_token_id"] = values["bos_token_id"][0]
        return cls(**values)


def rope_settings(hf: Mapping[str, Any]) -> tuple[float, dict | None]:
    """(rope_theta, rope_scaling) from either config.json spelling; rope_scaling None for plain RoPE."""
    params = dict(hf.get("rope_parameters") or {})
    scaling = dict(hf.get("rope_scaling") or {}) or params
    theta = float(params.get("rope_theta", hf.get("rope_theta") or LlamaConfig.rope_theta))
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    rest = {k: v for k, v in scaling.items() if k not in ("type", "rope_type", "rope_theta")}
    return theta, None if kind == "default" else {**rest, "rope_type": kind}


# ---------------------------------------------------------------------------------------------- rotary
def rope_inv_freq(cfg: LlamaConfig, seq_len: int) -> torch.Tensor:
    """Inverse frequencies [head_dim/2] in float32, scaled as transformers' `modeling_rope_utils` does."""
    dim, scaling = cfg.head_dim, cfg.rope_scaling or {}
    kind = scaling.get("rope_type", "default")
    base = torch.tensor(cfg.rope_theta, dtype=torch.float32)
    if kind == "dynamic" and seq_len > cfg.max_position_embeddings:
        # Dynamic NTK (bloc97, reddit r/LocalLLaMA 2023): raise the base once the sequence outgrows training.
        factor = scaling["factor"]
        base = base * ((factor * seq_len / cfg.max_position_embeddings) - (factor - 1)) ** (dim / (dim - 2))
    inv_freq = 1.0 / base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim)
    if kind == "linear":  # position interpolation (Chen et al. 2023): positions divided by factor
        inv_freq = inv_freq / scaling["factor"]
    elif kind == "llama3":  # Meta llama3 `apply_scaling`: long wavelengths scaled, short kept, smooth between
        factor, old_len = scaling["factor"], scaling["original_max_position_embeddings"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        wavelen = 2 * math.pi / inv_freq
        scaled = torch.where(wavelen > old_len / low, inv_freq / factor, inv_freq)
        smooth = (old_len / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old_len / high) & (wavelen <= old_len / low)
        inv_freq = torch.where(medium, smoothed, scaled)
    elif kind not in ("default", "dynamic"):
        raise NotImplementedError(f"rope_type {kind!r} is not covered by the reference implementation")
    return inv_freq


def rope_tables(input_ids: torch.Tensor, cfg: LlamaConfig, start: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin [T, head_dim] for positions start..start+T-1; each frequency is used for both halves of a head."""
    seq_len = start + input_ids.shape[-1]
    positions = torch.arange(start, seq_len, device=input_ids.device).float()
    freqs = positions[:, None] * rope_inv_freq(cfg, seq_len).to(input_ids.device)[None, :]
    angles = torch.cat((freqs, freqs), dim=-1)
    return angles.cos(), angles.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """HF layout: dimension i pairs with i + head_dim/2 (Meta's layout pairs 2i with 2i+1 instead)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    """Rotate queries and keys [B, heads, T, head_dim] by their position's angles."""
    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


# ---------------------------------------------------------------------------------------------- attention
def causal_attention(q, k, v, sliding_window: int | None = None) -> torch.Tensor:
    """Softmax attention with a causal mask; k/v heads are shared by consecutive query heads (GQA).

    Query head h reads key/value head h // (heads / kv_heads): repeat_interleave, like transformers'
    `repeat_kv` and Meta's llama `repeat_kv`. With a KV cache there are more keys than queries: the queries are
    the last positions of the sequence.
    """
    n_rep = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(n_rep, dim=1), v.repeat_interleave(n_rep, dim=1)
    i = torch.arange(q.shape[2], device=q.device)[:, None] + (k.shape[2] - q.shape[2])  # query position
    j = torch.arange(k.shape[2], device=q.device)[None, :]  # key position
    allowed = j <= i
    if sliding_window is not None:  # transformers' sliding_window_overlay: kv_idx > q_idx - window
        allowed = allowed & (j > i - sliding_window)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~allowed, float("-inf"))
    weights = F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    return weights @ v


class RMSNorm(nn.Module):
    """x / sqrt(mean(x²) + eps) * weight, computed in float32 (Zhang & Sennrich 2019; Llama's choice)."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        normed = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * normed.to(x.dtype)


class Attention(nn.Module):
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        self.sliding_window = cfg.sliding_window
        h, qd, kvd = cfg.hidden_size, cfg.num_attention_heads * cfg.head_dim, cfg.num_key_value_heads * cfg.head_dim
        self.q_proj = nn.Linear(h, qd, bias=cfg.attention_bias)
        self.k_proj = nn.Linear(h, kvd, bias=cfg.attention_bias)
        self.v_proj = nn.Linear(h, kvd, bias=cfg.attention_bias)
        self.o_proj = nn.Linear(qd, h, bias=cfg.o_proj_bias)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        """cache: this layer's [keys, values] of the earlier positions (empty at first), extended in place."""
        # [B, T, heads*head_dim] → [B, heads, T, head_dim]; unflatten needs no shape lookups (keeps fx traces clean)
        q = self.q_proj(x).unflatten(-1, (self.n_heads, self.head_dim)).transpose(1, 2)
        k = self.k_proj(x).unflatten(-1, (self.n_kv_heads, self.head_dim)).transpose(1, 2)
        v = self.v_proj(x).unflatten(-1, (self.n_kv_heads, self.head_dim)).transpose(1, 2)
        q, k = apply_rope(q, k, cos, sin)
        if cache is not None:
            if cache:
                k, v = torch.cat((cache[0], k), dim=2), torch.cat((cache[1], v), dim=2)
            cache[:] = [k, v]
        out = causal_attention(q, k, v, self.sliding_window)
        return self.o_proj(out.transpose(1, 2).flatten(-2))


class MLP(nn.Module):
    """SwiGLU (Shazeer 2020): down(silu(gate(x)) * up(x))."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        if cfg.hidden_act != "silu":
            raise ValueError(f"hidden_act {cfg.hidden_act!r}: the reference implements SwiGLU with silu only")
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=cfg.mlp_bias)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=cfg.mlp_bias)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=cfg.mlp_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    """Pre-norm residual block: x + attn(norm(x)), then h + mlp(norm(h))."""

    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, cache: list | None = None) -> torch.Tensor:
        h = x + self.self_attn(self.input_layernorm(x), cos, sin, cache)
        return h + self.mlp(self.post_attention_layernorm(h))


class Backbone(nn.Module):  # what HF keeps under the `model.` prefix
    def __init__(self, cfg: LlamaConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class CanonicalLoadError(ValueError):
    """A state dict does not fit the reference model; lists every missing, unexpected or misshapen key."""

    def __init__(self, missing: list[str], unexpected: list[str], mismatched: list[str]):
        self.missing, self.unexpected, self.mismatched = missing, unexpected, mismatched
        parts = [
            f"{what} ({len(keys)}): {', '.join(keys)}"
            for what, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", mismatched))
            if keys
        ]
        super().__init__("state dict does not match the reference LLaMA: " + "; ".join(parts))


@dataclass(frozen=True)
class LoadReport:
    consumed: list[str]  # canonical keys copied into the model
    missing: list[str]  # parameters the state dict did not provide
    unexpected: list[str]  # keys the model has no place for
    mismatched: list[str]  # "name: got (a, b), expected (c, d)"


class Llama(nn.Module):
    def __init__(self, config: LlamaConfig, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.config = config
        self.model = Backbone(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        if config.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.to(dtype)
        self.compute_dtype: torch.dtype | None = None  # None: the embedding's dtype (set by stream_weights)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """input_ids [B, T] → logits [B, T, vocab] in float32 (causal, positions 0..T-1)."""
        return self.run(input_ids)

    def run(self, input_ids: torch.Tensor, cache: list[list] | None = None) -> torch.Tensor:
        """forward, optionally continuing a KV cache (one list per layer, see `new_cache`): then input_ids are the
        positions after the cached ones and only they are computed."""
        start = cache[0][0].shape[2] if cache and cache[0] else 0
        cos, sin = rope_tables(input_ids, self.config, start)
        x = self.model.embed_tokens(input_ids)
        if self.compute_dtype is not None:
            x = x.to(self.compute_dtype)
        cos, sin = cos.to(x.dtype), sin.to(x.dtype)
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, None if cache is None else cache[i])
        return self.lm_head(self.model.norm(x)).float()

    def new_cache(self) -> list[list]:
        return [[] for _ in self.model.layers]

    @classmethod
    def empty(cls, config: LlamaConfig) -> Llama:
        """The model with every parameter on the meta device: no memory, any size, nothing initialised. It runs
        only once `stream_weights` gives it weights."""
        with torch.device("meta"):
            return cls(config)

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """Canonical name → shape of every parameter (a tied lm_head listed under both names)."""
        return {n: tuple(p.shape) for n, p in self.named_parameters(remove_duplicate=False)}

    def check_shapes(self, shapes: Mapping[str, tuple[int, ...]]) -> LoadReport:
        """What `load_canonical(strict=False)` would report, from names and shapes alone (no tensor read). A tied
        lm_head present in the file counts as consumed here; its values are checked when read."""
        expected = self.expected_shapes()
        consumed, unexpected, mismatched = [], [], []
        for name in sorted(shapes, key=lambda n: (n == "lm_head.weight", n)):
            shape = tuple(shapes[name])
            if name not in expected:
                unexpected.append(name)
            elif shape != expected[name]:
                mismatched.append(f"{name}: got {shape}, expected {expected[name]}")
            else:
                consumed.append(name)
        tied_head = {"lm_head.weight"} if self.config.tie_word_embeddings else set()
        missing = sorted(set(expected) - tied_head - set(consumed) - {m.split(":")[0] for m in mismatched})
        return LoadReport(consumed, missing, unexpected, mismatched)

    def load_canonical(self, state_dict: Mapping[str, Any], strict: bool = True) -> LoadReport:
        """Copy canonical HF-named tensors (torch tensors or numpy arrays) into the model, one at a time.

        A lazy Mapping (reading each tensor on access) keeps peak memory at the model plus one tensor.
        With `tie_word_embeddings`, `lm_head.weight` may be absent; if present it must equal the embedding.
        strict=True raises CanonicalLoadError on any missing, unexpected or misshapen key; strict=False loads
        what fits and reports the rest.
        """
        params = dict(self.named_parameters())  # a tied lm_head is listed once, as model.embed_tokens.weight
        consumed, unexpected, mismatched = [], [], []
        for name in sorted(state_dict, key=lambda n: (n == "lm_head.weight", n)):  # a tied head is checked last
            value = state_dict[name]
            value = value.detach() if isinstance(value, torch.Tensor) else torch.tensor(value)  # copies numpy
            if name == "lm_head.weight" and self.config.tie_word_embeddings:
                embed = self.model.embed_tokens.weight
                if value.shape != embed.shape or not torch.equal(value.to(embed.dtype), embed.detach()):
                    mismatched.append("lm_head.weight: differs from model.embed_tokens.weight but config ties them")
                else:
                    consumed.append(name)
            elif name not in params:
                unexpected.append(name)
            elif value.shape != params[name].shape:
                mismatched.append(f"{name}: got {tuple(value.shape)}, expected {tuple(params[name].shape)}")
            else:
                with torch.no_grad():
                    params[name].copy_(value)
                consumed.append(name)
        missing = sorted(set(params) - set(consumed) - {m.split(":")[0] for m in mismatched})
        if strict and (missing or unexpected or mismatched):
            raise CanonicalLoadError(missing, unexpected, mismatched)
        return LoadReport(consumed, missing, unexpected, mismatched)


@torch.no_grad()
def greedy(model: Llama, prompt: list[int], steps: int) -> list[int]:
    """Greedy continuation (argmax). A KV cache makes each step one token's forward; dynamic-NTK RoPE changes
    every position's angles once the sequence outgrows the training length, so that case recomputes it whole."""
    ids = list(prompt)
    cfg = model.config
    dynamic = (cfg.rope_scaling or {}).get("rope_type") == "dynamic"
    if dynamic and len(ids) + steps > cfg.max_position_embeddings:
        for _ in range(steps):
            ids.append(int(model(torch.tensor([ids]))[0, -1].argmax()))
        return ids[len(prompt) :]
    cache, new = model.new_cache(), ids
    threads = torch.get_num_threads()
    # A cached step of a small model is a chain of tiny ops, where waiting for other threads dominates: one thread.
    # A large model's step is dominated by widening and streaming its weights (memory-bound), which every thread
    # speeds up (1.1B bf16 on 2 cores: 32 steps 7.3 s on one thread, about 3.8 s on two).
    d, ff = cfg.hidden_size, cfg.intermediate_size
    n_weights = cfg.num_hidden_layers * (4 * d * d + 3 * d * ff) + cfg.vocab_size * d  # from the config: streamed
    # models hold their weights outside the parameters
    torch.set_num_threads(threads if n_weights >= PARALLEL_STEP_WEIGHTS else 1)
    try:
        for _ in range(steps):
            ids.append(int(model.run(torch.tensor([new]), cache)[0, -1].argmax()))
            new = ids[-1:]
    finally:
        torch.set_num_threads(threads)
    return ids[len(prompt) :]


# ---------------------------------------------------------------------------------------------- stored weights
Stored = torch.Tensor | Callable[[], torch.Tensor]  # a tensor as stored, or a reader that returns it widened


@contextmanager
def parameters_on_meta() -> Iterator[None]:
    """Build any nn.Module (transformers' too) with its parameters on the meta device and its buffers (RoPE
    frequencies) real, as accelerate's `init_empty_weights(include_buffers=False)` does: each parameter is moved
    to meta as it is registered, before an initialiser could fill it."""
    register = nn.Module.register_parameter

    def on_meta(module: nn.Module, name: str, param):
        register(module, name, param)
        if param is not None and param.device.type != "meta":
            module._parameters[name] = nn.Parameter(param.to("meta"), requires_grad=False)

    nn.Module.register_parameter = on_meta
    try:
        yield
    finally:
        nn.Module.register_parameter = register


PARALLEL_STEP_WEIGHTS = 50_000_000  # from this many weights, cached greedy steps use every torch thread
FEW_TOKENS = 8  # up to this many positions (a cached greedy step), a linear layer widens its weight in blocks
BLOCK_ELEMS = 1 << 19  # weight values widened per block: 2 MB of float32, about a core's L2 cache


def stream_weights(
    units: list[tuple[nn.Module, bool]],
    root: nn.Module,
    weights: Mapping[str, Stored],
    dtype: torch.dtype = torch.float32,
) -> list:
    """Give a meta-device model its weights one unit at a time: just before a unit (a decoder layer, the
    embedding, the final norm, the head) runs, its parameters are taken from ``weights`` (full names as in
    ``root.named_parameters``), widened to ``dtype`` when the unit's flag says so; just after, they are dropped
    again. Widened copies go into buffers reused from layer to layer (no fresh allocation per layer) and released
    when the last unit has run, so memory holds the stored weights once plus about one widened layer and the head. A
    linear layer run on a few positions (a KV-cached step) does not widen its weight whole: it widens a block of rows at
    a time into a small buffer and multiplies by it, so each step reads the stored weights once and writes no float32
    copy of them
    (the same float32 products, only the output is assembled block by block). Returns the hook handles."""
    owner = {id(m): n for n, m in root.named_modules(remove_duplicate=False)}
    pool: dict[tuple, torch.Tensor] = {}
    handles = []

    def buffer(key: tuple, shape: tuple[int, ...]) -> torch.Tensor:
        if key not in pool:
            pool[key] = torch.empty(shape, dtype=dtype)
        return pool[key]

    def mixed_linear(mod: nn.Module, rel: str, x: torch.Tensor) -> torch.Tensor:
        w, b = mod.weight, mod.bias
        b = None if b is None else b.to(x.dtype)
        if w.dtype == x.dtype:
            return F.linear(x, w, b)
        if x.numel() // x.shape[-1] > FEW_TOKENS:
            return F.linear(x, buffer((rel, tuple(w.shape)), tuple(w.shape)).copy_(w), b)
        flat = x.reshape(-1, x.shape[-1]).T
        out = torch.empty(w.shape[0], flat.shape[1], dtype=x.dtype)
        rows = max(1, BLOCK_ELEMS // w.shape[1])
        scratch = buffer(("block", rows, w.shape[1]), (rows, w.shape[1]))
        for r in range(0, w.shape[0], rows):
            n = min(rows, w.shape[0] - r)
            torch.mm(scratch[:n].copy_(w[r : r + n]), flat, out=out[r : r + n])
        out = out.T.reshape(*x.shape[:-1], w.shape[0])
        return out if b is None else out + b

    for position, (unit, widen) in enumerate(units):
        prefix = owner[id(unit)]
        slots = [
            (mod, local, f"{sub}.{local}".lstrip("."), p)
            for sub, mod in unit.named_modules(remove_duplicate=False)
            for local, p in mod.named_parameters(recurse=False)
        ]
        if widen:  # set here, not in the hook: a module reads its forward before its own pre-hooks run
            for mod, local, rel, _ in slots:
                if isinstance(mod, nn.Linear) and local == "weight":
                    mod.forward = lambda x, mod=mod, rel=rel: mixed_linear(mod, rel, x)

        def before(_module, _args, slots=slots, widen=widen, prefix=prefix):
            for mod, local, rel, _ in slots:
                value = weights[f"{prefix}.{rel}" if prefix else rel]
                value = value() if callable(value) else value
                if widen and value.dtype != dtype and not isinstance(mod, nn.Linear):  # linears: mixed_linear
                    value = buffer((rel, tuple(value.shape)), tuple(value.shape)).copy_(value)
                mod._parameters[local] = nn.Parameter(value, requires_grad=False)

        def after(_module, _args, _out, slots=slots, last=position == len(units) - 1):  # noqa: B008 (binds this unit's values)
            for mod, local, _, meta in slots:
                mod._parameters[local] = meta
            if last:  # the forward is over: no widened copy outlives it
                pool.clear()

        handles += [unit.register_forward_pre_hook(before), unit.register_forward_hook(after)]
    return handles


def streamed(model: Llama, weights: Mapping[str, Stored]) -> Llama:
    """An `empty` Llama computing in float32 from weights kept as stored: the embedding rows are looked up in the
    stored dtype and widened, each layer and the head are widened while they run."""
    model.compute_dtype = torch.float32
    units = [
        (model.model.embed_tokens, False),
        *[(layer, True) for layer in model.model.layers],
        (model.model.norm, True),
        (model.lm_head, True),
    ]
    stream_weights(units, model, weights)
    return model
