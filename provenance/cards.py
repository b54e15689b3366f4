"""Model cards from strangers: a bounded YAML front-matter parser, the card body, and safe front-matter edits.

A card is read with a size cap before any byte is read; the front matter is split line by line (no regex
backtracking), limited in bytes and lines, and parsed by PyYAML's safe loader with limits on nesting depth, node
count and the *expanded* size of aliases (a 400-byte "billion laughs" card composes to a tiny graph but expands to
billions of nodes the moment anything walks it; recursive aliases never end). Values are then made JSON-safe
(dates to ISO 8601 strings, non-string keys to strings, NaN/infinities to strings, binary to base64) so every report
renders strict JSON. Every refusal is an :class:`InputError` naming the card.

Edits (:func:`set_front_matter_keys`) keep the card's lines as written when a line-level edit is safe, and check
the result by parsing it back: when the parsed front matter is not exactly the old one plus the updates (a flow
mapping such as the Hub template's ``{}``, odd indentation, …) the front matter is re-emitted from the parsed data.
A card the tool cannot read back is never returned.
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from provenance.errors import InputError

MAX_CARD_BYTES = 4 * 1024 * 1024  # README.md; checked with stat before reading
MAX_FRONT_MATTER_BYTES = 256 * 1024  # Meta's gated cards quote a whole license: ~30 KB
MAX_FRONT_MATTER_LINES = 10_000
MAX_DEPTH = 64
MAX_NODES = 200_000  # counted with every alias expanded
CARD_NAMES = ("README.md", "readme.md", "README.MD", "Readme.md")


@dataclass
class Card:
    """A parsed card: front matter (JSON-safe), where each top-level key sits, and the body."""

    path: Path | None
    text: str
    front_matter: dict[str, Any] = field(default_factory=dict)
    key_lines: dict[str, int] = field(default_factory=dict)  # top-level key -> 1-based line in the file
    front_matter_span: tuple[int, int] | None = None  # character offsets of the YAML between the fences
    body: str = ""
    body_offset: int = 0  # character offset of the body in ``text``
    body_line: int = 1  # 1-based line of the body's first line


def _is_fence(line: str, closing: bool) -> bool:
    s = line.rstrip("\r\n").rstrip(" \t")
    return s == "---" or (closing and s == "...")


def split_front_matter(text: str, path: Path | None = None) -> tuple[int, int, int] | None:
    """``(yaml_start, yaml_end, body_start)`` character offsets, or None when the card has no front matter.

    The card must start (after an optional BOM) with a ``---`` line; the front matter runs to the next ``---`` or
    ``...`` line. Linear in the text; refuses an unterminated or oversized block."""
    start = 1 if text.startswith("\ufeff") else 0
    nl = text.find("\n", start)
    first = text[start:] if nl == -1 else text[start : nl + 1]
    if not _is_fence(first, closing=False):
        return None
    if nl == -1:
        return None
    pos = yaml_start = nl + 1
    lines = 0
    while True:
        if pos - yaml_start > MAX_FRONT_MATTER_BYTES:
            raise InputError(path, f"model card front matter is larger than {MAX_FRONT_MATTER_BYTES} bytes")
        if lines > MAX_FRONT_MATTER_LINES:
            raise InputError(path, f"model card front matter has more than {MAX_FRONT_MATTER_LINES} lines")
        end = text.find("\n", pos)
        line = text[pos:] if end == -1 else text[pos : end + 1]
        if _is_fence(line, closing=True):
            return yaml_start, pos, len(text) if end == -1 else end + 1
        if end == -1:
            return None  # never closed: the whole file is the body (as the Hub shows it)
        pos = end + 1
        lines += 1


class _Limits(yaml.SafeLoader):
    """PyYAML's safe loader with a depth and node budget while composing."""

    def __init__(self, stream: str, path: Path | None):
        super().__init__(stream)
        self._path = path
        self._depth = 0
        self._count = 0

    def compose_node(self, parent, index):  # type: ignore[override]
        self._depth += 1
        self._count += 1
        if self._depth > MAX_DEPTH:
            raise InputError(self._path, f"model card front matter is nested deeper than {MAX_DEPTH} levels")
        if self._count > MAX_NODES:
            raise InputError(self._path, f"model card front matter has more than {MAX_NODES} nodes")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _expanded_size(node: yaml.Node, path: Path | None) -> int:
    """Nodes in the document with every alias expanded; refuses recursion and budgets over MAX_NODES."""
    memo: dict[int, int] = {}
    active: set[int] = set()

    def size(n: yaml.Node, depth: int) -> int:
        key = id(n)
        if key in memo:
            return memo[key]
        if key in active:
            raise InputError(path, "model card front matter has a recursive alias")
        if depth > MAX_DEPTH:
            raise InputError(path, f"model card front matter is nested deeper than {MAX_DEPTH} levels")
        active.add(key)
        total = 1
        if isinstance(n, yaml.SequenceNode):
            total += sum(size(c, depth + 1) for c in n.value)
        elif isinstance(n, yaml.MappingNode):
            total += sum(size(k, depth + 1) + size(v, depth + 1) for k, v in n.value)
        active.discard(key)
        if total > MAX_NODES:
            raise InputError(path, f"model card front matter expands (through aliases) to more than {MAX_NODES} nodes")
        memo[key] = total
        return total

    return size(node, 0)


