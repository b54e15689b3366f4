"""`provenance fingerprint PATH -o FILE`: compute and store a model's weight fingerprint."""

from __future__ import annotations

from pathlib import Path

import typer

from provenance.cli.output import stderr_console

# The default and the floor are fingerprints.fingerprint.ANCHORS and MIN_ANCHORS (not imported here: the CLI starts
# without numpy); tests check that they agree.
DEFAULT_ANCHORS = 32
ANCHORS_OPTION = typer.Option(
    DEFAULT_ANCHORS,
    "--anchors",
    min=32,
    max=1024,
    help="Anchor tokens per fingerprint. More give tighter statistics and a larger file but take longer: the "
    "projection through them is most of the work, so 128 cost about four times the arithmetic of the default "
    "32. Fingerprints with different counts still compare, on the anchors they share.",
)


def fingerprint(
    path: Path = typer.Argument(..., help="A checkpoint file or directory."),
    output: Path = typer.Option(..., "--output", "-o", help="Where to write the fingerprint file."),
    anchors: int = ANCHORS_OPTION,
) -> None:
    """Compute a compact fingerprint (one streaming pass) that `compare`, `registry add` and `identify` accept.

    No weights are stored: token-space invariants, norm-gain profiles and tensor hashes (under 1 MB for a 7B model
    with the default 32 anchors).

    The same checkpoint always gives the same bytes. Progress and the summary line go to stderr.

    Example: provenance fingerprint ./llama-2-7b -o llama-2-7b.fp && provenance compare ./suspect llama-2-7b.fp
    """
    from provenance.cli.compare_cmd import progress_bars
    from provenance.errors import InputError
    from provenance.lineage import fingerprint_path

    with progress_bars() as progress:
        fp = fingerprint_path(path, progress=progress, anchors=anchors)
    try:
        fp.save(output)
    except OSError as exc:
        raise InputError(output, f"cannot write the fingerprint: {exc.strerror or exc}") from exc
    stderr_console().print(
        f"wrote {output} ({output.stat().st_size:,} bytes, {len(fp.layers)} layers, "
        f"{len(fp.meta['tensor_hashes'])} tensor hashes)"
    )


def register(app: typer.Typer) -> None:
    app.command("fingerprint")(fingerprint)
