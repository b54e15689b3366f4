"""The files that travel with a checkpoint: configs, the model card, and legal texts.

Read from the checkpoint's directory (or the directory holding a single checkpoint file). JSON that fails to
parse is an input error naming the file; a model card without front matter is fine (empty front matter).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

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

_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)


MAX_JSON_DEPTH = 64  # configs nest 3-4 levels; tokenizer.json about 6


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-finite number {name} (not JSON)")


def parse_json_bytes(path: Path, blob: bytes, prefix: str = "") -> Any:
    """Strict JSON from untrusted bytes: UTF-8, no NaN/Infinity, no integer beyond Python's digit limit, at most
    ``MAX_JSON_DEPTH`` levels, no lone surrogate escapes (they cannot be written back as UTF-8). Any failure is an
    InputError naming the file, its message starting with ``prefix``."""
    try:
        value = json.loads(blob.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError as exc:
        raise InputError(path, f"{prefix}not UTF-8 text ({exc.reason})") from exc
    except json.JSONDecodeError as exc:
        raise InputError(path, f"{prefix}invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise InputError(path, f"{prefix}JSON nested too deeply") from exc
    except ValueError as exc:  # integers beyond sys.get_int_max_str_digits, NaN/Infinity
        raise InputError(path, f"{prefix}invalid JSON: {str(exc).splitlines()[0][:120]}") from exc
    _check_json_tree(path, value, prefix)
    return value


def _check_json_tree(path: Path, value: Any, prefix: str) -> None:
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, str):
            _check_text(path, v, prefix)
        elif isinstance(v, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise InputError(path, f"{prefix}JSON nested deeper than {MAX_JSON_DEPTH} levels")
            if isinstance(v, dict):
                for k, item in v.items():
                    _check_text(path, k, prefix)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in v)


def _check_text(path: Path, text: str, prefix: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(path, f"{prefix}a string with a lone surrogate escape ({text[:40]!r}) is not valid "
                               "Unicode text") from None


def read_json(path: Path) -> Any:
    """Parse a JSON file, turning every failure into an InputError that names it."""
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise InputError(path, f"JSON file is {size} bytes, more than the {MAX_JSON_BYTES}-byte limit")
        with open(path, "rb") as fh:
            blob = fh.read(MAX_JSON_BYTES + 1)
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from exc
    return parse_json_bytes(path, blob)


def parse_model_card(text: str, path: Path | None = None) -> ModelCard:
    """Split a model card into YAML front matter and body. Malformed YAML is an input error."""
    m = _FRONT_MATTER.match(text)
    if not m:
        return ModelCard(path=path, front_matter={}, body=text)
    try:
        data = yaml.safe_load(m.group(1)) or {}
    except yaml.YAMLError as exc:
        raise InputError(path, f"model card front matter is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict):
        raise InputError(path, "model card front matter is not a mapping")
    return ModelCard(path=path, front_matter=data, body=text[m.end():])


def read_model_card(directory: Path) -> ModelCard | None:
    for name in ("README.md", "readme.md", "README.MD", "Readme.md"):
        p = directory / name
        if p.is_file():
            try:
                text = p.read_text(encoding="utf-8", errors="replace")
            except PermissionError as exc:
                raise InputError(p, "permission denied") from exc
            return parse_model_card(text, p)
    return None


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