def _json_key(k: Any) -> str:
    if isinstance(k, str):
        return k
    if k is None:
        return "null"
    if isinstance(k, bool):
        return "true" if k else "false"
    return str(_json_safe(k, None))


def _json_safe(v: Any, path: Path | None) -> Any:
    """A JSON-renderable copy of a constructed YAML value (the tree is known to be small and acyclic)."""
    if isinstance(v, dict):
        out: dict[str, Any] = {}
        for k, val in v.items():
            key = _json_key(k)
            if key in out:
                raise InputError(path, f"model card front matter has two keys that both read as {key!r}")
            out[key] = _json_safe(val, path)
        return out
    if isinstance(v, (list, tuple)):
        return [_json_safe(x, path) for x in v]
    if isinstance(v, (set, frozenset)):
        return sorted((_json_safe(x, path) for x in v), key=repr)
    if isinstance(v, float) and not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity")
    if isinstance(v, (_dt.date, _dt.datetime)):
        return v.isoformat()
    if isinstance(v, bytes):
        return base64.b64encode(v).decode("ascii")
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return str(v)


def load_front_matter(
    yaml_text: str, path: Path | None = None, first_line: int = 2
) -> tuple[dict[str, Any], dict[str, int]]:
    """Parse front-matter YAML within the limits; returns the JSON-safe mapping and each top-level key's line."""
    if len(yaml_text) > MAX_FRONT_MATTER_BYTES:
        raise InputError(path, f"model card front matter is larger than {MAX_FRONT_MATTER_BYTES} bytes")
    loader = _Limits(yaml_text, path)
    try:
        node = loader.get_single_node()
        if node is None:
            return {}, {}
        _expanded_size(node, path)
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise InputError(path, f"model card front matter is not valid YAML: {str(exc).splitlines()[0]}") from exc
    except RecursionError:
        raise InputError(path, "model card front matter is nested too deeply") from None
    finally:
        loader.dispose()
    if data is None:
        return {}, {}
    if not isinstance(data, dict):
        raise InputError(path, "model card front matter is not a mapping")
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for k, _ in node.value:
            if isinstance(k, yaml.ScalarNode):
                lines.setdefault(str(k.value), first_line + k.start_mark.line)
    return _json_safe(data, path), lines


def parse_card(text: str, path: Path | None = None) -> Card:
    """Split and parse a card's text (see the module rules)."""
    span = split_front_matter(text, path)
    if span is None:
        start = 1 if text.startswith("\ufeff") else 0
        return Card(path, text, body=text[start:], body_offset=start, body_line=1)
    ys, ye, bs = span
    first_line = text.count("\n", 0, ys) + 1
    data, lines = load_front_matter(text[ys:ye], path, first_line)
    return Card(path, text, data, lines, (ys, ye), text[bs:], bs, text.count("\n", 0, bs) + 1)


def read_card_text(path: Path) -> str:
    """A card's text, refused by size before it is read."""
    try:
        size = os.stat(path).st_size
        if size > MAX_CARD_BYTES:
            raise InputError(path, f"model card is {size} bytes, more than the {MAX_CARD_BYTES}-byte limit")
        with open(path, "rb") as fh:
            data = fh.read(MAX_CARD_BYTES + 1)
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > MAX_CARD_BYTES:
        raise InputError(path, f"model card is more than the {MAX_CARD_BYTES}-byte limit")
    return data.decode("utf-8", errors="replace")


