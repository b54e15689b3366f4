"""Reading a release directory: what it says about itself and what legal texts it ships.

A release may hold weights (any format the tool reads) or only a model card; either works. Nothing here loads
tensors: the card's front matter, README body, LICENSE/NOTICE/USE_POLICY texts (each identified by its title and
version line), ``adapter_config.json``, GGUF ``general.*`` keys and ``config.json``'s ``_name_or_path`` are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from licenses import License, identify_text, lookup_card
from provenance import safeio
from provenance.cards import (
    Card,
    find_card,
    first_heading,
    heading_text,
    read_card,
    set_front_matter_keys,  # noqa: F401 - re-exported
)
from provenance.companions import find_legal_files, read_json
from provenance.errors import InputError

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".gguf")
MAX_TEXT_BYTES = 4 * 1024 * 1024  # legal texts and cards are small; refuse absurd sizes


@dataclass(frozen=True)
class LegalText:
    """A LICENSE / NOTICE / USE_POLICY file and, for license texts, which license it is (None: matches none)."""

    kind: str  # "license" | "notice" | "use_policy"
    path: Path
    text: str
    license_id: str | None = None
    matched: str | None = None  # the title and version line that identified it
    root: Path | None = None  # the release or base folder it belongs to
    outside: bool = False  # a symlink resolving outside that folder: read to identify, never copied

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class GGUFInfo:
    file: Path
    name: str | None = None
    license: str | None = None
    license_name: str | None = None
    license_link: str | None = None
    base_models: list[dict[str, str]] = field(default_factory=list)  # {"name", "organization", "repo_url", "repo_id"}
    source_repo_url: str | None = None


@dataclass
class ReleaseInfo:
    path: Path
    card_path: Path | None
    card_text: str
    front_matter: dict[str, Any]
    body: str
    model_name: str
    model_name_source: str
    license: str | None  # the card's raw ``license`` (or ``license_name`` when ``other``)
    license_record: License | None
    license_link: str | None
    base_models: list[str]  # from the card
    base_model_relation: str | None
    legal: list[LegalText]
    adapter_base: str | None
    gguf: GGUFInfo | None
    name_or_path: str | None
    weight_files: list[Path]
    config: dict[str, Any] | None
    card: Card | None = None

    @property
    def has_weights(self) -> bool:
        return bool(self.weight_files)

    def legal_of(self, kind: str) -> list[LegalText]:
        return [t for t in self.legal if t.kind == kind]

    def rel(self, p: Path | str) -> str:
        """A path relative to the release directory, in POSIX form (for reports)."""
        p = Path(p)
        try:
            return p.relative_to(self.path).as_posix()
        except ValueError:
            return p.as_posix()


def read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_TEXT_BYTES:
            raise InputError(path, f"larger than {MAX_TEXT_BYTES} bytes; not a license or card text")
        return path.read_bytes().decode("utf-8", errors="replace")
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc


def read_legal_texts(directory: Path) -> list[LegalText]:
    """LICENSE/NOTICE/USE_POLICY files beside the release, plus REUSE-style ``LICENSES/*`` texts."""
    found = find_legal_files(directory)
    reuse = directory / "LICENSES"
    if reuse.is_dir():
        found.setdefault("license", []).extend(sorted(p for p in reuse.iterdir() if p.is_file()))
    out: list[LegalText] = []
    for kind in ("license", "notice", "use_policy"):
        for p in found.get(kind, []):
            text = read_text(p)
            lic_id = matched = None
            if kind == "license":
                m = identify_text(text)
                if m:
                    lic_id = m.license.id
                    matched = m.title + (f" / {m.version}" if m.version else "")
            out.append(LegalText(kind, p, text, lic_id, matched, directory, not safeio.resolves_inside(directory, p)))
    return out


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v]
    return [str(value)] if str(value).strip() else []


def repo_id_from_url(url: str | None) -> str | None:
    """``https://huggingface.co/org/name`` → ``org/name``; None when the URL has no two-part path."""
    if not url:
        return None
    m = re.match(r"^(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/([^/\s]+/[^/\s?#]+)", url.strip())
    return m.group(1) if m else None


def read_gguf_info(path: Path) -> GGUFInfo:
    """``general.*`` license and lineage keys of a GGUF file (versions 1-3), read with the project's bounded parser
    (``provenance.formats.gguf_parse``: every count and length checked against the file, no tensor data read), so
    old files are read and a hostile header cannot make audit hang. Raises only InputError."""
    from provenance.formats.gguf_parse import parse_gguf

    kv = parse_gguf(path).kv

    def get(key: str) -> Any:
        value = kv.get(key)
        return value if isinstance(value, str) else None  # a key of another type counts as absent

    info = GGUFInfo(
        file=path,
        name=get("general.name"),
        license=get("general.license"),
        license_name=get("general.license.name"),
        license_link=get("general.license.link"),
        source_repo_url=get("general.source.repo_url") or get("general.source.url"),
    )
    count = kv.get("general.base_model.count")
    count = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0
    for i in range(min(count, sum(k.startswith("general.base_model.") for k in kv))):  # bounded by the keys present
        entry = {k: get(f"general.base_model.{i}.{k}") for k in ("name", "organization", "repo_url")}
        entry = {k: str(v) for k, v in entry.items() if v}
        rid = repo_id_from_url(entry.get("repo_url"))
        if rid:
            entry["repo_id"] = rid
        if entry:
            info.base_models.append(entry)
    return info


_TEMPLATE_HEADING = re.compile(r"(?i)model\s+card(\s+for\s+(model\s+id|\{\{.*))?|model\s+id|\{\{.*")


def heading_name(heading: str) -> str | None:
    """A model name from a card's first heading, or None for the Hub template's placeholders ("Model Card for
    Model ID", unrendered ``{{ … }}``). "Model Card for X" and "X Model Card" name X."""
    text = " ".join(heading.split())
    if not text or _TEMPLATE_HEADING.fullmatch(text):
        return None
    low = text.lower()
    if low.startswith("model card for "):
        text = text[len("model card for ") :].strip()
    elif low.endswith(" model card"):
        text = text[: -len(" model card")].strip()
    return text or None


def _model_name(fm: dict[str, Any], card: Card | None, gguf: GGUFInfo | None, directory: Path) -> tuple[str, str]:
    if isinstance(fm.get("model_name"), str) and fm["model_name"].strip():
        return fm["model_name"].strip(), "card model_name"
    mi = fm.get("model-index")
    if isinstance(mi, list) and mi and isinstance(mi[0], dict) and mi[0].get("name"):
        return str(mi[0]["name"]), "card model-index"
    if gguf and gguf.name:
        return gguf.name, "GGUF general.name"
    heading = first_heading(card) if card else None
    name = heading_name(heading_text(heading)) if heading else None
    if name:
        return name, "README heading"
    return directory.name, "directory name"


def read_release(path: str | Path) -> ReleaseInfo:
    """Read what a release says about itself. ``path`` is a directory (or a file inside one)."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "no such file or directory")
    directory = p if p.is_dir() else p.parent
    metadata = {
        key: read_json(directory / name)
        for key, name in (("config", "config.json"), ("adapter_config", "adapter_config.json"))
        if (directory / name).is_file()
    }
    card_file = find_card(directory)
    if card_file is not None and not safeio.resolves_inside(directory, card_file):
        raise InputError(card_file, "resolves outside the release folder (a symlink); refusing to read it")
    card = read_card(directory)
    if p.is_file():
        weights = [p] if p.suffix.lower() in WEIGHT_SUFFIXES else []
    else:
        weights = sorted(q for q in directory.iterdir() if q.is_file() and q.suffix.lower() in WEIGHT_SUFFIXES)
    ggufs = [w for w in weights if w.suffix.lower() == ".gguf"]
    gguf = read_gguf_info(ggufs[0]) if ggufs else None

    fm = dict(card.front_matter) if card else {}
    body = card.body if card else ""
    card_text = card.text if card else ""
    rec, raw = lookup_card(fm.get("license"), fm.get("license_name"))
    adapter = metadata.get("adapter_config") or {}
    config = metadata.get("config") if isinstance(metadata.get("config"), dict) else None
    name_or_path = config.get("_name_or_path") if config else None
    name, name_source = _model_name(fm, card, gguf, directory)
    relation = fm.get("base_model_relation")
    return ReleaseInfo(
        path=directory,
        card_path=card.path if card else None,
        card_text=card_text,
        card=card,
        front_matter=fm,
        body=body,
        model_name=name,
        model_name_source=name_source,
        license=raw,
        license_record=rec,
        license_link=str(fm["license_link"]) if fm.get("license_link") else None,
        base_models=_as_list(fm.get("base_model")),
        base_model_relation=str(relation) if relation else None,
        legal=read_legal_texts(directory),
        adapter_base=str(adapter["base_model_name_or_path"])
        if isinstance(adapter, dict) and adapter.get("base_model_name_or_path")
        else None,
        gguf=gguf,
        name_or_path=str(name_or_path) if name_or_path else None,
        weight_files=weights,
        config=config,
    )
