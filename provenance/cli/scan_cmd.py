"""`provenance scan INPUT…`: lineage of a whole collection against the registry and itself."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from provenance.cli.fingerprint_cmd import ANCHORS_OPTION
from provenance.cli.output import dumps, stderr_console, write_stdout
from provenance.cli.registry_cmd import REGISTRY_OPTION


class ScanFormat(str, enum.Enum):
    text = "text"
    json = "json"
    csv = "csv"
    html = "html"
    graphml = "graphml"


class Backend(str, enum.Enum):
    local = "local"
    ray = "ray"


class IndexKind(str, enum.Enum):
    auto = "auto"
    exact = "exact"
    approx = "approx"


def scan(
    inputs: list[Path] = typer.Argument(
        ...,
        help="Checkpoints, folders of checkpoints, or manifests (.txt/.jsonl: "
        'one path per line, or JSON objects with a "path").',
    ),
    registry: Path | None = REGISTRY_OPTION,
    workers: int | None = typer.Option(
        None,
        "--workers",
        "-j",
        min=1,
        help="Parallel workers (default: half the CPU count, at most 8: one fingerprint keeps two cores busy).",
    ),
    backend: Backend = typer.Option(Backend.local, "--backend", help="local (a process pool) or ray."),
    address: str | None = typer.Option(
        None, "--address", help="Ray cluster address (default: a local Ray started for this run)."
    ),
    top: int = typer.Option(
        5,
        "--top",
        "-n",
        min=1,
        help="Screened candidates per model that get the full "
        "fingerprint comparison: this many registry entries and "
        "this many other inputs.",
    ),
    deep_top: int = typer.Option(
        1,
        "--deep-top",
        min=0,
        help="Best candidates per model (not clearly "
        "independent) that get the deep comparison when both "
        "checkpoints are at hand; 0 for none.",
    ),
    index: IndexKind = typer.Option(
        IndexKind.auto,
        "--index",
        help="Screening search: exact, approx (usearch), or "
        "auto (approx from 100,000 entries when "
        "usearch is installed).",
    ),
    anchors: int = ANCHORS_OPTION,
    fmt: ScanFormat = typer.Option(ScanFormat.text, "--format", "-f", help="Output format."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to this file."),
    no_timings: bool = typer.Option(
        False,
        "--no-timings",
        help="Leave out stats.timings, stats.cache and stats.backend (the parts that differ between runs).",
    ),
) -> None:
    """Find lineage families in a collection: which models derive from a registered base or from each other.

    Each checkpoint is fingerprinted once (cached in the registry database by content), screened with compact
    vectors against the registry and the other inputs, and only the best candidates are compared fully. A bad
    checkpoint becomes a result row with its error; an interrupted scan continues when run again. Exit 0 whatever
    the findings.

    Example: provenance scan ./uploads --registry ./bases --workers 2 --format json -o scan.json
    """
    from provenance.registry import Registry
    from provenance.scan import run_scan
    from provenance.scan.render import render_csv, render_graphml, render_html, render_text

    report = run_scan(
        inputs,
        Registry(registry),
        backend=backend.value,
        workers=workers,
        address=address,
        top=top,
        deep_top=deep_top,
        anchors=anchors,
        index=index.value,
        timings=not no_timings,
    )
    text = {"json": dumps, "text": render_text, "csv": render_csv, "html": render_html, "graphml": render_graphml}[
        fmt.value
    ](report)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        c = report["stats"]["counts"]
        stderr_console().print(f"wrote {output}: {c['models']} models, {c['families']} families")
    else:
        write_stdout(text)


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)
