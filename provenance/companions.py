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
from provenance.checkpoint_types import ModelCard
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
            blob = fh.read(MAX_JSON_BYTES + 1)
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from exc
    return parse_json_bytes(path, blob)


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
        raise InputError(
            path, f"{prefix}a string with a lone surrogate escape ({text[:40]!r}) is not valid Unicode text"
        ) from None


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


# Types of the companion keys the tool computes with; anything else in these files is carried along untouched.
# Checked when read, so a wrong type (``"hidden_size": "64"``, ``"architectures": 5``) is one line naming the file
# and the key instead of a crash deep inside normalization. ``None`` (JSON null) is accepted everywhere.
_FIELD_TYPES = {
    "hidden_size": "size",
    "num_hidden_layers": "size",
    "num_attention_heads": "size",
    "num_key_value_heads": "size",
    "head_dim": "size",
    "intermediate_size": "size",
    "vocab_size": "size",
    "max_position_embeddings": "size",
    "sliding_window": "size",
    "rms_norm_eps": "number",
    "rope_theta": "number",
    "partial_rotary_factor": "number",
    "tie_word_embeddings": "bool",
    "attention_bias": "bool",
    "mlp_bias": "bool",
    "bos_token_id": "ids",
    "eos_token_id": "ids",
    "rope_scaling": "object",
}
COMPANION_SCHEMA: dict[str, dict[str, str]] = {
    "config": {
        "architectures": "strs",
        "model_type": "str",
        "hidden_act": "str",
        "hidden_activation": "str",
        "activation_function": "str",
        "pad_token_id": "ids",
        "torch_dtype": "str",
    },  # + CONFIG_ALIASES below
    "params": {
        "dim": "size",
        "n_layers": "size",
        "n_heads": "size",
        "n_kv_heads": "size",
        "vocab_size": "id",
        "multiple_of": "size",
        "ffn_dim_multiplier": "number",
        "norm_eps": "number",
        "rope_theta": "number",
        "max_seq_len": "size",
    },
    "adapter_config": {
        "r": "size",
        "lora_alpha": "number",
        "lora_dropout": "number",
        "peft_type": "str",
        "base_model_name_or_path": "str",
        "target_modules": "strs",
    },
    "generation_config": {"bos_token_id": "ids", "eos_token_id": "ids", "pad_token_id": "ids"},
}
MAX_SIZE = 1 << 40
_EXPECTED = {
    "size": f"an integer from 0 to {MAX_SIZE}",
    "id": f"an integer from -1 to {MAX_SIZE}",
    "ids": "a token id or a list of them",
    "number": "a number",
    "str": "a string",
    "bool": "true or false",
    "strs": "a string or a list of strings",
    "object": "an object",
}


def _config_schema() -> dict[str, str]:
    from provenance.normalize.arch import CONFIG_ALIASES  # one table of aliases, kept by normalization

    out = dict(COMPANION_SCHEMA["config"])
    for field_name, aliases in CONFIG_ALIASES.items():
        kind = _FIELD_TYPES.get(field_name)
        for alias in aliases:
            if kind and alias != "activation":
                out.setdefault(alias, kind)
    return out


def _fits(kind: str, v: Any) -> bool:
    is_int = isinstance(v, int) and not isinstance(v, bool)
    if kind == "size":
        return is_int and 0 <= v <= MAX_SIZE
    if kind == "id":
        return is_int and -1 <= v <= MAX_SIZE
    if kind == "ids":
        return _fits("id", v) or (isinstance(v, list) and len(v) <= 1024 and all(_fits("id", x) for x in v))
    if kind == "number":
        return (is_int and abs(v) <= 1 << 64) or isinstance(v, float)
    if kind == "str":
        return isinstance(v, str)
    if kind == "bool":
        return isinstance(v, bool)
    if kind == "strs":
        return isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
    return isinstance(v, dict)


def check_companion(kind: str, path: Path, data: Any) -> Any:
    """Refuse a companion JSON that is not an object, or whose computed-with keys have the wrong type."""
    if not isinstance(data, dict):
        raise InputError(path, f"{path.name} is not a JSON object")
    schema = _config_schema() if kind == "config" else COMPANION_SCHEMA.get(kind, {})
    for key, expected in schema.items():
        value = data.get(key)
        if value is not None and not _fits(expected, value):
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise InputError(path, f"{key} is {shown}; expected {_EXPECTED[expected]}")
    return data


def read_companions(directory: Path) -> tuple[dict[str, Any], ModelCard | None, dict[str, list[Path]]]:
    """Read config.json, generation_config.json, params.json, adapter_config.json, the card and legal files."""
    metadata: dict[str, Any] = {}
    for key, name in JSON_COMPANIONS.items():
        p = directory / name
        if p.is_file():
            metadata[key] = check_companion(key, p, read_json(p))
    return metadata, read_model_card(directory), find_legal_files(directory)
