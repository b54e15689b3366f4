"""`audit --write` and `normalize -o` stay inside the folder the user named.

Every scenario builds a release whose files point outside it (symlinks live and dangling, hard links) or a base
whose legal files are symlinks to a secret, runs the real CLI with and without --force, and checks that the file
outside is byte-for-byte unchanged (or still absent) and that a refusal is one line naming the file, exit 2.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import licenses as kb

SECRET = "---\nlicense: mit\n---\n# not yours\nSECRET-CONTENT\n"


def run(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "provenance", *map(str, args)], capture_output=True, text=True)


@pytest.fixture()
def case(tmp_path):
    """A Llama 3 base folder (LICENSE, USE_POLICY.md) and a release owing LICENSE, NOTICE, USE_POLICY.md and a card
    edit; ``outside`` is a folder next to them holding a secret."""
    base, rel, outside = tmp_path / "base", tmp_path / "rel", tmp_path / "outside"
    for d in (base, rel, outside):
        d.mkdir()
    (base / "README.md").write_text("---\nlicense: llama3\n---\n# Meta-Llama-3-8B\n")
    (base / "LICENSE").write_text(kb.BY_ID["llama3"].signature.sample)
    (base / "USE_POLICY.md").write_text("# Meta Llama 3 Acceptable Use Policy\n")
    (rel / "README.md").write_text("---\nlicense: llama3\n---\n# Llama 3 tiny\n")
    (outside / "secret.txt").write_text(SECRET)
    return base, rel, outside


def audit_write(base: Path, rel: Path, force: bool) -> subprocess.CompletedProcess:
    return run("audit", rel, "--base", base, "--compare", "off", "--write", *(["--force"] if force else []))


def one_line_refusal(proc: subprocess.CompletedProcess, name: str, progress: bool = False) -> None:
    """Exit 2 and one error line naming the file (normalize prints its progress lines before it)."""
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.strip().splitlines() if not progress or "error" in ln]
    assert len(lines) == 1 and name in lines[0] and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("name", ["LICENSE", "NOTICE", "USE_POLICY.md", "README.md"])
def test_live_symlink_in_the_release_is_never_written_through(case, name, force):
    base, rel, outside = case
    secret = outside / "secret.txt"
    if name == "README.md":
        (rel / name).unlink()
    (rel / name).symlink_to(secret)
    before = {p.name: p.read_bytes() for p in outside.iterdir()}
    proc = audit_write(base, rel, force)
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before
    assert (rel / name).is_symlink()
    if name in ("NOTICE", "README.md"):  # the audit must change these: refused, and nothing else written
        one_line_refusal(proc, name)
        assert sorted(p.name for p in rel.iterdir()) == sorted({"README.md", name})
    else:  # an existing LICENSE/USE_POLICY.md (even an odd one) is left alone; the rest is written beside it
        assert proc.returncode in (0, 1), proc.stderr
        for p in rel.iterdir():
            assert p.is_symlink() or "SECRET-CONTENT" not in p.read_text()


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("name", ["LICENSE", "NOTICE", "USE_POLICY.md", "README.md"])
def test_dangling_symlink_in_the_release_creates_nothing_outside(case, name, force):
    base, rel, outside = case
    if name == "README.md":
        (rel / name).unlink()
    (rel / name).symlink_to(outside / "planted")
    proc = audit_write(base, rel, force)
    one_line_refusal(proc, name)
    assert not (outside / "planted").exists()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]


@pytest.mark.parametrize("force", [False, True])
def test_hard_linked_notice_is_replaced_with_a_new_inode(case, force):
    """An update of a hard-linked NOTICE gives the release's name the new text; the other name keeps its bytes."""
    base, rel, outside = case
    shared = outside / "NOTICE-shared"
    shared.write_text("Some other project's notice.\n")
    os.link(shared, rel / "NOTICE")
    proc = audit_write(base, rel, force)
    assert proc.returncode in (0, 1), proc.stderr
    assert shared.read_text() == "Some other project's notice.\n"
    assert os.stat(shared).st_nlink == 1
    new = (rel / "NOTICE").read_text()
    assert "Some other project's notice." in new and kb.BY_ID["llama3"].notice in new


@pytest.mark.parametrize("force", [False, True])
def test_hard_linked_card_is_replaced_not_written_in_place(case, force):
    base, rel, outside = case
    shared = outside / "card.md"
    shared.write_text((rel / "README.md").read_text())
    (rel / "README.md").unlink()
    os.link(shared, rel / "README.md")
    proc = audit_write(base, rel, force)
    assert proc.returncode in (0, 1), proc.stderr
    assert shared.read_text() == "---\nlicense: llama3\n---\n# Llama 3 tiny\n"
    assert "Built with Meta Llama 3" in (rel / "README.md").read_text()


