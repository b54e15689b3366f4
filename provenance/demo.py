"""The built-in example: tiny real checkpoints, and every command run on them.

Three models are written: ``base`` (a small LLaMA-shaped model under the Llama 2 license), ``yi-style`` (the same
weights with the two norm names Yi-34B used, ``ln1``/``ln2``, presented as a new apache-2.0 model) and
``independent`` (same architecture, another seed), in several formats. Each capability of the tool adds a step to
``STEPS``; a step runs the real CLI, prints the command and a few lines parsed from its JSON output, and records
anything that did not behave as expected (exit code or verdict). The demo exits 0 only when nothing did.

Commands run in this process by default (``provenance.cli.main.main`` with stdout/stderr captured and the working
directory set to the demo directory), which saves the 2–5 s interpreter and torch start-up per command; with
``subprocess=True`` each runs as ``python -m provenance …`` exactly as a user would type it. Output is the same.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provenance.errors import TORCH_EXTRA, UsageError, torch_available

BASE_CARD = """---
license: llama2
model_name: tiny-base
---
# tiny-base

A tiny LLaMA-shaped model written by `provenance demo`, released under the Llama 2 Community License.
"""

YI_CARD = """---
license: apache-2.0
model_name: tiny-yi
---
# tiny-yi

Presented as a new model. (It is tiny-base with two tensor names changed per layer.)
"""

BASE_USE_POLICY = "# Llama 2 Acceptable Use Policy\n\n(Synthetic stand-in written by `provenance demo`.)\n"

# Everything the demo writes at the top of its directory; a rerun into the same directory replaces exactly these.
MARKER = ".provenance-demo"
OUTPUTS = (
    "base",
    "base-meta",
    "base-Q8_0.gguf",
    "yi-style",
    "independent",
    "yi-normalized",
    "base.fp",
    "registry",
    "yi-fixed",
    MARKER,
)


@dataclass
class Result:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def stderr_line(self, prefix: str) -> str:
        return next((ln for ln in self.stderr.splitlines() if ln.startswith(prefix)), "")


@dataclass
class DemoContext:
    root: Path
    subprocess: bool = False
    paths: dict[str, Path] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    torch: bool = True
    commands: int = 0
    facts: dict[str, Any] = field(default_factory=dict)

    def say(self, text: str = "") -> None:
        print(text, flush=True)

    def run(self, *args: str, expect: int = 0) -> Result:
        """Run one CLI command in the demo directory (paths relative to it), print it, check its exit code."""
        self.commands += 1
        self.say(f"$ provenance {' '.join(args)}")
        code, out, err = (_run_subprocess if self.subprocess else _run_in_process)(args, self.root)
        res = Result(tuple(args), code, out, err)
        if code != expect:
            last = err.strip().splitlines()[-1] if err.strip() else "(no message)"
            self.fail(f"`provenance {' '.join(args)}` exited {code}, expected {expect}: {last}")
        return res

    def check(self, ok: bool, what: str) -> bool:
        if not ok:
            self.fail(what)
        return ok

    def skip(self, what: str) -> None:
        """A torch-only part left out because PyTorch is not installed (named in the output, not a failure)."""
        self.skipped.append(what)
        self.say(f"  (skipped, needs PyTorch: {what})")

    def fail(self, what: str) -> None:
        self.failures.append(what)
        self.say(f"  !! unexpected: {what}")


def _run_in_process(args: tuple[str, ...], cwd: Path) -> tuple[int, str, str]:
    from provenance.cli.main import main
    from provenance.progress import suppressed

    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), suppressed():
            try:
                main(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        os.chdir(old)
    return code, out.getvalue(), err.getvalue()


def _run_subprocess(args: tuple[str, ...], cwd: Path) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "provenance", *args], capture_output=True, text=True, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def _count(n: int) -> str:
    return f"{n:,}"


# --- steps -------------------------------------------------------------------------------------------------------


def step_write_models(ctx: DemoContext) -> None:
    import licenses
    from provenance.examples import (
        TinyLlamaConfig,
        llama_state_dict,
        write_gguf,
        write_hf_dir,
        write_meta_dir,
        write_torch_dir,
        yi_style,
    )

    cfg = TinyLlamaConfig()
    base = llama_state_dict(cfg, seed=0)
    root = ctx.root
    # _name_or_path is the Hub id save_pretrained records; audit --write puts only such ids into base_model.
    ctx.paths["base"] = write_hf_dir(
        root / "base", base, dict(cfg.hf_config(), _name_or_path="provenance-demo/tiny-base"), BASE_CARD
    )
    # Short synthetic legal files with the real title and version lines, so the audit recognises them.
    (root / "base" / "LICENSE").write_text(licenses.lookup("llama2").signature.sample, encoding="utf-8")
    (root / "base" / "USE_POLICY.md").write_text(BASE_USE_POLICY, encoding="utf-8")
    if ctx.torch:
        ctx.paths["base-meta"] = write_meta_dir(root / "base-meta", base, cfg)
    ctx.paths["base-Q8_0.gguf"] = write_gguf(root / "base-Q8_0.gguf", base, cfg, name="tiny-base", qtype="Q8_0")
    yi_cfg = dict(cfg.hf_config(), architectures=["YiForCausalLM"], model_type="yi")
    ctx.paths["yi-style"] = write_hf_dir(root / "yi-style", yi_style(base), yi_cfg, YI_CARD)
    other = llama_state_dict(cfg, seed=1)
    ctx.paths["independent"] = (
        write_torch_dir(root / "independent", other, cfg.hf_config())
        if ctx.torch
        else write_hf_dir(root / "independent", other, cfg.hf_config())
    )
    ctx.say(f"Wrote tiny real checkpoints under {root}:")
    ctx.say(
        f"  base/            a LLaMA-shaped model ({cfg.num_hidden_layers} layers, hidden {cfg.hidden_size}, "
        f"GQA {cfg.num_attention_heads}:{cfg.num_key_value_heads}), safetensors, card license llama2, "
        "LICENSE, USE_POLICY.md"
    )
    if ctx.torch:
        ctx.say("  base-meta/       the same weights as Meta ships them: consolidated.00.pth + params.json")
    else:
        ctx.skip("base-meta/ (Meta consolidated.00.pth is a torch pickle)")
    ctx.say("  base-Q8_0.gguf   the same weights as llama.cpp GGUF, matrices Q8_0")
    ctx.say(
        "  yi-style/        the same weights, input_layernorm→ln1, post_attention_layernorm→ln2, "
        "YiForCausalLM, card says apache-2.0"
    )
    ctx.say(
        "  independent/     same architecture from another seed, "
        + ("pytorch_model.bin" if ctx.torch else "safetensors (pytorch_model.bin needs PyTorch)")
    )


INSPECT_EXPECT = {
    "base": "safetensors",
    "base-meta": "meta",
    "base-Q8_0.gguf": "gguf",
    "independent": "torch",
    "yi-style": "safetensors",
}


def step_inspect(ctx: DemoContext) -> None:
    ctx.say()
    ctx.say("# inspect: every format reads into the same 39 tensors")
    for name, fmt in INSPECT_EXPECT.items():
        if name not in ctx.paths:
            continue
        if not ctx.torch and fmt == "torch":
            fmt = "safetensors"
        res = ctx.run("inspect", name, "--format", "json")
        if res.code != 0:
            continue
        rep = res.json()
        dtypes = ", ".join(f"{k} {_count(v)}" for k, v in rep["dtypes"].items())
        compat = "LLaMA-compatible" if rep.get("llama_compatible") else "not LLaMA-compatible"
        ctx.say(
            f"  format {rep['format']}, {rep['num_tensors']} tensors, {_count(rep['num_parameters'])} parameters "
            f"({dtypes}), family {rep.get('family')}, {compat}"
        )
        if name == "yi-style":
            for line in rep.get("summary_lines", [])[:1]:
                ctx.say(f"  {line}")
        ctx.check(rep["format"] == fmt, f"inspect {name}: format {rep['format']}, expected {fmt}")
        ctx.check(bool(rep.get("llama_compatible")), f"inspect {name}: not reported LLaMA-compatible")


def _verify_lines(ctx: DemoContext, name: str, rep: dict) -> None:
    runs = "runs as LLaMA" if rep["runs_as_llama"] else "does NOT run as LLaMA: " + "; ".join(rep["reasons"])
    ctx.say(
        f"  {runs}: {rep['consumed']} of {rep['canonical_tensors']} tensors consumed, "
        + ("outputs finite" if rep["finite"] else "outputs NOT finite")
    )
    if rep.get("compared_with"):
        ctx.say(
            f"  vs transformers {rep['compared_with']}: max abs logit diff {rep['max_abs_logit_diff']:.1e} "
            f"(tolerance {rep['logit_tolerance']})"
        )
    greedy = rep.get("greedy_from_bos") or []
    ctx.say(f"  greedy continuation of BOS: {' '.join(map(str, greedy[:12]))} …")
    ctx.check(bool(rep["runs_as_llama"]), f"verify {name}: expected 'runs as LLaMA'")


def step_verify(ctx: DemoContext) -> None:
    ctx.say()
    ctx.say("# verify: the Yi-style copy, loaded into the reference LLaMA, runs as LLaMA")
    if not ctx.torch:
        ctx.skip("provenance verify (runs the model in PyTorch)")
        return
    res = ctx.run("verify", "yi-style", "--format", "json")
    if res.code == 0:
        rep = res.json()
        _verify_lines(ctx, "yi-style", rep)
        ctx.facts["greedy"] = rep.get("greedy_from_bos")


def step_normalize(ctx: DemoContext) -> None:
    ctx.say()
    ctx.say("# normalize: rename it back to stock LLaMA names")
    res = ctx.run("normalize", "yi-style", "-o", "yi-normalized")
    if res.code != 0:
        return
    for line in res.stderr.splitlines():
        if line.startswith("rename "):
            ctx.say("  " + line.split("  [")[0])
    ctx.say("  " + res.stderr_line("wrote "))
    ctx.paths["yi-normalized"] = ctx.root / "yi-normalized"
    _transformers_check(ctx, ctx.root / "yi-normalized")
    if not ctx.torch:
        ctx.skip("provenance verify yi-normalized")
        return
    res = ctx.run("verify", "yi-normalized", "--format", "json")
    if res.code == 0:
        rep = res.json()
        _verify_lines(ctx, "yi-normalized", rep)
        if ctx.facts.get("greedy"):
            same = rep.get("greedy_from_bos") == ctx.facts["greedy"]
            ctx.say(f"  same greedy continuation as yi-style: {'yes' if same else 'NO'}")
            ctx.check(same, "verify yi-normalized: greedy continuation differs from yi-style")


def _transformers_check(ctx: DemoContext, directory: Path) -> None:
    """Stock transformers loads the normalized directory with no missing or unexpected keys (test extra)."""
    try:
        import transformers
    except ImportError:
        ctx.say(
            "  (transformers is not installed: skipping the LlamaForCausalLM load check; "
            "pip install 'llm-provenance[test]')"
        )
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    transformers.logging.set_verbosity_error()
    with contextlib.redirect_stderr(io.StringIO()):
        _, info = transformers.LlamaForCausalLM.from_pretrained(str(directory), output_loading_info=True)
    missing, unexpected = sorted(info.get("missing_keys", [])), sorted(info.get("unexpected_keys", []))
    ctx.say(
        f"  transformers LlamaForCausalLM.from_pretrained(yi-normalized): {len(missing)} missing, "
        f"{len(unexpected)} unexpected keys"
    )
    ctx.check(
        not missing and not unexpected,
        f"LlamaForCausalLM load of {directory.name}: missing {missing[:3]}, unexpected {unexpected[:3]}",
    )


def _compare_lines(ctx: DemoContext, res: Result, expected: str) -> None:
    if res.code != 0:
        return
    rep = res.json()
    rel = f" ({', '.join(rep['relation'])})" if rep.get("relation") else ""
    ctx.say(
        f"  verdict: {rep['verdict']}{rel}; mode {rep['mode']}, log10 p {rep['log10_p_value']}, "
        f"score {rep['score']:.3f}"
    )
    ctx.say(f"  {rep['summary']}")
    ctx.check(
        rep["verdict"] == expected, f"compare {' '.join(res.args[1:3])}: verdict {rep['verdict']}, expected {expected}"
    )


def step_compare(ctx: DemoContext) -> None:
    ctx.say()
    ctx.say("# compare: weight lineage, whatever the names")
    _compare_lines(ctx, ctx.run("compare", "yi-style", "base", "--format", "json"), "derived")
    _compare_lines(ctx, ctx.run("compare", "independent", "base", "--format", "json"), "independent")


def step_fingerprint(ctx: DemoContext) -> None:
    ctx.say()
    ctx.say("# fingerprint: keep a small file instead of the base, compare the GGUF copy against it")
    res = ctx.run("fingerprint", "base", "-o", "base.fp")
    if res.code == 0:
        ctx.say("  " + res.stderr_line("wrote "))
        ctx.paths["base.fp"] = ctx.root / "base.fp"
    _compare_lines(ctx, ctx.run("compare", "base-Q8_0.gguf", "base.fp", "--format", "json"), "derived")


def step_registry(ctx: DemoContext) -> None:
    ctx.say()
    ctx.say("# registry + identify: which known base does a model come from? (registry kept in the demo directory)")
    for name, path in (("tiny-base", "base"), ("tiny-independent", "independent")):
        res = ctx.run("registry", "add", name, path, "--registry", "registry")
        if res.code == 0:
            ctx.say("  " + res.stderr_line("added "))
    res = ctx.run("identify", "yi-style", "--registry", "registry", "--format", "json")
    if res.code != 0:
        return
    rep = res.json()
    ctx.say(f"  {rep['screened']} registered models screened")
    for i, c in enumerate(rep["candidates"], 1):
        rel = f" ({', '.join(c['relation'])})" if c.get("relation") else ""
        ctx.say(f"  {i}. {c['name']}: {c['verdict']}{rel}, {c['mode']}, log10 p {c['log10_p_value']}")
    top = rep["candidates"][0] if rep["candidates"] else {}
    ctx.check(
        top.get("name") == "tiny-base" and top.get("verdict") == "derived",
        f"identify yi-style: top candidate {top.get('name')} ({top.get('verdict')}), expected tiny-base derived",
    )


def _audit_lines(ctx: DemoContext, res: Result) -> dict | None:
    if res.code not in (0, 1) or not res.stdout.strip():
        return None
    rep = res.json()
    s = rep["summary"]
    ctx.say(
        f"  exit {res.code}, {'FAIL' if s['failed'] else 'PASS'}: {s['error']} error(s), {s['warning']} "
        f"warning(s) (fail-on {s['fail_on']})"
    )
    errors = sorted({f["id"] for f in rep["findings"] if f["severity"] == "error"})
    if errors:
        ctx.say(f"  errors: {', '.join(errors)}")
    written = [w["path"] for w in rep.get("written") or [] if w.get("status") == "written"]
    if written:
        ctx.say(f"  written: {', '.join(sorted(set(written)))}")
    return rep


def step_audit(ctx: DemoContext) -> None:
    ctx.say()
    ctx.say("# audit: what the Yi-style release owes its Llama 2 base")
    rep = _audit_lines(ctx, ctx.run("audit", "yi-style", "--base", "base", "--format", "json", expect=1))
    if rep is not None:
        ids = {f["id"] for f in rep["findings"]}
        for wanted in ("notice-missing", "license-conflict", "undisclosed-base"):
            ctx.check(wanted in ids, f"audit yi-style: expected finding {wanted}")

    ctx.say()
    ctx.say("# the fix: a copy released under the base's license, then --write adds what is missing")
    fixed = ctx.root / "yi-fixed"
    shutil.copytree(ctx.root / "yi-style", fixed)
    card = fixed / "README.md"
    card.write_text(
        card.read_text(encoding="utf-8").replace("license: apache-2.0", "license: llama2"), encoding="utf-8"
    )
    ctx.paths["yi-fixed"] = fixed
    ctx.say("$ cp -r yi-style yi-fixed   # and in yi-fixed/README.md: license: apache-2.0 → license: llama2")
    _audit_lines(ctx, ctx.run("audit", "yi-fixed", "--base", "base", "--write", "--format", "json", expect=0))
    _audit_lines(ctx, ctx.run("audit", "yi-fixed", "--base", "base", "--format", "json", expect=0))


STEPS: list[Callable[[DemoContext], None]] = [
    step_write_models,
    step_inspect,
    step_verify,
    step_normalize,
    step_compare,
    step_fingerprint,
    step_registry,
    step_audit,
]


def prepare_directory(directory: Path | None) -> Path:
    """A new temporary directory, an empty or new one, or a previous demo directory (its demo files are replaced).

    Any other non-empty directory is refused (exit 2), so the demo never deletes or overwrites a user's files.
    """
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="provenance-demo-"))
    directory = directory.expanduser().resolve()
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()):
        if not (directory / MARKER).is_file():
            raise UsageError(
                f"{directory} is not empty and was not written by `provenance demo`; "
                "give a new or empty directory (or none, for a temporary one)"
            )
        for name in OUTPUTS:
            p = directory / name
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MARKER).write_text("written by `provenance demo`; a rerun replaces the demo's files here\n")
    return directory


def run_demo(directory: Path | None, subprocess: bool = False) -> int:
    """Run every demo step; return 0 when every command behaved as expected, else 1."""
    root = prepare_directory(directory)
    ctx = DemoContext(root=root, subprocess=subprocess, torch=torch_available())
    if not ctx.torch:
        ctx.say(f"PyTorch is not installed: the torch-only parts are skipped and named ({TORCH_EXTRA} adds them).")
    for step in STEPS:
        try:
            step(ctx)
        except Exception as exc:  # noqa: BLE001 - a broken step is a demo failure, reported with the others
            ctx.fail(f"{step.__name__} raised {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    ctx.say()
    if ctx.failures:
        ctx.say(f"DEMO FAILED: {len(ctx.failures)} unexpected result(s) in {ctx.commands} commands:")
        for f in ctx.failures:
            ctx.say(f"  - {f}")
        ctx.say(f"Files are in {root}")
        return 1
    if ctx.skipped:
        ctx.say(f"Skipped without PyTorch ({TORCH_EXTRA}): " + "; ".join(ctx.skipped))
    ctx.say(f"DEMO PASSED: {ctx.commands} commands, every exit code and verdict as expected. Files are in {root}")
    return 0
