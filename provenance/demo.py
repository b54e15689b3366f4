"""The built-in example: tiny real checkpoints, and every command run on them.

Three models are written: ``base`` (a small LLaMA-shaped model), ``yi-style`` (the same weights with the two
norm names Yi-34B used, ``ln1``/``ln2``) and ``independent`` (same architecture, another seed), each in several
formats. Each capability of the tool adds a step to ``STEPS``; every step prints a few readable lines.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir, yi_style

BASE_CARD = """---
license: llama2
model_name: tiny-base
---
# tiny-base

A tiny LLaMA-shaped model written by `provenance demo`.
"""

YI_CARD = """---
license: apache-2.0
model_name: tiny-yi
---
# tiny-yi

Presented as a new model. (It is tiny-base with two tensor names changed per layer.)
"""


@dataclass
class DemoContext:
    root: Path
    paths: dict[str, Path] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    def run(self, *args: str, expect: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
        """Run the real CLI in a subprocess, as a user would, and record unexpected exit codes."""
        cmd = [sys.executable, "-m", "provenance", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode not in expect:
            self.failures.append(f"`provenance {' '.join(args)}` exited {proc.returncode}: "
                                 f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ''}")
        return proc


def step_write_models(ctx: DemoContext) -> None:
    cfg = TinyLlamaConfig()
    base = llama_state_dict(cfg, seed=0)
    ctx.paths["base"] = write_hf_dir(ctx.root / "base", base, cfg.hf_config(), BASE_CARD)
    yi_cfg = dict(cfg.hf_config(), architectures=["YiForCausalLM"], model_type="yi")
    ctx.paths["yi-style"] = write_hf_dir(ctx.root / "yi-style", yi_style(base), yi_cfg, YI_CARD)
    ctx.paths["independent"] = write_hf_dir(ctx.root / "independent", llama_state_dict(cfg, seed=1),
                                            cfg.hf_config())
    ctx.say(f"Wrote three tiny checkpoints under {ctx.root}:")
    ctx.say("  base/         a LLaMA-shaped model (4 layers, hidden 64, GQA 8:4), safetensors")
    ctx.say("  yi-style/     the same weights with input_layernorm→ln1, post_attention_layernorm→ln2")
    ctx.say("  independent/  same architecture, initialised from another seed")


def step_inspect(ctx: DemoContext) -> None:
    import json

    ctx.say()
    ctx.say("$ provenance inspect yi-style --format json")
    proc = ctx.run("inspect", str(ctx.paths["yi-style"]), "--format", "json")
    if proc.returncode == 0:
        rep = json.loads(proc.stdout)
        ctx.say(f"  format {rep['format']}, {rep['num_tensors']} tensors, {rep['num_parameters']:,} parameters, "
                f"declared {', '.join(rep['declared_architecture'].get('architectures', []))}")
        for line in rep.get("summary_lines", []):
            ctx.say(f"  {line}")


STEPS: list[Callable[[DemoContext], None]] = [
    step_write_models,
    step_inspect,
]


def run_demo(directory: Path | None) -> int:
    """Run every demo step; return 0 when every command behaved as expected, else 1."""
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="provenance-demo-"))
    directory.mkdir(parents=True, exist_ok=True)
    ctx = DemoContext(root=directory)
    for step in STEPS:
        step(ctx)
    ctx.say()
    if ctx.failures:
        ctx.say("Demo finished with unexpected results:")
        for f in ctx.failures:
            ctx.say(f"  - {f}")
        return 1
    ctx.say(f"Demo finished: every command behaved as expected. Files are in {directory}")
    return 0