def test_existing_file_is_not_overwritten_without_force(case):
    base, rel, outside = case
    (rel / "USE_POLICY.md").write_text("our own policy\n")
    proc = audit_write(base, rel, force=False)
    assert proc.returncode in (0, 1), proc.stderr
    assert (rel / "USE_POLICY.md").read_text() == "our own policy\n"


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("name", ["USE_POLICY.md", "LICENSE"])
def test_base_file_symlinked_to_a_secret_is_never_copied(case, name, force):
    base, rel, outside = case
    secret = outside / "secret.txt"
    secret.write_text((base / name).read_text() + "\nSECRET-CONTENT\n")
    (base / name).unlink()
    (base / name).symlink_to(secret)
    proc = audit_write(base, rel, force)
    one_line_refusal(proc, name)
    assert "outside" in proc.stderr
    for p in rel.iterdir():
        assert "SECRET-CONTENT" not in p.read_text()
    assert sorted(p.name for p in rel.iterdir()) == ["README.md"]


def test_hugging_face_cache_snapshot_symlinks_are_inside(tmp_path, case):
    """The HF cache stores snapshot files as symlinks into the repository's blobs folder: those are copied."""
    _, rel, _ = case
    repo = tmp_path / "hub" / "models--meta-llama--Meta-Llama-3-8B"
    snap, blobs = repo / "snapshots" / "abc123", repo / "blobs"
    snap.mkdir(parents=True)
    blobs.mkdir()
    for name, text in (
        ("README.md", "---\nlicense: llama3\n---\n# Meta-Llama-3-8B\n"),
        ("LICENSE", kb.BY_ID["llama3"].signature.sample),
        ("USE_POLICY.md", "# Meta Llama 3 Acceptable Use Policy\n"),
    ):
        (blobs / f"blob-{name}").write_text(text)
        (snap / name).symlink_to(Path("../../blobs") / f"blob-{name}")
    proc = audit_write(snap, rel, force=False)
    assert proc.returncode in (0, 1), proc.stderr
    assert (rel / "LICENSE").read_text() == kb.BY_ID["llama3"].signature.sample
    assert not (rel / "LICENSE").is_symlink()


# ------------------------------------------------------------------------------------------- normalize -o


@pytest.fixture()
def hf_model(tmp_path):
    from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir

    cfg = TinyLlamaConfig()
    return write_hf_dir(tmp_path / "src", llama_state_dict(cfg, seed=0), cfg.hf_config())


@pytest.mark.parametrize("dangling", [False, True])
@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])
def test_normalize_never_writes_through_a_symlink(hf_model, tmp_path, name, dangling):
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    target = outside / "victim"
    if not dangling:
        target.write_text("precious\n")
    (out / name).symlink_to(target)
    proc = run("normalize", hf_model, "-o", out, "--force")
    one_line_refusal(proc, name, progress=True)
    assert (target.read_text() == "precious\n") if not dangling else not target.exists()


def test_normalize_replaces_a_hard_linked_output_with_a_new_inode(hf_model, tmp_path):
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    (outside / "victim").write_text("precious\n")
    os.link(outside / "victim", out / "config.json")
    proc = run("normalize", hf_model, "-o", out, "--force")
    assert proc.returncode == 0, proc.stderr
    assert (outside / "victim").read_text() == "precious\n"
    assert '"architectures"' in (out / "config.json").read_text()


def test_normalize_library_call_does_not_overwrite_without_force(hf_model, tmp_path):
    from provenance.checkpoint import open_checkpoint
    from provenance.errors import InputError
    from provenance.normalize import normalize, write_canonical

    out = tmp_path / "out"
    out.mkdir()
    (out / "config.json").write_text("mine\n")
    with pytest.raises(InputError, match="config.json"):
        write_canonical(normalize(open_checkpoint(hf_model)), out)
    assert (out / "config.json").read_text() == "mine\n"
    assert not (out / "model.safetensors").exists()


def test_filesystem_without_hard_links_still_creates_without_overwriting(tmp_path, monkeypatch):
    """Some filesystems (vfat, some FUSE mounts) refuse link(2): the name is then claimed with O_EXCL."""
    from provenance import safeio
    from provenance.errors import InputError

    def no_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(safeio.os, "link", no_links)
    safeio.write_bytes(tmp_path, "NOTICE", b"new\n", overwrite=False)
    assert (tmp_path / "NOTICE").read_bytes() == b"new\n"
    with pytest.raises(InputError, match="exists"):
        safeio.write_bytes(tmp_path, "NOTICE", b"other\n", overwrite=False)
    assert (tmp_path / "NOTICE").read_bytes() == b"new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["NOTICE"]  # no temp file left behind


@pytest.mark.parametrize("force", [False, True])
def test_apache_base_notice_symlinked_to_a_secret_is_never_passed_on(tmp_path, force):
    base, rel, outside = tmp_path / "base", tmp_path / "rel", tmp_path / "outside"
    for d in (base, rel, outside):
        d.mkdir()
    (outside / "secret.txt").write_text("SECRET-CONTENT\n")
    (base / "README.md").write_text("---\nlicense: apache-2.0\n---\n# Base\n")
    (base / "NOTICE").symlink_to(outside / "secret.txt")
    (rel / "README.md").write_text("---\nlicense: apache-2.0\nbase_model: org/base\n---\n# Derived\n")
    proc = audit_write(base, rel, force)
    one_line_refusal(proc, "NOTICE")
    assert "outside" in proc.stderr
    assert sorted(p.name for p in rel.iterdir()) == ["README.md"]
    assert "SECRET-CONTENT" not in (rel / "README.md").read_text()
