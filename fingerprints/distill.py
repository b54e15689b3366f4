"""Distilled students: a freshly initialised model of the teacher's shape trained only to imitate the teacher's
output distribution on the teacher's own samples. Such a student shares the teacher's behaviour, not its weights,
so the lineage verdict must not call it derived; it is used by calibration and tests (CPU, seconds)."""

from __future__ import annotations

import numpy as np

from fingerprints.toymodels import ToyConfig, _build


def teacher_samples(teacher, vocab: int, n: int, seq: int, seed: int, bos: int = 1):
    """``n`` sequences of ``seq`` tokens sampled from the teacher (temperature 1), starting at ``bos``."""
    import torch

    g = torch.Generator().manual_seed(seed)
    ids = torch.full((n, 1), bos, dtype=torch.long)
    with torch.no_grad():
        for _ in range(seq - 1):
            p = torch.softmax(teacher(ids)[:, -1].float(), dim=-1)
            ids = torch.cat([ids, torch.multinomial(p, 1, generator=g)], dim=1)
    return ids


def distill(
    cfg: ToyConfig,
    teacher_sd: dict[str, np.ndarray],
    seed: int,
    steps: int = 300,
    lr: float = 3e-3,
    n_samples: int = 256,
    seq: int = 32,
    batch: int = 16,
) -> dict[str, np.ndarray]:
    """A student of ``cfg``'s shape from its own initialisation (``seed``), trained for ``steps`` on the KL
    divergence to the teacher's next-token distribution over the teacher's samples."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        teacher = _build(cfg, 0)
        sd = dict(teacher_sd)
        sd.setdefault("lm_head.weight", sd["model.embed_tokens.weight"])  # a tied head
        teacher.load_state_dict(
            {
                k: torch.from_numpy(np.ascontiguousarray(v, np.float32))
                for k, v in sd.items()
                if k in teacher.state_dict()
            }
        )
        teacher.eval()
        data = teacher_samples(teacher, cfg.vocab_size, n_samples, seq, seed)
        with torch.no_grad():
            target = torch.log_softmax(teacher(data[:, :-1]).float(), dim=-1)
        student = _build(cfg, seed)
        opt = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.0)
        g = torch.Generator().manual_seed(seed + 1)
        for _ in range(steps):
            idx = torch.randint(0, n_samples, (batch,), generator=g)
            logp = torch.log_softmax(student(data[idx, :-1]), dim=-1)
            loss = torch.nn.functional.kl_div(logp, target[idx], log_target=True, reduction="batchmean")
            opt.zero_grad()
            loss.backward()
            opt.step()
        return {k: v.detach().numpy().astype(np.float32).copy() for k, v in student.state_dict().items()}
    finally:
        torch.set_num_threads(threads)