def find_card(directory: Path) -> Path | None:
    for name in CARD_NAMES:
        p = directory / name
        if p.is_file():
            return p
    return None


def read_card(directory: Path) -> Card | None:
    p = find_card(directory)
    return None if p is None else parse_card(read_card_text(p), p)


# ------------------------------------------------------------------------------------------------------ edits


def _dump(key: str, value: Any) -> list[str]:
    text = yaml.safe_dump({key: value}, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=False)
    return text.rstrip("\n").split("\n")


def _line_edit(fm_text: str, updates: dict[str, Any]) -> str:
    """Replace or append top-level keys line by line, keeping every other line (and comment) as written.
    Returns the new YAML without its final newline, in the card's own line endings."""
    nl = "\r\n" if "\r\n" in fm_text else "\n"
    fm_text = fm_text[:-1] if fm_text.endswith("\n") else fm_text
    lines = fm_text.split("\n") if fm_text else []
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in lines]
    for key, value in updates.items():
        new = _dump(key, value)
        start = next((i for i, ln in enumerate(lines) if re.match(rf"^['\"]?{re.escape(key)}['\"]?\s*:", ln)), None)
        if start is None:
            while lines and not lines[-1].strip():
                lines.pop()
            lines.extend(new)
            continue
        end = start + 1
        while end < len(lines) and (lines[end].startswith((" ", "\t", "-")) or not lines[end].strip()):
            end += 1
        lines[start:end] = new
    return nl.join(lines)


def set_front_matter_keys(card_text: str, updates: dict[str, Any], path: Path | None = None) -> str:
    """Set top-level keys in a card's front matter; the result always parses back to the old keys plus ``updates``.

    A card without front matter gets one. Raises InputError when the card's own front matter cannot be read."""
    nl = "\r\n" if "\r\n" in card_text[:4096] else "\n"
    span = split_front_matter(card_text, path)
    if span is None:
        bom = "\ufeff" if card_text.startswith("\ufeff") else ""
        block = [ln for k, v in updates.items() for ln in _dump(k, v)]
        rest = card_text[len(bom) :]
        return bom + nl.join(["---", *block, "---", ""]) + rest
    ys, ye, _ = span
    old, _ = load_front_matter(card_text[ys:ye], path)
    want = {**old, **_json_safe(updates, path)}
    body = parse_card(card_text, path).body
    candidates = [
        _line_edit(card_text[ys:ye], updates),
        yaml.safe_dump({**old, **updates}, sort_keys=False, allow_unicode=True, width=1000, default_flow_style=False)
        .rstrip("\n")
        .replace("\n", nl),
    ]
    for fm in candidates:
        text = card_text[:ys] + fm + nl + card_text[ye:]
        try:
            parsed = parse_card(text, path)
        except InputError:
            continue
        if parsed.front_matter == want and parsed.body == body:
            return text
    raise InputError(path, "refusing to edit the card: no edit of its front matter parses back to the intended keys")


def check_card_text(text: str, path: Path | None = None) -> Card:
    """Parse a card about to be written; InputError (nothing written) when the tool could not read it back."""
    try:
        return parse_card(text, path)
    except InputError as exc:
        raise InputError(path, f"refusing to write a card the tool cannot read back ({exc.problem})") from None


# ---------------------------------------------------------------------------------------------- body display

_HTML_COMMENT_OPEN, _HTML_COMMENT_CLOSE = "<!--", "-->"
_QUOTES = "\"'“”‘’«»„"
_BADGE = re.compile(r"img\.shields\.io/badge/([^)\s\"'?]+)")


@dataclass(frozen=True)
class DisplayLine:
    """A line the card's reader sees as prose (not code, comment, blockquote or front matter)."""

    line: int  # 1-based line in the card file
    text: str  # as written
    heading: int = 0  # ATX heading level, 0 when not a heading


def _heading(line: str) -> tuple[int, str] | None:
    """An ATX heading's level and text, parsed without regex backtracking (CommonMark: up to 3 spaces of indent,
    1–6 ``#`` then a space; an optional closing run of ``#`` preceded by a space)."""
    s = line.rstrip("\r\n")
    indent = len(s) - len(s.lstrip(" "))
    if indent > 3:
        return None
    s = s[indent:]
    level = len(s) - len(s.lstrip("#"))
    if not 1 <= level <= 6 or (len(s) > level and s[level] not in " \t"):
        return None
    text = s[level:].strip()
    stripped = text.rstrip("#")
    if stripped != text and (not stripped or stripped[-1] in " \t"):
        text = stripped.strip()
    return level, text


