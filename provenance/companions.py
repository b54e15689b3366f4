"""The files that travel with a checkpoint: configs, the model card, and legal texts.

Read from the checkpoint's directory (or the directory holding a single checkpoint file). JSON that fails to
parse is an input error naming the file; a model card without front matter is fine (empty front matter).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any


from provenance.cards import find_card, parse_card, read_card_text
from provenance.checkpoint import ModelCard
from provenance.errors import InputError

MAX_JSON_BYTES = 64 * 1024 * 1024  # configs and indexes are small; refuse absurd sizes before parsing

JSON_COMPANIONS = {
    "config": "config.json",
    "generation_config": "generation_config.json",
    "params": "params.json",
    "adapter_config": "adapter_config.json",
}

# Legal files by kind; matched case-insensitively on the stem, any extension (LICENSE, LICENSE.txt, NOTICE.md …).
LEGAL_PATTERNS = {
    "license": re.compile(r"^(license|licence|copying|model_license_agreement|license[-_].*|licence[-_].*)$", re.I),
    "notice": re.compile(r"^notice([-_].*)?$", re.I),
    "use_policy": re.compile(r"^(use_policy|acceptable[-_ ]use[-_ ]policy|responsible_use_guide)([-_].*)?$", re.I),
}



def read_json(path: Path) -> Any:
    """Parse a JSON file, turning every failure into an InputError that names it."""
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise InputError(path, f"JSON file is {size} bytes, more than the {MAX_JSON_BYTES}-byte limit")
        with open(path, "rb") as fh:
            return json.loads(fh.read().decode("utf-8"))
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc
    except UnicodeDecodeError as exc:
        raise InputError(path, f"not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise InputError(path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc


def parse_model_card(text: str, path: Path | None = None) -> ModelCard:
    """Split a model card into YAML front matter and body, within the limits of :mod:`provenance.cards`."""
    card = parse_card(text, path)
    return ModelCard(path=path, front_matter=card.front_matter, body=card.body)


def read_model_card(directory: Path) -> ModelCard | None:
    p = find_card(directory)
    return None if p is None else parse_model_card(read_card_text(p), p)


def find_legal_files(directory: Path) -> dict[str, list[Path]]:
    """LICENSE*/NOTICE*/USE_POLICY* files in ``directory`` (not recursive), sorted by name."""
    found: dict[str, list[Path]] = {}
    if not directory.is_dir():
        return found
    for p in sorted(directory.iterdir()):
        if not p.is_file():
            continue
        stem = p.name.split(".", 1)[0] if p.suffix.lower() in {".txt", ".md", ".rst", ""} else p.stem
        for kind, pattern in LEGAL_PATTERNS.items():
            if pattern.match(stem) or pattern.match(p.name):
                found.setdefault(kind, []).append(p)
                break
    return found


def read_companions(directory: Path) -> tuple[dict[str, Any], ModelCard | None, dict[str, list[Path]]]:
    """Read config.json, generation_config.json, params.json, adapter_config.json, the card and legal files."""
    metadata: dict[str, Any] = {}
    for key, name in JSON_COMPANIONS.items():
        p = directory / name
        if p.is_file():
            metadata[key] = read_json(p)
    return metadata, read_model_card(directory), find_legal_files(directory)
