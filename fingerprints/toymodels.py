"""Tiny LLaMA-shaped models trained for a few hundred steps on synthetic data (for calibration and tests).

The model is a minimal LLaMA (RMSNorm, rotary attention with GQA, SwiGLU MLP) whose parameters use Hugging Face
``LlamaForCausalLM`` names, so its state dict goes straight into the statistics. Data: sequences from a random
sparse Markov chain whose transition table is drawn from ``data_seed`` — two data seeds give two unrelated
"languages". Everything runs on CPU in seconds.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class ToyConfig:
    vocab_size: int = 256
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    attn_head_dim: int = 0  # 0: hidden_size / heads; set when the width was pruned but the heads were kept

    @property
    def head_dim(self) -> int:
        return self.attn_head_dim or self.hidden_size // self.num_attention_heads

    def arch(self) -> dict:
        d = asdict(self)
        d.pop("attn_head_dim")
        d.update(
            head_dim=self.head_dim,
            tie_word_embeddings=False,
            hidden_act="silu",
            model_type="llama",
            architectures=["LlamaForCausalLM"],
            max_position_embeddings=256,
            attention_bias=False,
            mlp_bias=False,
            bos_token_id=1,
            eos_token_id=2,
            torch_dtype="float32",
        )
        return d


def markov_batches(vocab: int, data_seed: int, batch: int, seq: int, steps: int, sample_seed: int = 0):
    """Batches of token ids from a sparse random Markov chain (8 successors per token, Dirichlet weights)."""
    rng = np.random.default_rng(10_000 + data_seed)  # the "language": transition table
    succ = rng.integers(0, vocab, size=(vocab, 8))
    prob = rng.dirichlet(np.full(8, 0.5), size=vocab)
    cum = prob.cumsum(axis=1)
    rng = np.random.default_rng([data_seed, sample_seed])  # which sentences are drawn
    for _ in range(steps):
        x = np.empty((batch, seq), np.int64)
        x[:, 0] = rng.integers(0, vocab, batch)
        for t in range(1, seq):
            u = rng.random(batch)
            j = (u[:, None] > cum[x[:, t - 1]]).sum(axis=1).clip(0, 7)
            x[:, t] = succ[x[:, t - 1], j]
        yield x


def _build(cfg: ToyConfig, seed: int):
    import torch
    from torch import nn

    torch.manual_seed(seed)
    H, Hkv, hd, d = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim, cfg.hidden_size

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_layernorm = nn.Module()
            self.input_layernorm.weight = nn.Parameter(torch.ones(d))
            self.post_attention_layernorm = nn.Module()
            self.post_attention_layernorm.weight = nn.Parameter(torch.ones(d))
            self.self_attn = nn.Module()
            self.self_attn.q_proj = nn.Linear(d, H * hd, bias=False)
            self.self_attn.k_proj = nn.Linear(d, Hkv * hd, bias=False)
            self.self_attn.v_proj = nn.Linear(d, Hkv * hd, bias=False)
            self.self_attn.o_proj = nn.Linear(H * hd, d, bias=False)
            self.mlp = nn.Module()
            self.mlp.gate_proj = nn.Linear(d, cfg.intermediate_size, bias=False)
            self.mlp.up_proj = nn.Linear(d, cfg.intermediate_size, bias=False)
            self.mlp.down_proj = nn.Linear(cfg.intermediate_size, d, bias=False)

    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.model = nn.Module()
            self.model.embed_tokens = nn.Embedding(cfg.vocab_size, d)
            nn.init.normal_(self.model.embed_tokens.weight, std=0.02)
            self.model.layers = nn.ModuleList([Block() for _ in range(cfg.num_hidden_layers)])
            self.model.norm = nn.Module()
            self.model.norm.weight = nn.Parameter(torch.ones(d))
            self.lm_head = nn.Linear(d, cfg.vocab_size, bias=False)

        def forward(self, ids):
            T = ids.shape[1]
            pos = torch.arange(T, dtype=torch.float32)
            inv = cfg.rope_theta ** (-torch.arange(0, hd, 2, dtype=torch.float32) / hd)
            ang = torch.outer(pos, inv)
            cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)

            def rope(x):  # HF rotate_half layout
                x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
                return x * cos + torch.cat([-x2, x1], -1) * sin

            def rms(x, w):
                return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + cfg.rms_norm_eps) * w

            h = self.model.embed_tokens(ids)
            B = ids.shape[0]
            mask = torch.full((T, T), float("-inf")).triu(1)
            for blk in self.model.layers:
                x = rms(h, blk.input_layernorm.weight)
                a = blk.self_attn
                q = rope(a.q_proj(x).view(B, T, H, hd).transpose(1, 2))
                k = rope(a.k_proj(x).view(B, T, Hkv, hd).transpose(1, 2)).repeat_interleave(H // Hkv, dim=1)
                v = a.v_proj(x).view(B, T, Hkv, hd).transpose(1, 2).repeat_interleave(H // Hkv, dim=1)
                att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + mask, dim=-1)
                h = h + a.o_proj((att @ v).transpose(1, 2).reshape(B, T, H * hd))
                x = rms(h, blk.post_attention_layernorm.weight)
                m = blk.mlp
                h = h + m.down_proj(torch.nn.functional.silu(m.gate_proj(x)) * m.up_proj(x))
            return self.lm_head(rms(h, self.model.norm.weight))

    return Toy()


def train(
    cfg: ToyConfig,
    seed: int,
    data_seed: int,
    steps: int = 200,
    lr: float = 3e-3,
    init: dict[str, np.ndarray] | None = None,
    batch: int = 16,
    seq: int = 32,
) -> dict[str, np.ndarray]:
    """Train (or, with ``steps=0``, just initialise) a toy model; ``init`` continues from given weights."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small trains fastest on one thread (and suffers most from contention)
    try:
        return _train(cfg, seed, data_seed, steps, lr, init, batch, seq)
    finally:
        torch.set_num_threads(threads)


