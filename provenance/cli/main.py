"""Entry point: builds the typer app from one module per command and turns expected errors into exit codes.

Exit codes (documented in the README): 0 success; 1 a check failed (findings at or above ``--fail-on``, a model
that does not run as LLaMA, …); 2 usage error or unreadable input. Tracebacks are shown only with ``--debug``.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import typer
import typer.main

from provenance import __version__
from provenance.errors import ProvenanceError

try:  # recent typer carries its own copy of click; older releases use click itself
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_exc  # type: ignore[no-redef]

# Ctrl-C / EOF at a prompt: typer's own Abort in recent releases, click's in older ones.
ABORT: tuple[type[BaseException], ...] = tuple(
    t for t in {getattr(typer, "Abort", None), getattr(click_exc, "Abort", None)} if t is not None
)

# Each module defines `register(app)`; the order here is the order in `provenance --help`.
COMMAND_MODULES = [
    "provenance.cli.inspect_cmd",
    "provenance.cli.normalize_cmd",
    "provenance.cli.verify_cmd",
    "provenance.cli.demo_cmd",
    "provenance.cli.audit_cmd",
    "provenance.cli.compare_cmd",
    "provenance.cli.fingerprint_cmd",
    "provenance.cli.registry_cmd",
    "provenance.cli.identify_cmd",
    "provenance.cli.scan_cmd",
]

app = typer.Typer(
    name="provenance",
    help=(
        "Audit where an LLM checkpoint came from and what its licenses require.\n\n"
        "Reads safetensors (single or sharded), torch pickles (safely, weights only), Meta consolidated.*.pth, "
        "GGUF, PEFT adapters and llama2.c files, without network access and without running model code.\n\n"
        "Example: provenance inspect ./my-model --format json"
    ),
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"provenance {__version__} (distribution llm-provenance)")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors (also PROVENANCE_DEBUG=1)."),
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Audit where an LLM checkpoint came from and what its licenses require."""


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def _escape_help(command: Any) -> None:
    """Help texts are plain prose: escape anything rich would read as markup (``[tool.provenance]`` vanished)."""
    from rich.markup import escape

    for attr in ("help", "short_help", "epilog"):
        if getattr(command, attr, None):
            setattr(command, attr, escape(getattr(command, attr)))
    for param in command.params:
        if getattr(param, "help", None):
            param.help = escape(param.help)
    for sub in getattr(command, "commands", {}).values():
        _escape_help(sub)


def build_command() -> Any:
    command = typer.main.get_command(app)
    _escape_help(command)
    return command


def _usage_error(exc: Any) -> None:
    """Click's usage errors as one line on stderr (exit 2), naming the command's --help; no box."""
    if isinstance(exc, getattr(click_exc, "NoArgsIsHelpError", ())):
        text = exc.ctx.get_help()  # type: ignore[union-attr]  # isinstance() on a getattr() result  # rich help prints itself and returns ""
        if text:
            sys.stderr.write(text + "\n")
        sys.exit(2)
    ctx = getattr(exc, "ctx", None)
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    msg = " ".join(exc.format_message().split())
    sys.stderr.write(f"provenance: error: {msg}{hint}\n")
    sys.exit(2)


_ARGV: list[str] = []


def current_argv() -> list[str]:
    """The arguments of the running command (after ``provenance``), for reports that record how to reproduce them."""
    return list(_ARGV)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("PROVENANCE_DEBUG", "") not in ("", "0")
    args = [a for a in args if a != "--debug"]
    _ARGV[:] = args
    try:
        from provenance.progress import display

        with display():  # stages and ETA on stderr, only on a terminal
            code = build_command().main(args=args, prog_name="provenance", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except click_exc.ClickException as exc:
        _usage_error(exc)
    except ABORT:
        sys.stderr.write("provenance: interrupted\n")
        sys.exit(130)
    except ProvenanceError as exc:
        if debug:
            raise
        sys.stderr.write(f"provenance: error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("provenance: interrupted\n")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a bad input must never print a traceback unless asked
        if debug:
            raise
        msg = str(exc).splitlines()[0] if str(exc) else ""
        sys.stderr.write(f"provenance: error: {type(exc).__name__}: {msg} (rerun with --debug for a traceback)\n")
        sys.exit(2)


if __name__ == "__main__":
    main()
