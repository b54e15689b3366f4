"""`provenance demo`: the whole demo once (in-process, into a temporary directory), its verdict lines, its files;
the directory rules; and one command through a real subprocess giving the same output as in-process."""

from __future__ import annotations

import contextlib
import io
import tempfile

import pytest

from provenance.checkpoint import open_checkpoint
from provenance.demo import MARKER, DemoContext, prepare_directory, run_demo
from provenance.errors import UsageError


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo") / "out"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = run_demo(root)
    return code, out.getvalue(), root


def test_demo_passes(demo):
    code, text, root = demo
    assert code == 0, text
    assert "DEMO PASSED" in text.splitlines()[-1] and str(root) in text.splitlines()[-1]
    assert "!! unexpected" not in text


def _block(text: str, command: str) -> str:
    """The lines a command printed: from its `$ provenance …` line to the next command or heading."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln == f"$ provenance {command}")
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith(("$ ", "#")) or not lines[i]), len(lines)
    )
    return "\n".join(lines[start:end])


def test_verdict_lines(demo):
    _, text, _ = demo
    assert "verdict: derived (renamed)" in _block(text, "compare yi-style base --format json")
    assert "verdict: independent" in _block(text, "compare independent base --format json")
    assert "verdict: derived" in _block(text, "compare base-Q8_0.gguf base.fp --format json")
    assert "runs as LLaMA" in _block(text, "verify yi-style --format json")
    assert "runs as LLaMA" in _block(text, "verify yi-normalized --format json")
    assert "same greedy continuation as yi-style: yes" in text
    assert "1. tiny-base: derived" in _block(text, "identify yi-style --registry registry --format json")
    first = _block(text, "audit yi-style --base base --format json")
    assert "exit 1, FAIL:" in first and "notice-missing" in first and "license-conflict" in first
    assert "exit 0, PASS: 0 error(s)" in _block(text, "audit yi-fixed --base base --write --format json")
    assert "exit 0, PASS: 0 error(s)" in _block(text, "audit yi-fixed --base base --format json")


def test_transformers_line(demo):
    _, text, _ = demo
    pytest.importorskip("transformers")
    assert "LlamaForCausalLM.from_pretrained(yi-normalized): 0 missing, 0 unexpected keys" in text


@pytest.mark.parametrize(
    "name, fmt",
    [
        ("base", "safetensors"),
        ("base-meta", "meta"),
        ("base-Q8_0.gguf", "gguf"),
        ("yi-style", "safetensors"),
        ("independent", "torch"),
        ("yi-normalized", "safetensors"),
        ("yi-fixed", "safetensors"),
    ],
)
def test_written_checkpoints_open(demo, name, fmt):
    _, text, root = demo
    assert name in text
    ck = open_checkpoint(root / name)
    assert ck.format == fmt and len(ck.tensors) == 39


def test_written_side_files(demo):
    _, _, root = demo
    assert (root / "base.fp").stat().st_size > 0
    assert (root / "registry" / "registry.sqlite").is_file()
    assert {"LICENSE", "NOTICE", "USE_POLICY.md", "README.md"} <= {p.name for p in (root / "yi-fixed").iterdir()}
    assert "license: llama2" in (root / "yi-fixed" / "README.md").read_text()
    assert "license: apache-2.0" in (root / "yi-style" / "README.md").read_text()  # the original is untouched
    assert not (root / "yi-style" / "NOTICE").exists()


def test_directory_rules(tmp_path, monkeypatch):
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        prepare_directory(other)
    assert (other / "keep.txt").read_text() == "mine"

    previous = tmp_path / "previous"
    assert prepare_directory(previous) == previous.resolve() and (previous / MARKER).is_file()
    (previous / "base").mkdir()
    (previous / "base" / "model.safetensors").write_text("stale")
    (previous / "notes.txt").write_text("mine")  # not a demo output: kept
    prepare_directory(previous)
    assert not (previous / "base").exists() and (previous / "notes.txt").read_text() == "mine"

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the default temporary directory, kept in tmp_path
    fresh = prepare_directory(None)
    assert fresh.parent == tmp_path.resolve() and fresh.name.startswith("provenance-demo-")
    assert fresh.is_dir() and (fresh / MARKER).is_file()


def test_subprocess_and_in_process_print_the_same(demo):
    _, _, root = demo
    runs = []
    for sub in (False, True):
        ctx = DemoContext(root=root, subprocess=sub)
        with contextlib.redirect_stdout(io.StringIO()):
            runs.append(ctx.run("inspect", "base-Q8_0.gguf", "--format", "json"))
        assert not ctx.failures
    assert runs[0].code == runs[1].code == 0
    assert runs[0].stdout == runs[1].stdout


def test_unexpected_results_are_listed_and_exit_1(tmp_path, monkeypatch, capsys):
    import provenance.demo as demo_mod

    def step_bad_input(ctx):
        ctx.run("inspect", "no-such-model")  # exits 2 (unreadable input), 0 expected

    def step_broken(ctx):
        raise KeyError("verdict")

    monkeypatch.setattr(demo_mod, "STEPS", [step_bad_input, step_broken])
    assert run_demo(tmp_path / "d") == 1
    text = capsys.readouterr().out
    assert "DEMO FAILED: 2 unexpected result(s)" in text
    assert "`provenance inspect no-such-model` exited 2, expected 0: provenance: error:" in text
    assert "step_broken raised KeyError" in text
