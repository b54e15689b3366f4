"""`provenance inspect PATH`: format, files, counts, declared architecture and a tensor table."""

from __future__ import annotations

from pathlib import Path

import typer

from provenance.cli.output import TextOrJson, dumps, human_count, stdout_console, write_stdout

PREVIEW_ROWS = 12


def inspect(
    path: Path = typer.Argument(
        ...,
        help="A checkpoint file or directory (safetensors, .bin/.pt/.pth, "
        "consolidated.*.pth, .gguf, PEFT adapter, llama2.c model.bin).",
    ),
    fmt: TextOrJson = typer.Option(TextOrJson.text, "--format", "-f", help="Report format."),
    tensors: bool = typer.Option(False, "--tensors", help="List every tensor in text mode (JSON always does)."),
) -> None:
    """Show what a checkpoint holds, without loading it into memory.

    Example: provenance inspect ./Yi-34B --format json | jq .num_parameters
    """
    from provenance.checkpoint import open_checkpoint
    from provenance.inspect import inspect_report

    report = inspect_report(open_checkpoint(path))
    if fmt is TextOrJson.json:
        write_stdout(dumps(report))
        return
    render_text(report, show_all=tensors)


def render_text(report: dict, show_all: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    con = stdout_console()
    con.print(f"[bold]{escape(str(report['path']))}[/bold]  format: {report['format']}")
    con.print(
        f"files: {len(report['files'])}  tensors: {report['num_tensors']}  "
        f"parameters: {human_count(report['num_parameters'])} ({report['num_parameters']:,})"
    )
    con.print("dtypes: " + ", ".join(f"{k} {human_count(v)}" for k, v in report["dtypes"].items()))
    decl = report.get("declared_architecture") or {}
    if decl:
        arch = ", ".join(decl.get("architectures", [])) or decl.get("model_type", "?")
        con.print(f"declared architecture: {arch} (from {decl.get('source')})")
    for line in report.get("summary_lines", []):
        con.print(line, markup=False)
    card = report.get("card") or {}
    if card:
        con.print("model card: " + "; ".join(f"{k}: {v}" for k, v in card.items()), markup=False)
    if report.get("adapter"):
        a = report["adapter"]
        con.print(f"PEFT adapter ({a['peft_type']}): base {a['base_model']}, rank {a['rank']}, alpha {a['alpha']}")
    for w in report.get("warnings", []):
        con.print(f"[yellow]warning:[/yellow] {escape(str(w))}")
    rows = report["tensors"] if show_all else report["tensors"][:PREVIEW_ROWS]
    table = Table(show_header=True, header_style="bold")
    table.add_column("tensor")
    table.add_column("shape")
    table.add_column("dtype")
    for t in rows:
        table.add_row(t["name"], "×".join(map(str, t["shape"])) or "scalar", t["dtype"])
    con.print(table)
    if not show_all and len(report["tensors"]) > PREVIEW_ROWS:
        con.print(f"… {len(report['tensors']) - PREVIEW_ROWS} more (use --tensors to list all)")


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
