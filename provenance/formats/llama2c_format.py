"""Placeholder until the llama2c reader lands (in progress in this session)."""

from pathlib import Path

from provenance.errors import InputError


def open_path(path: Path):
    raise InputError(path, "reading the llama2c format is not implemented yet")
