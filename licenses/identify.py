"""Finding a license record from a card id, a GGUF value or the text of a LICENSE file."""

from __future__ import annotations

import re
from dataclasses import dataclass

from licenses.records import BY_ID, LICENSES, License

# How much of a file to look at: titles and version lines sit at the top of every text we know.
HEAD_CHARS = 6000


def _key(value: str) -> str:
    return re.sub(r"[\s_]+", "-", value.strip().lower())


def _alias_table() -> dict[str, License]:
    table: dict[str, License] = {}
    for lic in LICENSES:
        # the record's own name too ("Llama 2 Community License"): GGUF general.license often holds it
        for name in (lic.id, lic.hf_license_name or "", lic.spdx, *lic.aliases, lic.name):
            if name:
                table.setdefault(_key(name), lic)
        if lic.hf_license != "other":
            table.setdefault(_key(lic.hf_license), lic)
    return table


ALIASES = _alias_table()


def lookup(value: str | None) -> License | None:
    """A record for a card ``license``/``license_name`` value, an alias, an SPDX id or a LicenseRef; else None."""
    if not value or not isinstance(value, str):
        return None
    key = _key(value)
    if key in ALIASES:
        return ALIASES[key]
    if key.startswith("licenseref-"):
        key = key.removeprefix("licenseref-").removeprefix("scancode-")
        for lic in LICENSES:
            if _key(lic.spdx).endswith(key):
                return lic
    return None


def lookup_card(license_value: object, license_name: object = None) -> tuple[License | None, str | None]:
    """Resolve a card's ``license`` (+ ``license_name`` when ``other``). Returns (record, the raw value used)."""
    if isinstance(license_value, list):  # some cards list several; the first known one decides
        for v in license_value:
            rec, raw = lookup_card(v, license_name)
            if rec:
                return rec, raw
        license_value = license_value[0] if license_value else None
    raw = str(license_value) if license_value is not None else None
    if raw and _key(raw) == "other":
        name = str(license_name) if license_name else None
        return lookup(name), name or raw
    return lookup(raw), raw


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text[:HEAD_CHARS])


_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def plain(text: str) -> str:
    """Text reduced for matching phrases: curly quotes made straight, Markdown emphasis and escapes dropped
    (Meta's 3.x texts are Markdown: ``**Llama 3.1** **Acceptable Use Policy**``, ``llama3\\_3``), words
    hyphenated across a line break joined, whitespace collapsed."""
    text = text.translate(_QUOTES).replace("\\", "")
    text = re.sub(r"(?<=\w)-[ \t]*\r?\n\s*(?=\w)", "-", text)  # a hyphenated word wrapped at the line end
    text = re.sub(r"(\*\*|__|(?<![\w*])\*(?!\s))", "", text)
    return re.sub(r"\s+", " ", text).strip()


def contains_use_policy(text: str, lic: License) -> bool:
    """Does ``text`` (a LICENSE or USE_POLICY file) contain ``lic``'s use policy itself, not just a mention of it?

    Meta's Llama 3 LICENSE files append the whole Acceptable Use Policy; such a file satisfies the duty to make the
    policy available. Every marker of the record must match (title line and opening sentence)."""
    if not lic.use_policy_markers:
        return False
    flat = plain(text)
    return all(re.search(m, flat, re.I) for m in lic.use_policy_markers)


def find_use_policy(text: str) -> License | None:
    """The record whose use policy ``text`` contains, else None (the first record in table order wins)."""
    return next((lic for lic in LICENSES if contains_use_policy(text, lic)), None)


@dataclass(frozen=True)
class TextMatch:
    license: License
    title: str  # the title as found
    version: str | None  # the version line as found


def identify_text(text: str) -> TextMatch | None:
    """Which license is this text, judged by its title and version/date line? None when no record matches.

    When several records match (a CC-BY-NC text also contains "Attribution 4.0"-like phrases, the OpenRAIL
    pattern is loose), the one whose title appears first in the text wins.
    """
    flat = _flat(text)
    best: tuple[int, TextMatch] | None = None
    for lic in LICENSES:
        sig = lic.signature
        t = re.search(sig.title, flat, re.I)
        if not t:
            continue
        if any(re.search(x, flat, re.I) for x in sig.exclude):
            continue
        v = None
        if sig.version:
            v = re.search(sig.version, flat, re.I)
            if not v:
                continue
        match = TextMatch(lic, t.group(0), v.group(0) if v else None)
        if best is None or t.start() < best[0]:
            best = (t.start(), match)
    return best[1] if best else None


def get(license_id: str) -> License:
    """The record for one of our ids (KeyError if unknown); see :func:`lookup` for user-facing spellings."""
    return BY_ID[license_id]
