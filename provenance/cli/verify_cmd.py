"""`provenance verify PATH`: run a checkpoint, normalized, in the reference LLaMA implementation."""

from __future__ import annotations

from pathlib import Path

import typer

from provenance.cli.output import TextOrJson, dumps, write_stdout


def verify(
    path: Path = typer.Argument(..., help="A checkpoint file or directory in any format `inspect` reads."),
    steps: int = typer.Option(32, "--steps", help="Greedy continuation length from BOS (the behavioural fingerprint)."),
    fmt: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f", help="Report format."),
    head_dim: int = typer.Option(
        None, "--head-dim", help="Per-head dimension, when the files do not say it (needed to undo rotary layouts)."
    ),
    base: Path = typer.Option(
        None,
        "--base",
        help="PATH is a PEFT LoRA adapter: apply it to this base checkpoint in memory and verify the adapted model.",
    ),
) -> None:
    """Load the checkpoint into the reference LLaMA and check that it runs as LLaMA.

    Reports whether every canonical tensor was consumed, whether outputs are
    finite (and their entropy), the max abs logit difference from the
    transformers class config.json declares (LlamaForCausalLM,
    MistralForCausalLM, Qwen2ForCausalLM; never remote code), and the greedy
    continuation of BOS. Weights stay in their stored dtype and are widened
    to float32 one layer at a time (peak memory about the checkpoint's size).

    With --base BASE, PATH is a PEFT LoRA adapter: it is applied to BASE in
    memory (W + s·B·A, as peft merges it) and the adapted model is verified;
    the report's `adapter` field holds the adapter's facts and the base.

    Refused with exit 2 before any tensor is read: fingerprint files, PEFT/LoRA
    adapters without --base, adapters whose shapes do not fit the base,
    --base with a PATH that is not an adapter, non-LLMs, blocks the reference has no code for, and sizes the
    files do not state (never a default size).

    Exit codes: 0 runs as LLaMA; 1 does not (reasons listed); 2 bad input or
    input it cannot run.

    Example: provenance verify ./tiny-yi --format json | jq .runs_as_llama
    """
    from provenance.verify import render_text, verify_path

    report = verify_path(path, steps=steps, head_dim=head_dim, base=base)
    write_stdout(dumps(report) if fmt is TextOrJson.json else render_text(report))
    if not report["runs_as_llama"]:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
