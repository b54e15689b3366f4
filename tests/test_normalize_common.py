"""Shared helpers for the normalization tests: tiny real transformers models and a logits oracle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TOKENS = [[1, 5, 9, 3, 7, 2, 11, 4]]


def tiny_llama_config(**kw):
    import transformers

    args = dict(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        tie_word_embeddings=False,
    )
    args.update(kw)
    return transformers.LlamaConfig(**args)


def build(model_cls, config, seed: int = 0, trained_like: bool = True):
    """A tiny model with random weights; norms perturbed so a wrong norm mapping shows in the logits."""
    import torch

    torch.manual_seed(seed)
    model = model_cls(config).eval()
    if trained_like:
        with torch.no_grad():
            for _name, p in model.named_parameters():
                if p.dim() == 1:
                    p.add_(0.2 * torch.randn_like(p))
                else:
                    p.normal_(0.0, 0.2)
    return model


def logits(model, tokens=TOKENS) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.tensor(tokens)).logits.float().numpy()


def load_llama(outdir: Path):
    """LlamaForCausalLM.from_pretrained with loading info; assert no missing/unexpected keys."""
    import torch
    import transformers

    model, info = transformers.LlamaForCausalLM.from_pretrained(
        str(outdir), output_loading_info=True, dtype=torch.float32
    )
    assert not info["missing_keys"], info["missing_keys"]
    assert not info["unexpected_keys"], info["unexpected_keys"]
    assert not info.get("mismatched_keys"), info.get("mismatched_keys")
    return model.float().eval()


def normalize_to(src: Path, out: Path, *args: str) -> None:
    from provenance.cli.main import main

    try:
        main(["normalize", str(src), "-o", str(out), *args])
    except SystemExit as exc:
        assert exc.code in (0, None), f"normalize exited {exc.code}"


def rewrite_safetensors(src_dir: Path, dst_dir: Path, rename, config: dict | None = None, order=None) -> Path:
    """Copy a save_pretrained directory with tensor names changed by ``rename(name) -> name`` (and an optional
    config.json; None drops it). ``order`` sorts the output names (safetensors stores them sorted anyway)."""
    from safetensors.numpy import load_file, save_file

    dst_dir.mkdir(parents=True, exist_ok=True)
    sd = {}
    for f in sorted(src_dir.glob("*.safetensors")):
        sd.update(load_file(str(f)))
    out = {rename(k): v for k, v in sd.items()}
    save_file(out, str(dst_dir / "model.safetensors"), metadata={"format": "pt"})
    if config is not None:
        (dst_dir / "config.json").write_text(json.dumps(config))
    return dst_dir
