"""`provenance compare SUSPECT REFERENCE`: does the suspect share weight lineage with the reference?

Exit codes: 0 whenever the comparison completed, whatever the verdict (read ``verdict`` in the report), unless
``--expect VERDICT`` was given and the verdict differs (1); 2 for bad input (unreadable checkpoint or fingerprint,
not a LLaMA-shaped model).
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from provenance.cli.output import dumps, write_stdout


class Verdict(str, enum.Enum):
    derived = "derived"
    independent = "independent"
    inconclusive = "inconclusive"


class ReportFormat(str, enum.Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    html = "html"


def render(report: dict, fmt: ReportFormat, reproduce: dict | None = None) -> str:
    from provenance.lineage import render_markdown, render_text

    if fmt is ReportFormat.html:
        from provenance.reports.lineage_html import render as render_html

        return render_html(report, reproduce)
    return {ReportFormat.text: render_text, ReportFormat.json: dumps, ReportFormat.markdown: render_markdown}[fmt](
        report
    )


@contextmanager
def progress_bars() -> Iterator:
    """The progress callback (stage, done, total) of :mod:`provenance.progress`: stages, rate and ETA on stderr
    when it is a terminal, None otherwise."""
    from provenance.progress import display

    with display() as callback:
        yield callback


def compare(
    suspect: Path = typer.Argument(
        ...,
        help="The model under suspicion: a checkpoint (any readable format) or a "
        "fingerprint file from `provenance fingerprint`.",
    ),
    reference: Path = typer.Argument(..., help="The possible base model: a checkpoint or a fingerprint file."),
    fmt: ReportFormat = typer.Option(
        ReportFormat.text,
        "--format",
        "-f",
        help="Report format: text, json, markdown, or html (one self-contained page "
        "with charts of the evidence, for publishing).",
    ),
    fingerprint_only: bool = typer.Option(
        False,
        "--fingerprint-only",
        help="Compare fingerprints even when both checkpoints are at hand (faster, weaker).",
    ),
    expect: Verdict | None = typer.Option(
        None,
        "--expect",
        help="Exit 1 unless the verdict is this one (a CI check), e.g. "
        "--expect independent for a model claimed to be trained from "
        "scratch.",
    ),
) -> None:
    """Decide whether SUSPECT shares weight lineage with REFERENCE, with a p-value and per-layer evidence.

    Verdict: derived (p <= 1e-6), independent (p > 0.01), or inconclusive (in between).

    Deep mode (two checkpoints): residual alignment, layer map, MLP-neuron matching; formats and names may differ.

    Fingerprint mode (a side is a fingerprint file, or --fingerprint-only): stored invariants only, weaker.

    Exit code 0 whenever the comparison completes (with --expect: 1 if the verdict differs); 2 for unreadable input.

    Example: provenance compare ./suspect-7b ./llama-2-7b --format json | jq .verdict
    """
    from provenance.lineage import compare_paths

    with progress_bars() as progress:
        report = compare_paths(suspect, reference, deep=not fingerprint_only, progress=progress)
    reproduce = None
    if fmt is ReportFormat.html:  # the evidence page records what was compared: versions, command, input hashes
        from provenance.cli.main import current_argv
        from provenance.reports.lineage_html import reproduce_info

        reproduce = reproduce_info({"suspect": suspect, "reference": reference}, current_argv())
    write_stdout(render(report, fmt, reproduce))
    if expect is not None and report["verdict"] != expect.value:
        sys.stderr.write(f"provenance: check failed: verdict {report['verdict']}, expected {expect.value}\n")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
