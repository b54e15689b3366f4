"""`provenance demo [DIR]`: build tiny real checkpoints and run every command on them."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def demo(
    directory: Optional[Path] = typer.Argument(None, help="Where to write the example checkpoints "
                                                          "(default: a new temporary directory)."),
) -> None:
    """Write tiny example checkpoints (a LLaMA-shaped model, a Yi-style renamed copy, an independent model, in
    several formats) and run the tool on them, printing a short summary.

    Example: provenance demo ./demo-out
    """
    from provenance.demo import run_demo

    raise typer.Exit(run_demo(directory))


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
