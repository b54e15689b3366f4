"""The vocabulary of a SentencePiece ``tokenizer.model`` (Meta's originals, many Llama-family repos), read safely.

The file is a protocol-buffers message ``ModelProto`` whose field 1 is the repeated ``SentencePiece`` message
(field 1 ``piece``: string, field 2 ``score``: float, field 3 ``type``: enum), in id order (google/sentencepiece,
``src/sentencepiece_model.proto``). Only the wire format is needed to get the pieces out, so this reads it directly:
no sentencepiece or protobuf package, no code from the file, and a bounded walk over untrusted bytes.
"""

from __future__ import annotations

from pathlib import Path

MAX_BYTES = 64 * 1024 * 1024  # a 256k-piece model is a few MB; anything far larger is not a tokenizer


class NotSentencePiece(ValueError):
    """The bytes are not a SentencePiece model (or are truncated)."""


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if i >= len(buf) or shift > 63:
            raise NotSentencePiece("truncated or malformed varint")
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, value) for each field of one message; length-delimited values as bytes."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = buf[i : i + 8], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        elif wire == 5:
            value, i = buf[i : i + 4], i + 4
        else:
            raise NotSentencePiece(f"unsupported wire type {wire}")
        if i > len(buf):
            raise NotSentencePiece("truncated field")
        yield field, wire, value


def sentencepiece_pieces(path: str | Path) -> list[str]:
    """The pieces of a SentencePiece model file, by id. Raises NotSentencePiece when it is not one."""
    path = Path(path)
    if path.stat().st_size > MAX_BYTES:  # decided from the size, before reading anything
        raise NotSentencePiece(f"file of {path.stat().st_size} bytes is too large for a tokenizer model")
    data = path.read_bytes()
    pieces: list[str] = []
    for field, wire, value in _fields(data):
        if field == 1 and wire == 2:
            piece = next((v for f, w, v in _fields(value) if f == 1 and w == 2), b"")
            pieces.append(piece.decode("utf-8", errors="replace"))
    if not pieces:
        raise NotSentencePiece("no pieces")
    return pieces
