"""Placeholder until the meta reader lands (in progress in this session)."""

from pathlib import Path

from provenance.errors import InputError


def open_path(path: Path):
    raise InputError(path, "reading the meta format is not implemented yet")
