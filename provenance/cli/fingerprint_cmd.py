"""`provenance fingerprint PATH -o FILE`: compute and store a model's weight fingerprint."""

from __future__ import annotations

from pathlib import Path

import typer

from provenance.cli.output import stderr_console


def fingerprint(
    path: Path = typer.Argument(..., help="A checkpoint file or directory."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the fingerprint file."),
) -> None:
    """Compute a compact fingerprint (one streaming pass) that `compare`, `registry` and `identify` accept.

    Example: provenance fingerprint ./llama-2-7b -o llama-2-7b.fp
    """
    from provenance.cli.compare_cmd import progress_bars
    from provenance.lineage import fingerprint_path

    with progress_bars() as progress:
        fp = fingerprint_path(path, progress=(lambda label, d, t: progress(label, d, t)) if progress else None)
    fp.save(output)
    stderr_console().print(f"wrote {output} ({output.stat().st_size:,} bytes, {len(fp.layers)} layers, "
                           f"{len(fp.meta['tensor_hashes'])} tensor hashes)")


def register(app: typer.Typer) -> None:
    app.command("fingerprint")(fingerprint)
