"""`audit` reads GGUF metadata with the project's bounded parser: versions 1 and 2 (which the ``gguf`` package
refuses) give the same license and base-model facts as v3, and a header declaring a huge array is one InputError.

The files are written by hand following the GGUF spec (ggml docs/gguf.md): magic ``GGUF``, uint32 version, then
tensor and key-value counts, string lengths, array lengths and dimensions as uint32 in v1 and uint64 from v2 on;
value types 4 = uint32, 8 = string, 9 = array; tensor type 0 = F32; data aligned to 32 bytes."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from provenance.audit import AuditConfig, audit_release
from provenance.cli.main import main
from provenance.errors import InputError
from provenance.release import read_gguf_info

UINT32, STRING, ARRAY = 4, 8, 9


def write_gguf(path: Path, version: int, kvs: list[tuple[str, int, object]], array_len: int | None = None) -> Path:
    n = "<I" if version == 1 else "<Q"

    def string(s: str) -> bytes:
        b = s.encode("utf-8")
        return struct.pack(n, len(b)) + b

    body = b""
    for key, vtype, value in kvs:
        body += string(key) + struct.pack("<I", vtype)
        if vtype == STRING:
            body += string(str(value))
        elif vtype == UINT32:
            body += struct.pack("<I", int(value))
        elif vtype == ARRAY:  # an array of uint32: declared length (possibly a lie), then the items present
            items = list(value)  # type: ignore[call-overload]
            body += struct.pack("<I", UINT32) + struct.pack(n, len(items) if array_len is None else array_len)
            body += b"".join(struct.pack("<I", x) for x in items)
    rows, cols = 8, 4  # one F32 tensor [8, 4]; GGUF lists dimensions fastest-first
    info = (
        string("token_embd.weight")
        + struct.pack("<I", 2)
        + struct.pack(n, cols)
        + struct.pack(n, rows)
        + struct.pack("<I", 0)
        + struct.pack("<Q", 0)
    )
    meta = b"GGUF" + struct.pack("<I", version) + struct.pack(n, 1) + struct.pack(n, len(kvs)) + body + info
    meta += b"\0" * ((-len(meta)) % 32)
    path.write_bytes(meta + struct.pack(f"<{rows * cols}f", *range(rows * cols)))
    return path


KVS = [
    ("general.architecture", STRING, "llama"),
    ("general.name", STRING, "tiny-gguf-v1"),
    ("general.license", STRING, "llama2"),
    ("general.base_model.count", UINT32, 1),
    ("general.base_model.0.name", STRING, "Llama 2 7b Hf"),
    ("general.base_model.0.repo_url", STRING, "https://huggingface.co/meta-llama/Llama-2-7b-hf"),
]


@pytest.mark.parametrize("version", [1, 2, 3])
def test_old_gguf_versions_give_the_license_and_base(tmp_path, version):
    rel = tmp_path / "release"
    rel.mkdir()
    write_gguf(rel / "model.gguf", version, KVS)
    info = read_gguf_info(rel / "model.gguf")
    assert info.name == "tiny-gguf-v1" and info.license == "llama2"
    assert info.base_models == [
        {
            "name": "Llama 2 7b Hf",
            "repo_url": "https://huggingface.co/meta-llama/Llama-2-7b-hf",
            "repo_id": "meta-llama/Llama-2-7b-hf",
        }
    ]
    report = audit_release(rel, [], [], AuditConfig())
    assert report.release.gguf.license == "llama2"
    base = report.bases[0]
    assert base.hub_id == "meta-llama/Llama-2-7b-hf" and base.licenses == ["llama2"]


def test_the_gguf_package_refuses_v1_that_audit_now_reads(tmp_path):
    gguf = pytest.importorskip("gguf")
    path = write_gguf(tmp_path / "v1.gguf", 1, KVS)
    with pytest.raises(Exception):  # noqa: B017 - the gguf package raises various types for v1 across versions
        gguf.GGUFReader(str(path))
    assert read_gguf_info(path).license == "llama2"


def test_keys_of_the_wrong_type_count_as_absent(tmp_path):
    path = write_gguf(
        tmp_path / "m.gguf", 1, [("general.license", UINT32, 7), ("general.base_model.count", STRING, "1000000000")]
    )
    info = read_gguf_info(path)
    assert info.license is None and info.base_models == []


def test_a_base_model_count_larger_than_the_keys_present_does_not_loop(tmp_path):
    path = write_gguf(
        tmp_path / "m.gguf",
        2,
        [("general.base_model.count", UINT32, 4_000_000_000), ("general.base_model.0.name", STRING, "Only One")],
    )
    assert read_gguf_info(path).base_models == [{"name": "Only One"}]


def test_a_declared_huge_array_is_one_line_exit_2(tmp_path, capsys):
    rel = tmp_path / "release"
    rel.mkdir()
    # 26 bytes of items, but a declared length of 10^8: the gguf package looped over every declared element.
    write_gguf(rel / "model.gguf", 3, [*KVS, ("general.tags", ARRAY, [1, 2, 3])], array_len=10**8)
    with pytest.raises(InputError) as exc:
        read_gguf_info(rel / "model.gguf")
    assert "model.gguf" in str(exc.value)
    capsys.readouterr()
    with pytest.raises(SystemExit) as sysexit:
        main(["audit", str(rel)])
    err = capsys.readouterr().err
    assert sysexit.value.code == 2 and err.count("\n") == 1 and "model.gguf" in err, err