def _train(cfg, seed, data_seed, steps, lr, init, batch, seq):
    import torch

    model = _build(cfg, seed)
    if init is not None:
        model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in init.items()})
    if steps:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
        for x in markov_batches(cfg.vocab_size, data_seed, batch, seq, steps, sample_seed=seed):
            ids = torch.from_numpy(x)
            logits = model(ids[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, cfg.vocab_size), ids[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {k: v.detach().numpy().astype(np.float32).copy() for k, v in model.state_dict().items()}


_ZOO: dict[str, dict[str, np.ndarray]] = {}


def zoo(cfg: ToyConfig = ToyConfig()) -> dict[str, dict[str, np.ndarray]]:
    """A small, cached family of toy models: a base, two fine-tunes of it and three independent models.

    - ``base``: seed 0, trained 200 steps on language 0
    - ``light``: base + 30 steps at lr 1e-3 on language 0 (light fine-tune)
    - ``heavy``: base + 150 steps at lr 3e-3 on language 1 (heavy fine-tune onto other data)
    - ``ind_seed``: seed 1, 120 steps on language 0 (same data, other initialisation)
    - ``ind_data``: seed 2, 120 steps on language 1 (other data, other initialisation)
    - ``untrained``: seed 3, freshly initialised
    """
    if not _ZOO:
        base = train(cfg, 0, 0, 200)
        _ZOO.update(
            base=base,
            light=train(cfg, 0, 0, 30, lr=1e-3, init=base),
            heavy=train(cfg, 0, 1, 150, lr=3e-3, init=base),
            ind_seed=train(cfg, 1, 0, 120),
            ind_data=train(cfg, 2, 1, 120),
            untrained=train(cfg, 3, 0, 0),
        )
    return _ZOO
