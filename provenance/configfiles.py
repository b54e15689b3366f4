"""Where ``[tool.provenance]`` settings are found, and a TOML reader that works on every declared Python.

``tomllib`` is in the standard library only from Python 3.11; on 3.10 the identical ``tomli`` package (a
conditional dependency in pyproject.toml) provides it.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["CONFIG_NAMES", "config_candidates", "repository_root", "tomllib"]

CONFIG_NAMES = ("provenance.toml", "pyproject.toml")
_REPO_MARKERS = (".git", ".hg", ".svn")


def repository_root(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` that holds a version-control marker (``.git`` may be a file in
    a worktree or submodule), or None when ``start`` is not inside a repository."""
    start = start.resolve()
    for d in (start, *start.parents):
        if any((d / m).exists() for m in _REPO_MARKERS):
            return d
    return None


def config_candidates(release_dir: Path) -> list[Path]:
    """Config files to try, nearest first: ``provenance.toml`` then ``pyproject.toml`` in the release folder and
    in each parent up to the repository root. Outside a repository only the release folder itself is searched,
    so a stray file in a home or temp directory never configures an audit."""
    here = release_dir.resolve()
    root = repository_root(here)
    dirs = [here] if root is None else [here, *[p for p in here.parents if p == root or root in p.parents]]
    return [d / name for d in dirs for name in CONFIG_NAMES]
