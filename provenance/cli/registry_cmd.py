"""`provenance registry add|list|remove|export|import`: a local index of known base models (fingerprints in SQLite)."""

from __future__ import annotations

from pathlib import Path

import typer

from provenance.cli.fingerprint_cmd import ANCHORS_OPTION
from provenance.cli.output import TextOrJson, dumps, stderr_console, write_stdout

registry_app = typer.Typer(
    help="Manage the local registry of base-model fingerprints that `identify` and `scan` "
    "screen.\n\n"
    "An entry holds a name, a fingerprint and, when a checkpoint was added, its path.\n\n"
    "Example: provenance registry add llama-2-7b ./Llama-2-7b-hf; provenance registry "
    "list",
    no_args_is_help=True,
)

REGISTRY_OPTION = typer.Option(
    None,
    "--registry",
    envvar="PROVENANCE_REGISTRY",
    help="Registry directory (default: the platform user data dir, e.g. "
    "~/.local/share/provenance; env PROVENANCE_REGISTRY).",
)


@registry_app.command("add")
def add(
    name: str = typer.Argument(..., help="A short name for the model, e.g. llama-2-7b."),
    path: Path = typer.Argument(..., help="The model's checkpoint (or a fingerprint file)."),
    registry: Path | None = REGISTRY_OPTION,
    anchors: int = ANCHORS_OPTION,
) -> None:
    """Fingerprint a model and store it under NAME (replaces an entry of the same name).

    PATH: a checkpoint (its absolute path is kept for deep comparisons) or a fingerprint file (screening only).

    Example: provenance registry add llama-2-7b ./Llama-2-7b-hf --registry ./bases
    """
    from provenance.cli.compare_cmd import progress_bars
    from provenance.registry import Registry

    reg = Registry(registry)
    with progress_bars() as progress:
        row = reg.add(name, path, progress=progress, anchors=anchors)
    stderr_console().print(
        f"added {row['name']} ({row['layers']} layers, {row['fingerprint_bytes']:,} bytes) to {reg.db_path}"
    )


@registry_app.command("list")
def list_(
    registry: Path | None = REGISTRY_OPTION,
    fmt: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f", help="Output format."),
) -> None:
    """List registered models (name, shape, checkpoint path), sorted by name.

    Example: provenance registry list --format json
    """
    from provenance.registry import Registry

    reg = Registry(registry)
    rows = reg.list()
    if fmt is TextOrJson.json:
        write_stdout(dumps({"schema_version": 1, "registry": str(reg.directory), "models": rows}))
        return
    if not rows:
        write_stdout(f"the registry {reg.directory} is empty\n")
        return
    from fingerprints.fingerprint import VERSION

    def old(r: dict) -> str:
        v = r.get("fingerprint_version")
        return f"\t(fingerprint version {v}: add it again for hash evidence)" if v is not None and v < VERSION else ""

    write_stdout(
        "".join(
            f"{r['name']}\t{r['layers']} layers, hidden {r['hidden_size']}, vocab {r['vocab_size']}\t"
            f"{r['path'] or '(fingerprint only)'}{old(r)}\n"
            for r in rows
        )
    )


@registry_app.command("remove")
def remove(
    name: str = typer.Argument(..., help="The registered name."),
    registry: Path | None = REGISTRY_OPTION,
) -> None:
    """Remove a model from the registry (exit 2 if it is not there).

    Example: provenance registry remove llama-2-7b
    """
    from provenance.errors import UsageError
    from provenance.registry import Registry

    if not Registry(registry).remove(name):
        raise UsageError(f"no model named {name!r} in the registry")
    stderr_console().print(f"removed {name}")


@registry_app.command("export")
def export(
    out: Path = typer.Argument(..., help="The file to write (JSON lines, versioned)."),
    registry: Path | None = REGISTRY_OPTION,
) -> None:
    """Write every entry (name, checkpoint path, fingerprint) to one file that `registry import` reads.

    Example: provenance registry export bases.jsonl --registry ./bases
    """
    from provenance.registry import Registry

    n = Registry(registry).export(out)
    stderr_console().print(f"exported {n} models to {out}")


@registry_app.command("import")
def import_(
    src: Path = typer.Argument(..., help="A file written by `registry export`."),
    registry: Path | None = REGISTRY_OPTION,
    replace: bool = typer.Option(False, "--replace", help="Replace entries of the same name (default: keep them)."),
) -> None:
    """Add the entries of an export file to the registry (every fingerprint is checked first; exit 2 if one is bad).

    Example: provenance registry import bases.jsonl --registry ./bases
    """
    from provenance.registry import Registry

    res = Registry(registry).import_(src, replace=replace)
    stderr_console().print(
        f"imported {res['imported']} models from {src}"
        + (f" ({res['kept_existing']} existing names kept)" if res["kept_existing"] else "")
    )


def register(app: typer.Typer) -> None:
    app.add_typer(registry_app, name="registry")
