"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` annotation per finding, placed on
the file and line it concerns, then the PASS/FAIL line.

Escaping follows the runner's parser (actions/toolkit ``packages/core/src/command.ts``, ``escapeData`` and
``escapeProperty``; actions/runner ``ActionCommand.cs`` undoes it): in the message ``%``, CR and LF become
``%25``, ``%0D``, ``%0A``; property values additionally escape ``:`` and ``,`` as ``%3A`` and ``%2C``.
"""

from __future__ import annotations

from provenance.audit import RULES, AuditReport
from provenance.reports.locations import locate

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(level: str, message: str, **props: object) -> str:
    fields = ",".join(f"{k}={escape_property(str(v))}" for k, v in props.items() if v is not None)
    return f"::{level}{' ' + fields if fields else ''}::{escape_data(message)}"


def render(report: AuditReport) -> str:
    out = []
    for f in report.findings:
        loc = locate(report, f)
        message = f.message + (f" Fix: {f.fix}" if f.fix else "")
        out.append(
            annotation(
                COMMAND[f.severity],
                message,
                file=None if loc.is_dir else loc.uri,
                line=loc.line,
                col=loc.column,
                title=f"{f.id}: {RULES[f.id].title}",
            )
        )
    c = report.counts()
    out.append(
        f"provenance audit: {'FAIL' if report.failing() else 'PASS'}: {c['error']} error(s), "
        f"{c['warning']} warning(s), {c['info']} info; fail-on {report.config.fail_on}"
    )
    return "\n".join(out) + "\n"
