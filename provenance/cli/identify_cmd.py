"""`provenance identify PATH`: which registered base model does this checkpoint come from?"""

from __future__ import annotations

from pathlib import Path

import typer

from provenance.cli.output import TextOrJson, dumps, write_stdout


def identify(
    path: Path = typer.Argument(..., help="The checkpoint (or fingerprint file) to identify."),
    registry: Path | None = typer.Option(
        None, "--registry", envvar="PROVENANCE_REGISTRY", help="Registry directory (default: platform user data dir)."
    ),
    top: int = typer.Option(3, "--top", "-n", min=1, help="How many candidates to report (and compare deeply)."),
    fmt: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f", help="Output format."),
    no_deep: bool = typer.Option(False, "--fingerprint-only", help="Skip the deep comparison of top candidates."),
) -> None:
    """Rank registered base models by evidence of shared weight lineage (exit 0 whatever the result).

    Every registered fingerprint screens the suspect; the --top best are compared deeply when their checkpoints exist.

    Derived candidates come first, strongest evidence first.

    Example: provenance identify ./mystery-model --registry ./bases --top 5
    """
    from provenance.cli.compare_cmd import progress_bars
    from provenance.registry import Registry
    from provenance.registry import identify as run

    with progress_bars() as progress:
        result = run(path, Registry(registry), top=top, deep=not no_deep, progress=progress)
    if fmt is TextOrJson.json:
        write_stdout(dumps(result))
        return
    lines = [f"{result['suspect']}: {result['screened']} registered models screened"]
    for i, c in enumerate(result["candidates"], 1):
        lines.append(
            f"{i}. {c['name']}: {c['verdict']} ({c['mode']}; log10 p {c['log10_p_value']}, "
            f"score {c['score']:.3f}){' — ' + ', '.join(c['relation']) if c['relation'] else ''}"
        )
        lines.extend(f"   note: {n}" for n in c.get("notes", []))
    write_stdout("\n".join(lines) + "\n")


def register(app: typer.Typer) -> None:
    app.command("identify")(identify)
