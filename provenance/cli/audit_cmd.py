"""`provenance audit RELEASE_DIR`: what a release owes to the models it came from, as a CI gate."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from provenance.reports import ReportFormat


class FailOn(str, enum.Enum):
    error = "error"
    warning = "warning"
    never = "never"


class CompareMode(str, enum.Enum):
    deep = "deep"
    quick = "quick"
    off = "off"


def audit(
    release_dir: Path = typer.Argument(
        ...,
        help="The release directory (model card, LICENSE/NOTICE files, and "
        "optionally weights) or a weights file inside it.",
    ),
    base: list[Path] = typer.Option(
        [],
        "--base",
        "-b",
        help="A base model directory (with its own card/LICENSE). "
        "Repeatable. When both sides have weights they are compared.",
    ),
    base_license: list[str] = typer.Option(
        [], "--base-license", help="The license id of a base known only by its license (e.g. llama2). Repeatable."
    ),
    fail_on: FailOn | None = typer.Option(
        None,
        "--fail-on",
        envvar="PROVENANCE_FAIL_ON",
        help="Exit 1 when a finding at or above this severity remains (default: error, or fail_on from the config).",
    ),
    fmt: ReportFormat = typer.Option(
        ReportFormat.text, "--format", "-f", envvar="PROVENANCE_FORMAT", help="Report format."
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the report to FILE instead of stdout."),
    report_files: list[str] = typer.Option(
        [],
        "--report",
        metavar="FORMAT=FILE",
        help="Also write the report in FORMAT to FILE (repeatable), e.g. "
        "--report sarif=audit.sarif --report html=audit.html.",
    ),
    write: bool = typer.Option(
        False,
        "--write",
        help="Create the missing files: NOTICE, LICENSE and USE_POLICY "
        "copied from a base directory, README attribution section and card metadata.",
    ),
    force: bool = typer.Option(
        False, "--force", help="With --write: also change existing content (e.g. replace a conflicting card license)."
    ),
    config: Path | None = typer.Option(
        None,
        "--config",
        help="A TOML config file ([tool.provenance] or top-"
        "level keys). Default: provenance.toml or pyproject.toml in RELEASE_DIR.",
    ),
    compare: CompareMode | None = typer.Option(
        None,
        "--compare",
        envvar="PROVENANCE_COMPARE",
        help="Weight comparison with --base directories: deep (default), quick (fingerprints only) or off.",
    ),
) -> None:
    """Check a release's LICENSE, NOTICE, use policy, attribution and naming against every base in its lineage.

    Exit codes: 0 no finding at or above --fail-on; 1 otherwise; 2 usage error or unreadable input.

    Example: provenance audit ./my-finetune --base ./Llama-2-7b --format sarif --output audit.sarif
    """
    from provenance.audit import apply_writes, audit_release, load_config
    from provenance.cli.output import write_stdout
    from provenance.errors import UsageError
    from provenance.reports import render

    if force and not write:
        raise UsageError("--force only makes sense with --write")
    extra: list[tuple[ReportFormat, Path]] = []
    for spec in report_files:
        name, sep, file = spec.partition("=")
        if not sep or not file or name not in ReportFormat.__members__:
            raise UsageError(
                f"--report {spec!r}: expected FORMAT=FILE with FORMAT one of {', '.join(ReportFormat.__members__)}"
            )
        extra.append((ReportFormat(name), Path(file)))
    directory = release_dir if release_dir.is_dir() else release_dir.parent
    cfg = load_config(directory, config)
    if fail_on is not None:
        cfg.fail_on = fail_on.value
    if compare is not None:
        cfg.compare = compare.value
    cache: dict = {}
    report = audit_release(release_dir, list(base), list(base_license), cfg, cache)
    if write:
        written = apply_writes(report, force=force)
        report = audit_release(release_dir, list(base), list(base_license), cfg, cache)
        report.written = written
    for extra_fmt, extra_file in extra:
        _write_file(extra_file, render(report, extra_fmt))
    text = render(report, fmt)
    if output is not None:
        _write_file(output, text)
    else:
        write_stdout(text)
    if report.failing():
        raise typer.Exit(1)


def _write_file(path: Path, text: str) -> None:
    from provenance.errors import UsageError

    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from exc


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
