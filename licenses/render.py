"""Rendering the files a release owes: NOTICE content and the README attribution section."""

from __future__ import annotations

import re
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


def notice_shape(s: str) -> str:
    """A notice with its version numbers, "Meta" before "Llama", case and the copyright sign folded away: two
    notices with the same shape are versions of one another."""
    s = _norm(s).lower().replace("©", "(c)")
    s = re.sub(r"\bmeta\s+(?=llama)", "", s)
    return re.sub(r"\d+(?:\.\d+)*", "#", s)


def stale_notices(existing: str | None, required: list[str], known: list[str]) -> list[tuple[int, str]]:
    """(1-based line, text) of NOTICE lines that are the notice of another license (any of ``known`` that is not
    required) or another version of a required notice ("Llama 3" where "Llama 3.1" is owed)."""
    req = {_norm(n) for n in required}
    shapes = {notice_shape(n) for n in required}
    others = {_norm(k) for k in known} - req
    out = []
    for i, line in enumerate((existing or "").splitlines(), 1):
        t = _norm(line)
        if t and t not in req and (t in others or notice_shape(t) in shapes):
            out.append((i, line.strip()))
    return out


def replace_stale_notices(existing: str | None, required: list[str], known: list[str]) -> str:
    """NOTICE content with stale notice lines removed and every missing required string appended."""
    drop = {i for i, _ in stale_notices(existing, required, known)}
    kept = [ln for i, ln in enumerate((existing or "").splitlines(), 1) if i not in drop]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip("\n")
    return render_notice(required, text + "\n" if text else None)


@dataclass(frozen=True)
class BaseCredit:
    name: str
    license_id: str | None
    link: str | None = None
    also: tuple[str, ...] = ()  # further licenses of the same base (R1-Distill-Llama: Llama 3.1 and MIT)


def display_line(line: str, model_name: str) -> str:
    return line.replace("{name}", model_name)


def render_attribution_section(
    model_name: str,
    bases: list[BaseCredit],
    display_lines: list[str],
    notices: list[str],
    license_files: list[str] | None = None,
    source_credits: list[str] | None = None,
) -> str:
    """A Markdown section, fenced by marker comments so a later run recognises it as ours. ``license_files``: the
    release's license texts as they are (or will be) named, e.g. ``LICENSE-llama3`` when LICENSE was taken.
    ``source_credits``: sources to credit where a license asks for that without fixed wording (Yi §2(4)), e.g.
    "the Yi Series Models by 01.AI"; each becomes a displayed line."""
    lines = [ATTRIBUTION_START, "## Attribution and license", ""]
    for line in display_lines:
        lines.append(f"**{display_line(line, model_name)}**")
        lines.append("")
    for credit in dict.fromkeys(source_credits or ()):
        lines.append(f"{model_name} is based on {credit}.")
        lines.append("")
    if bases:
        lines.append(f"{model_name} is derived from:")
        lines.append("")
        for b in bases:
            ids = [i for i in dict.fromkeys((b.license_id, *b.also)) if i]
            what = " and ".join(BY_ID[i].name if i in BY_ID else i for i in ids) or "license unknown"
            lines.append(f"- {b.name} ({what})")
        lines.append("")
    for n in notices:
        lines.append(f"> {n}")
        lines.append("")
    files = list(dict.fromkeys(license_files or ["LICENSE"])) + (["NOTICE"] if notices else [])
    shown = ", ".join(files[:-1]) + " and " + files[-1] if len(files) > 1 else files[0]
    lines.append(f"See {shown} in this repository for the terms that apply.")
    lines.append(ATTRIBUTION_END)
    return "\n".join(lines) + "\n"


def replace_or_append_section(readme_body: str, section: str) -> str:
    """Put ``section`` in place of an earlier provenance section, or append it."""
    start, end = readme_body.find(ATTRIBUTION_START), readme_body.find(ATTRIBUTION_END)
    if start != -1 and end != -1 and end > start:
        return readme_body[:start] + section.rstrip("\n") + readme_body[end + len(ATTRIBUTION_END) :]
    sep = "" if not readme_body or readme_body.endswith("\n\n") else ("\n" if readme_body.endswith("\n") else "\n\n")
    return readme_body + sep + section
