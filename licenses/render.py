"""Rendering the files a release owes: NOTICE content and the README attribution section."""

from __future__ import annotations

from dataclasses import dataclass

from licenses.records import BY_ID

ATTRIBUTION_START = "<!-- provenance:attribution:start -->"
ATTRIBUTION_END = "<!-- provenance:attribution:end -->"


def _norm(s: str) -> str:
    return " ".join(s.split())


def missing_notices(notices: list[str], existing: str | None) -> list[str]:
    """The required notice strings not found (whitespace-insensitively) in an existing NOTICE text."""
    have = _norm(existing or "")
    return [n for n in notices if _norm(n) not in have]


def render_notice(notices: list[str], existing: str | None = None) -> str:
    """NOTICE content: the existing text kept as is, each missing required string appended on its own line."""
    missing = missing_notices(notices, existing)
    body = (existing or "").rstrip("\n")
    parts = ([body] if body else []) + missing
    return "\n\n".join(parts) + "\n"


@dataclass(frozen=True)
class BaseCredit:
    name: str
    license_id: str | None
    link: str | None = None


def display_line(line: str, model_name: str) -> str:
    return line.replace("{name}", model_name)


def render_attribution_section(model_name: str, bases: list[BaseCredit], display_lines: list[str],
                               notices: list[str]) -> str:
    """A Markdown section, fenced by marker comments so a later run recognises it as ours."""
    lines = [ATTRIBUTION_START, "## Attribution and license", ""]
    for line in display_lines:
        lines.append(f"**{display_line(line, model_name)}**")
        lines.append("")
    if bases:
        lines.append(f"{model_name} is derived from:")
        lines.append("")
        for b in bases:
            lic = BY_ID.get(b.license_id or "")
            what = lic.name if lic else (b.license_id or "license unknown")
            lines.append(f"- {b.name} ({what})")
        lines.append("")
    for n in notices:
        lines.append(f"> {n}")
        lines.append("")
    lines.append("See LICENSE and NOTICE in this repository for the terms that apply.")
    lines.append(ATTRIBUTION_END)
    return "\n".join(lines) + "\n"


def replace_or_append_section(readme_body: str, section: str) -> str:
    """Put ``section`` in place of an earlier provenance section, or append it."""
    start, end = readme_body.find(ATTRIBUTION_START), readme_body.find(ATTRIBUTION_END)
    if start != -1 and end != -1 and end > start:
        return readme_body[:start] + section.rstrip("\n") + readme_body[end + len(ATTRIBUTION_END):]
    sep = "" if not readme_body or readme_body.endswith("\n\n") else ("\n" if readme_body.endswith("\n") else "\n\n")
    return readme_body + sep + section
