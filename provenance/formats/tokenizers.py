"""Token strings of a checkpoint's vocabulary, read from whatever tokenizer travels with the weights.

One entry, :func:`read_token_strings`, used by lineage to match vocabularies by string. Sources, first found wins:

- GGUF: the ``tokenizer.ggml.tokens`` key-value (read by the bounded GGUF parser);
- ``tokenizer.json`` (Hugging Face tokenizers): ``model.vocab`` (a ``{token: id}`` map for BPE/WordPiece/WordLevel,
  a ``[[piece, score], ...]`` list for Unigram) plus ``added_tokens``;
- ``tokenizer.model`` (SentencePiece protobuf, :mod:`provenance.formats.sentencepiece_model`);
- llama2.c: ``tok<N>.bin`` (N = the model's vocab size) or ``tokenizer.bin`` beside a llama2.c ``model.bin``.

The files are untrusted: each is size-checked before it is read, every id and length is bounded, and anything that
is not what it claims raises :class:`InputError` naming the file. A tokenizer that is well formed but does not
belong to these weights (a ``tokenizer.bin`` with another vocabulary size) is not used.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from provenance.errors import InputError

MAX_TOKENIZER_BYTES = 64 << 20  # tokenizer.json of a 256k vocabulary is ~20 MB; tokenizer.model a few MB
MAX_VOCAB = 1 << 22  # 4M ids: far above any published vocabulary (Gemma: 256k)
MAX_LLAMA2C_TOKEN_BYTES = 1 << 16


def read_token_strings(ckpt) -> list[str] | None:
    """The vocabulary as strings by id, or None when no tokenizer travels with the weights.

    Raises :class:`InputError` (file and problem) when a tokenizer file is present but corrupt or oversized.
    """
    if ckpt.format == "gguf":
        from provenance.formats.gguf_format import gguf_tokens

        return gguf_tokens(ckpt)
    base = ckpt.path if ckpt.path.is_dir() else ckpt.path.parent
    tj = base / "tokenizer.json"
    if tj.is_file():
        tokens = tokenizer_json_strings(tj)
        if tokens is not None:
            return tokens
    sp = base / "tokenizer.model"
    if sp.is_file():
        return sentencepiece_strings(sp)
    if ckpt.format == "llama2c":
        vocab = (ckpt.metadata.get("llama2c") or {}).get("vocab_size")
        for f in llama2c_tokenizer_files(base, vocab):
            tokens = llama2c_token_strings(f, vocab)
            if tokens is not None:
                return tokens
    return None


def _check_size(path: Path, limit: int = MAX_TOKENIZER_BYTES) -> int:
    try:
        size = path.stat().st_size
    except PermissionError as exc:
        raise InputError(path, "permission denied") from exc
    if size > limit:
        raise InputError(path, f"tokenizer file is {size} bytes, above the {limit}-byte limit")
    return size


def _strings_by_id(path: Path, pairs: list[tuple[Any, Any]]) -> list[str]:
    """A dense list from (string, id) pairs, every id checked before anything is allocated for it."""
    top = -1
    for s, i in pairs:
        if not isinstance(s, str) or isinstance(i, bool) or not isinstance(i, int):
            raise InputError(path, f"token {s!r} has id {i!r}; expected a string with an integer id")
        if not 0 <= i < MAX_VOCAB:
            raise InputError(path, f"token {s!r} has id {i}, outside 0..{MAX_VOCAB - 1}")
        top = max(top, i)
    out = [""] * (top + 1)
    for s, i in pairs:
        out[i] = s
    return out


def tokenizer_json_strings(path: Path) -> list[str] | None:
    """Strings by id from a Hugging Face ``tokenizer.json`` (None when its model carries no vocabulary)."""
    from provenance.companions import read_json

    _check_size(path)
    data = read_json(path)
    if not isinstance(data, dict):
        raise InputError(path, "tokenizer.json is not a JSON object")
    model = data.get("model")
    vocab = model.get("vocab") if isinstance(model, dict) else None
    pairs: list[tuple[Any, Any]]
    if isinstance(vocab, dict):
        pairs = list(vocab.items())
    elif isinstance(vocab, list) and all(isinstance(e, list) and e and isinstance(e[0], str) for e in vocab):
        pairs = [(e[0], i) for i, e in enumerate(vocab)]  # Unigram: [[piece, score], ...] in id order
    else:
        return None  # a tokenizer model without a vocabulary this reader knows: no strings, not an error
    added = data.get("added_tokens") or []
    if not isinstance(added, list):
        raise InputError(path, "tokenizer.json added_tokens is not a list")
    pairs += [(t.get("content"), t.get("id")) for t in added if isinstance(t, dict)]
    return _strings_by_id(path, pairs) if pairs else None


def sentencepiece_strings(path: Path) -> list[str]:
    from provenance.formats.sentencepiece_model import NotSentencePiece, sentencepiece_pieces

    _check_size(path)
    try:
        return sentencepiece_pieces(path)
    except NotSentencePiece as exc:
        raise InputError(path, f"not a SentencePiece model ({exc})") from exc


def llama2c_tokenizer_files(directory: Path, vocab: int | None) -> list[Path]:
    """``tok<vocab>.bin`` first (llama2.c's name for a custom vocabulary), then ``tokenizer.bin``."""
    names = ([f"tok{vocab}.bin"] if vocab else []) + ["tokenizer.bin"]
    return [directory / n for n in names if (directory / n).is_file()]


# llama2.c's tokenizer export writes pieces with "▁" turned into a space and BOS/EOS as "\n<s>\n" / "\n</s>\n"
# (karpathy/llama2.c tokenizer.py, Tokenizer.export); they are turned back into SentencePiece pieces so that a
# llama2.c vocabulary matches the same vocabulary read from a GGUF file or a tokenizer.model.
_LLAMA2C_SPECIAL = {"\n<s>\n": "<s>", "\n</s>\n": "</s>"}


def llama2c_token_strings(path: Path, vocab: int | None) -> list[str] | None:
    """Token strings from a llama2.c tokenizer file: int32 max_token_length, then per token float32 score, int32
    byte length and the bytes (llama2.c ``run.c`` ``build_tokenizer``). The file does not store the token count;
    it is the model's vocab size, and a file that does not hold exactly that many tokens is not this model's
    (None)."""
    size = _check_size(path)
    data = path.read_bytes()
    if size < 4:
        raise InputError(path, f"truncated llama2.c tokenizer: {size} bytes")
    (max_len,) = struct.unpack_from("<i", data, 0)
    if not 0 < max_len <= MAX_LLAMA2C_TOKEN_BYTES:
        raise InputError(
            path, f"llama2.c tokenizer declares max_token_length {max_len} (expected 1..{MAX_LLAMA2C_TOKEN_BYTES})"
        )
    tokens: list[str] = []
    pos = 4
    while pos < size:
        if pos + 8 > size:
            raise InputError(path, f"truncated llama2.c tokenizer: token {len(tokens)} header at byte {pos}")
        _, n = struct.unpack_from("<fi", data, pos)
        pos += 8
        if not 0 <= n <= max_len or pos + n > size:
            raise InputError(
                path,
                f"llama2.c tokenizer: token {len(tokens)} declares {n} bytes (max_token_length "
                f"{max_len}, {size - pos} bytes left)",
            )
        s = data[pos : pos + n].decode("utf-8", errors="replace")
        pos += n
        tokens.append(_LLAMA2C_SPECIAL.get(s, s.replace(" ", "\u2581")))
        if vocab is not None and len(tokens) > vocab:
            return None
    if vocab is not None and len(tokens) != vocab:
        return None
    return tokens
