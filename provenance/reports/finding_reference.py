"""The finding reference in ``docs/ecosystem.md`` (one heading per finding id, linked from SARIF ``helpUri``),
generated from :data:`provenance.audit.RULES` so the documentation cannot drift from the code.

Regenerate with ``python -m provenance.reports.finding_reference --write``; a test checks the file is current.
"""

from __future__ import annotations

import sys
from pathlib import Path

from provenance.audit import RULES

MARKER = "## Finding reference"
DOC = Path(__file__).resolve().parents[2] / "docs" / "ecosystem.md"


def render() -> str:
    lines = [
        MARKER,
        "",
        "One heading per finding id (generated from the rules; do not edit by hand); SARIF `helpUri` links here.",
        "",
    ]
    for rid in sorted(RULES):
        r = RULES[rid]
        lines += [f"### `{rid}`", "", f"**{r.title}** — default severity {r.severity}. {r.help}", ""]
    return "\n".join(lines)


def current_document(text: str) -> str:
    """``text`` (docs/ecosystem.md) with its finding reference, the file's last section, regenerated."""
    head = text.split(MARKER, 1)[0]
    return head + render()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    text = DOC.read_text(encoding="utf-8")
    new = current_document(text)
    if "--write" in argv:
        DOC.write_text(new, encoding="utf-8")
        return 0
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
