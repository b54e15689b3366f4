"""Where a finding points, for formats that need a real file and position (SARIF, GitHub annotations).

Findings about card content carry ``file``/``line``/``column`` (1-based, relative to the release folder). A finding
about a file that is *missing* (no NOTICE, no LICENSE) cannot point at that file: it points at the card, where the
reader fixes the release, else at the release folder itself. Paths are made relative to the current directory when
the release lies inside it, because code scanning and annotations resolve them against the repository checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from provenance.audit import AuditReport, Finding


@dataclass(frozen=True)
class Location:
    uri: str  # POSIX path, relative to the current directory when the release is inside it
    line: int | None
    column: int | None
    is_dir: bool  # the release folder itself (no file to point at)
    stand_in: bool  # the finding's own file does not exist; this is where to fix it


def release_dir(report: AuditReport) -> Path:
    p = report.release.path
    return p if p.is_dir() else p.parent


def prefix(report: AuditReport) -> str:
    """The release folder relative to the current directory when it is inside it ("" otherwise)."""
    try:
        rel = release_dir(report).resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return ""
    return "" if rel == "." else rel + "/"


def _position(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else None


def locate(report: AuditReport, f: Finding) -> Location:
    root = release_dir(report)
    pre = prefix(report)
    card = report.release.card_path
    card_rel = report.release.rel(card) if card is not None and card.is_file() else None
    line, column = _position(getattr(f, "line", None)), _position(getattr(f, "column", None))
    if f.file and (root / f.file).is_file():
        return Location(pre + f.file, line, column if line else None, False, False)
    if card_rel is not None:
        same = f.file == card_rel
        return Location(pre + card_rel, line if same else None, column if same and line else None, False, bool(f.file))
    folder = pre.rstrip("/") or "."
    return Location(folder, None, None, True, bool(f.file))