def display_lines(card: Card) -> list[DisplayLine]:
    """The body lines that are displayed as prose: fenced/indented code, HTML comments and blockquotes left out."""
    out: list[DisplayLine] = []
    fence: str | None = None
    in_comment = False
    prev_blank = True
    for i, raw in enumerate(card.body.split("\n")):
        lineno = card.body_line + i
        line = raw.rstrip("\r")
        s = line.lstrip(" ")
        if fence is not None:
            if s.startswith(fence) and not s[len(fence) :].strip(fence[0]).strip():
                fence = None
            continue
        if in_comment:
            if _HTML_COMMENT_CLOSE in line:
                in_comment = False
                line = line.split(_HTML_COMMENT_CLOSE, 1)[1]
                s = line.lstrip(" ")
            else:
                continue
        if len(line) - len(s) < 4 and (s.startswith("```") or s.startswith("~~~")):
            fence = s[: len(s) - len(s.lstrip(s[0]))]
            continue
        if not line.strip():
            prev_blank = True
            continue
        if len(line) - len(s) >= 4 and prev_blank:
            continue  # indented code block
        prev_blank = False
        while _HTML_COMMENT_OPEN in line:
            before, after = line.split(_HTML_COMMENT_OPEN, 1)
            if _HTML_COMMENT_CLOSE in after:
                line = before + after.split(_HTML_COMMENT_CLOSE, 1)[1]
            else:
                line, in_comment = before, True
        if not line.strip():
            continue
        if line.lstrip(" ").startswith(">"):
            continue  # a blockquote: quoted text (a license, a notice), not the card's own display
        h = _heading(line)
        out.append(DisplayLine(lineno, line, h[0] if h else 0))
    return out


def first_heading(card: Card) -> DisplayLine | None:
    for d in display_lines(card):
        if d.heading:
            return d
    return None


def heading_text(d: DisplayLine) -> str:
    h = _heading(d.text)
    return h[1] if h else d.text.strip()


def _visible(text: str) -> str:
    """A display line as a reader sees it: HTML tags and emphasis marks gone, badge labels decoded."""
    from urllib.parse import unquote

    extra = []
    for m in _BADGE.finditer(text):
        parts = [
            unquote(p).replace("__", "\0").replace("_", " ").replace("\0", "_")
            for p in m.group(1).replace("--", "\1").split("-")
        ]
        extra.append(" ".join(p.replace("\1", "-") for p in parts[:-1] if p) if len(parts) > 1 else parts[0])
    text = re.sub(r"<[^<>]{0,500}>", " ", text)
    text = text.replace("**", "").replace("__", "").replace("`", "").replace("*", "")
    return " ".join((" ".join([text, *extra])).split())


def find_display(card: Card | None, phrase: str, name: str | None = None) -> DisplayLine | None:
    """The first displayed line that shows ``phrase`` as a display of its own: word-bounded, case-insensitive, not
    inside quotation marks (a clause that *mentions* the line) and not the start of a longer name ("Built with
    LLaMA-Factory" does not show "Built with Llama"). ``{name}`` in the phrase stands for any non-empty text."""
    if card is None:
        return None
    words = " ".join(phrase.split())
    pattern = re.escape(words).replace(re.escape("{name}"), r"\S(?:[^\n]{0,200}?\S)?").replace(r"\ ", r"\s+")
    # After the phrase: a version number may follow ("Built with Qwen2.5", "Llama-3"), a letter may not.
    rx = re.compile(rf"(?<![\w{_QUOTES}\-./]){pattern}(?![^\W\d]|[{_QUOTES}]|[-./@](?=[^\W\d]))", re.I)
    for d in display_lines(card):
        visible = _visible(d.text)
        # A line that is nothing but the quoted phrase displays it; quotes inside a sentence mention it.
        bare = re.sub(r"^(?:[-+*]\s+|\d+[.)]\s+)?", "", visible).strip(" " + _QUOTES + ".!:")
        if rx.search(visible) or (bare != visible and rx.fullmatch(bare)):
            return d
    return None
