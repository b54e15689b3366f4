"""`provenance demo [DIR]`: build tiny real checkpoints and run every command on them."""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    directory: Path | None = typer.Argument(
        None,
        metavar="DIR",
        help="Where to write the example checkpoints (default: a new "
        "temporary directory). It must be new, empty, or a "
        "previous demo directory, whose demo files are replaced; "
        "any other non-empty directory is refused (exit 2).",
    ),
    use_subprocess: bool = typer.Option(
        False,
        "--subprocess",
        help="Run each command as a separate "
        "`python -m provenance` process, exactly as typed (slower: several seconds each).",
    ),
) -> None:
    """Write tiny example checkpoints and run the tool on them, printing a short summary of each step.

    The models: a LLaMA-shaped base (safetensors, Meta consolidated.00.pth,
    GGUF Q8_0), a Yi-style copy with ln1/ln2 names declared apache-2.0, and
    an independently initialised model (pytorch_model.bin). The steps:
    inspect every format; verify the Yi-style copy runs as LLaMA; normalize
    it and load the result in transformers; compare (derived, independent);
    fingerprint; registry add + identify; audit the release (exit 1) and a
    fixed copy (--write, then exit 0). No network is used.

    DIR must be new, empty, or a previous demo directory (its demo files are
    replaced, other files kept); any other non-empty directory is refused.

    Exit codes: 0 every command gave the expected exit code and verdict;
    1 something did not (listed at the end); 2 DIR is not usable.

    Example: provenance demo ./demo-out
    """
    from provenance.demo import run_demo

    raise typer.Exit(run_demo(directory, subprocess=use_subprocess))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
