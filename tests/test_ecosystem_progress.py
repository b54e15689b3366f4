"""Progress: stages and ETA on a terminal's stderr; nothing on stdout (the report stays byte-identical) and nothing
at all when stderr is not a terminal."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from provenance import progress as prog
from provenance.examples import TinyLlamaConfig, llama_state_dict, write_hf_dir, yi_style

pytestmark = pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("progress")
    cfg = TinyLlamaConfig()
    base = llama_state_dict(cfg, seed=0)
    write_hf_dir(root / "base", base, cfg.hf_config())
    write_hf_dir(root / "yi", yi_style(base), cfg.hf_config())
    return root


def _run_with_tty_stderr(args: list[str], cwd: Path) -> tuple[int, bytes, str]:
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "provenance", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=dict(os.environ, COLUMNS="200", TERM="xterm"),
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:  # the terminal must be read while the command runs, or its buffer fills and blocks it
        while True:
            ready, _, _ = select.select([master], [], [], 5)
            if not ready and proc.poll() is not None:
                return
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    return
                if not data:
                    return
                chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    out = proc.stdout.read()
    proc.wait(timeout=300)
    reader.join(timeout=30)
    os.close(master)
    return proc.returncode, out, ANSI.sub("", b"".join(chunks).decode(errors="replace"))


def test_compare_shows_stages_on_a_terminal_and_keeps_stdout_clean(pair):
    code, out, err = _run_with_tty_stderr(["compare", "yi", "base", "--format", "json"], pair)
    assert code == 0
    report = json.loads(out)  # stdout is the report and nothing else
    assert report["verdict"] == "derived"
    for stage in ("fingerprint reference", "fingerprint suspect", "align residual streams", "compare layers"):
        assert stage in err, err[-2000:]
    assert "ETA" in err and "4/4" in err
    piped = subprocess.run(
        [sys.executable, "-m", "provenance", "compare", "yi", "base", "--format", "json"],
        cwd=pair,
        capture_output=True,
        timeout=300,
    )
    assert piped.stdout == out  # byte-identical with and without the display
    assert piped.stderr == b""  # not a terminal: no progress at all


def test_normalize_reports_tensors_written(pair, tmp_path):
    code, _, err = _run_with_tty_stderr(["normalize", "yi", "-o", str(tmp_path / "out")], pair)
    assert code == 0 and "write tensors" in err and "39/39" in err


def test_library_calls_are_silent_without_a_display(capsys):
    prog.progress("stage", 1, 2)
    tick = prog.counter("stage", 3)
    tick("x")
    with prog.display(enabled=False) as cb:
        assert cb is None
        prog.progress("stage", 2, 2)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


@pytest.mark.parametrize(
    "args, stages",
    [
        (["audit", "yi", "--base", "base", "--format", "json"], ("fingerprint reference", "compare layers")),
        (["verify", "yi", "--format", "json"], ("load tensors", "forward pass", "greedy decoding")),
    ],
)
def test_audit_with_bases_and_verify_show_stages(pair, args, stages):
    pytest.importorskip("torch") if args[0] == "verify" else None
    code, out, err = _run_with_tty_stderr(args, pair)
    assert code in (0, 1) and json.loads(out)
    for stage in stages:
        assert stage in err, err[-2000:]
