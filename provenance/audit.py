"""The attribution and license audit of a release directory.

``audit_release(release_dir, bases, base_licenses, config) -> AuditReport``:

1. read the release (card, legal texts, adapter/GGUF/config metadata) — :mod:`provenance.release`;
2. build its lineage: bases the release claims (card ``base_model``, ``adapter_config.json``, GGUF
   ``general.base_model.*``), bases the user names (``--base DIR``, ``--base-license ID``) and, when both sides
   have weights, what the weights show (:func:`provenance.lineage.compare_paths`);
3. resolve duties over that lineage graph and conflicts with the declared license — :mod:`licenses`;
4. check the release against every duty → findings with stable ids;
5. plan the files that would fix what can be fixed (``files_to_write``); :func:`apply_writes` writes them.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import licenses as kb
from provenance.errors import InputError, UsageError
from provenance.release import LegalText, ReleaseInfo, read_release, read_text, set_front_matter_keys

SCHEMA_VERSION = 1
SEVERITIES = ("info", "warning", "error")
FAIL_ON_LEVELS = ("error", "warning", "never")
COMPARE_MODES = ("deep", "quick", "off")
RELEASE_NODE = "(release)"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # default; a config file may change it
    title: str
    help: str


# The finding ids, their default severities and what they mean. Ids are stable: tools and configs key on them.
RULES: dict[str, Rule] = {
    r.id: r
    for r in (
        Rule(
            "license-missing",
            "error",
            "No license declared",
            "Neither the card, GGUF metadata nor a LICENSE text says which license the release is under.",
        ),
        Rule(
            "license-unknown",
            "warning",
            "Declared license not in the knowledge base",
            "The declared license is not one the audit knows, so its duties are not checked.",
        ),
        Rule(
            "license-conflict",
            "error",
            "Declared license incompatible with an inherited one",
            "A base model's license does not allow the license the release declares.",
        ),
        Rule(
            "license-text-missing",
            "error",
            "License text missing",
            "A license whose text must accompany redistribution is not shipped in the release.",
        ),
        Rule(
            "license-text-unavailable",
            "info",
            "No local copy of a required license text",
            "The text to ship is not in any base directory given with --base, so --write cannot copy it.",
        ),
        Rule(
            "license-text-unrecognised",
            "warning",
            "License file matches no known license",
            "A LICENSE file's title and version line match no record of the knowledge base.",
        ),
        Rule(
            "license-text-mismatch",
            "warning",
            "License file is for another license",
            "A LICENSE file is the text of a license that is neither declared nor inherited.",
        ),
        Rule(
            "notice-missing",
            "error",
            "NOTICE file missing",
            "A license requires a notice string in a file named NOTICE, and there is no NOTICE file.",
        ),
        Rule(
            "notice-incorrect",
            "error",
            "NOTICE lacks a required string",
            "The NOTICE file does not contain the exact notice string a license requires.",
        ),
        Rule(
            "use-policy-missing",
            "warning",
            "Use policy not shipped",
            "The license incorporates a use policy by reference (Meta: §1.b.iv); neither a policy file (e.g. "
            "USE_POLICY.md) nor a license file containing the policy is shipped.",
        ),
        Rule(
            "attribution-missing",
            "error",
            "Required attribution line missing",
            'The license requires a display line such as "Built with Llama" in the model card.',
        ),
        Rule(
            "source-attribution-missing",
            "error",
            "Source of the base models not credited",
            "The license requires the card to attribute the source of its models to the licensor, with no fixed "
            "wording (Yi License v2.1 §2(4)); the card body displays no line naming the models or the licensor.",
        ),
        Rule(
            "name-prefix",
            "warning",
            "Model name breaks a naming rule",
            'The license requires a derived model\'s name to begin with a given prefix (e.g. "Llama 3").',
        ),
        Rule(
            "undisclosed-base",
            "error",
            "Base model not disclosed",
            "Weights or metadata show a base model that the card's base_model does not name.",
        ),
        Rule(
            "base-hint-undisclosed",
            "warning",
            "config.json names a model the card does not",
            "config.json's _name_or_path names a model that the card's base_model does not list.",
        ),
        Rule(
            "base-license-unknown",
            "warning",
            "Base license unknown",
            "The license of a base model could not be established, so its duties are not checked.",
        ),
        Rule(
            "lineage-unconfirmed",
            "warning",
            "Weights do not show the given base",
            "A base given with --base was compared with the release and the weights look independent.",
        ),
        Rule(
            "card-missing",
            "warning",
            "No model card",
            "The release has no README.md model card to carry its license, base_model and attribution.",
        ),
    )
}


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    message: str
    file: str | None = None  # relative to the release directory
    fix: str = ""
    license: str | None = None
    base: str | None = None
    line: int | None = None  # 1-based, in ``file`` (findings about card content: the key, heading or line)
    column: int | None = None  # 1-based

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": self.severity,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "fix": self.fix,
            "license": self.license,
            "base": self.base,
        }


@dataclass
class AuditConfig:
    fail_on: str = "error"
    severity: dict[str, str] = field(default_factory=dict)  # finding id -> severity override
    ignore: frozenset[str] = frozenset()
    compare: str = "deep"  # weight comparison with --base directories: deep | quick | off
    source: str | None = None  # the config file it came from
    as_of: str | None = None  # ISO date the bases were obtained: picks the known-model table's license period

    def severity_of(self, finding_id: str) -> str:
        return self.severity.get(finding_id, RULES[finding_id].severity)


@dataclass
class BaseInfo:
    """One model in the release's lineage, and how it was established."""

    name: str
    hub_id: str | None = None
    path: Path | None = None
    established_by: list[str] = field(default_factory=list)
    licenses: list[str] = field(default_factory=list)
    license_raw: str | None = None
    license_source: str | None = None
    disclosed: bool = False
    comparison: dict[str, Any] | None = None
    legal: list[LegalText] = field(default_factory=list)
    aliases: set[str] = field(default_factory=set)
    date: str | None = None  # from a --base folder's card (release_date / date)
    license_as_of: str | None = None  # the date the known-model table was asked about; None: current terms
    license_history: list[str] = field(default_factory=list)  # every period of the table, when the terms changed
    license_note: str = ""  # the table's note for the period (e.g. terms not in the knowledge base)

    @property
    def evidence(self) -> str:
        """The strongest kind of evidence: weights > metadata > card > user."""
        kinds = " ".join(self.established_by)
        if "weights" in kinds:
            return "weights"
        if any(k in kinds for k in ("adapter_config", "GGUF")):
            return "metadata"
        if "card" in kinds:
            return "card"
        return "user"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "hub_id": self.hub_id,
            "path": str(self.path) if self.path else None,
            "established_by": sorted(self.established_by),
            "evidence": self.evidence,
            "licenses": sorted(self.licenses),
            "license_raw": self.license_raw,
            "license_source": self.license_source,
            "license_as_of": self.license_as_of,
            "license_history": self.license_history,
            "disclosed": self.disclosed,
            "comparison": self.comparison,
        }

    def history_note(self) -> str:
        """For a base whose license changed over time: which period applied and the other terms."""
        from_table = not self.licenses or (self.license_source or "").startswith("known Hub repo table")
        if not self.license_history or not from_table:
            return ""
        when = f"as of {self.license_as_of}" if self.license_as_of else "current terms (no date given)"
        return (
            f"Base {self.hub_id}: licensed per period — {'; '.join(self.license_history)}; the audit applies "
            f"the {when}."
        )


@dataclass
class PlannedWrite:
    """One change --write would make. ``build(current_text_or_None) -> new text`` runs at write time."""

    path: str  # relative to the release directory
    action: str  # create | update (adds, keeps existing content) | overwrite (changes existing content) | unavailable
    reason: str
    source: str | None = None
    preview: str = ""
    build: Callable[[str | None], str] | None = field(default=None, repr=False, compare=False)

    @property
    def needs_force(self) -> bool:
        return self.action == "overwrite"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "action": self.action,
            "reason": self.reason,
            "source": self.source,
            "needs_force": self.needs_force,
            "preview": self.preview,
        }


@dataclass
class AuditReport:
    release: ReleaseInfo
    bases: list[BaseInfo]
    declared: list[dict[str, Any]]
    inherited: list[dict[str, Any]]
    duties: list[kb.Duty]
    findings: list[Finding]
    files_to_write: list[PlannedWrite]
    config: AuditConfig
    ignored: list[Finding] = field(default_factory=list)
    written: list[dict[str, str]] = field(default_factory=list)

    def failing(self, fail_on: str | None = None) -> list[Finding]:
        level = fail_on or self.config.fail_on
        if level == "never":
            return []
        floor = SEVERITIES.index(level)
        return [f for f in self.findings if SEVERITIES.index(f.severity) >= floor]

    def counts(self) -> dict[str, int]:
        return {s: sum(1 for f in self.findings if f.severity == s) for s in SEVERITIES}

    def to_dict(self) -> dict[str, Any]:
        r = self.release
        return {
            "schema_version": SCHEMA_VERSION,
            "release": {
                "path": str(r.path),
                "model_name": r.model_name,
                "model_name_source": r.model_name_source,
                "card": r.rel(r.card_path) if r.card_path else None,
                "license": r.license,
                "license_link": r.license_link,
                "base_model": r.base_models,
                "base_model_relation": r.base_model_relation,
                "adapter_base": r.adapter_base,
                "gguf": None
                if r.gguf is None
                else {
                    "file": r.rel(r.gguf.file),
                    "name": r.gguf.name,
                    "license": r.gguf.license,
                    "license_name": r.gguf.license_name,
                    "base_models": r.gguf.base_models,
                },
                "name_or_path": r.name_or_path,
                "weight_files": [r.rel(p) for p in r.weight_files],
                "legal_files": [
                    {"kind": t.kind, "file": r.rel(t.path), "license": t.license_id, "matched": t.matched}
                    for t in r.legal
                ],
            },
            "lineage": [b.to_dict() for b in self.bases],
            "licenses": {"declared": self.declared, "inherited": self.inherited},
            "duties": [
                {
                    "kind": d.kind,
                    "license": d.license,
                    "text": d.text,
                    "file": d.file,
                    "via": list(d.via),
                    "source": d.source,
                }
                for d in self.duties
            ],
            "findings": [f.to_dict() for f in self.findings],
            "ignored_findings": [f.to_dict() for f in self.ignored],
            "summary": {**self.counts(), "fail_on": self.config.fail_on, "failed": bool(self.failing())},
            "files_to_write": [w.to_dict() for w in self.files_to_write],
            "written": self.written,
            "config": {
                "file": self.config.source,
                "fail_on": self.config.fail_on,
                "severity": dict(sorted(self.config.severity.items())),
                "ignore": sorted(self.config.ignore),
                "compare": self.config.compare,
                "as_of": self.config.as_of,
            },
        }


# --------------------------------------------------------------------------------------------------- config


def _validate_config(data: dict[str, Any], where: str) -> AuditConfig:
    known = {
        "fail_on",
        "fail-on",
        "severity",
        "ignore",
        "name_prefix_severity",
        "name-prefix-severity",
        "compare",
        "as_of",
        "as-of",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(f"{where}: unknown [tool.provenance] keys: {', '.join(unknown)}")
    fail_on = str(data.get("fail_on", data.get("fail-on", "error")))
    if fail_on not in FAIL_ON_LEVELS:
        raise UsageError(f"{where}: fail_on must be one of {', '.join(FAIL_ON_LEVELS)}, not {fail_on!r}")
    severity = {str(k): str(v) for k, v in dict(data.get("severity", {})).items()}
    np = data.get("name_prefix_severity", data.get("name-prefix-severity"))
    if np is not None:
        severity["name-prefix"] = str(np)
    for fid, sev in severity.items():
        if fid not in RULES:
            raise UsageError(f"{where}: unknown finding id {fid!r} in severity")
        if sev not in SEVERITIES:
            raise UsageError(f"{where}: severity of {fid} must be one of {', '.join(SEVERITIES)}, not {sev!r}")
    ignore = data.get("ignore", [])
    if isinstance(ignore, str) or not all(isinstance(i, str) for i in ignore):
        raise UsageError(f"{where}: ignore must be a list of finding ids")
    for fid in ignore:
        if fid not in RULES:
            raise UsageError(f"{where}: unknown finding id {fid!r} in ignore")
    compare = str(data.get("compare", "deep"))
    if compare not in COMPARE_MODES:
        raise UsageError(f"{where}: compare must be one of {', '.join(COMPARE_MODES)}, not {compare!r}")
    as_of = data.get("as_of", data.get("as-of"))
    if as_of is not None:
        as_of = _iso_day(as_of)
        if as_of is None:
            raise UsageError(
                f"{where}: as_of must be a date (YYYY-MM-DD), not {data.get('as_of', data.get('as-of'))!r}"
            )
    return AuditConfig(
        fail_on=fail_on, severity=severity, ignore=frozenset(ignore), compare=compare, source=where, as_of=as_of
    )


def _iso_day(value: Any) -> str | None:
    """``value`` as an ISO date string (a TOML/YAML date, or a string starting with YYYY-MM-DD), else None."""
    if isinstance(value, _dt.datetime):
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str) and re.match(r"\d{4}-\d{2}-\d{2}(?!\d)", value.strip()):
        try:
            return _dt.date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            return None
    return None


# Card front-matter keys that date a release or a base (the first present and valid wins).
DATE_KEYS = ("release_date", "date")


def card_date(front_matter: dict[str, Any] | None) -> str | None:
    for key in DATE_KEYS:
        day = _iso_day((front_matter or {}).get(key))
        if day:
            return day
    return None


def load_config(release_dir: Path, explicit: Path | None = None) -> AuditConfig:
    """``--config FILE``, else ``provenance.toml``, else ``[tool.provenance]`` of ``pyproject.toml`` in the release
    directory or a parent up to the repository root (nearest first), else defaults. In a provenance.toml the keys
    may sit at top level or under [tool.provenance]."""
    from provenance.configfiles import config_candidates, tomllib

    candidates = [explicit] if explicit else config_candidates(release_dir)
    for path in candidates:
        if path is None or not path.is_file():
            if explicit:
                raise InputError(explicit, "config file not found")
            continue
        try:
            data = tomllib.loads(read_text(path))
        except tomllib.TOMLDecodeError as exc:
            raise InputError(path, f"not valid TOML: {exc}") from exc
        section = data.get("tool", {}).get("provenance")
        if section is None:
            if path.name == "pyproject.toml":
                continue
            section = {k: v for k, v in data.items() if k != "tool"}
        return _validate_config(section, str(path))
    return AuditConfig()


# -------------------------------------------------------------------------------------------------- lineage


def _norm_name(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower()).rstrip("/")


def _short(name: str) -> str:
    return _norm_name(name).rsplit("/", 1)[-1]


def _names_match(a: str, b: str) -> bool:
    return _norm_name(a) == _norm_name(b) or _short(a) == _short(b)


def _looks_like_repo_id(value: str | None) -> bool:
    return bool(value) and bool(re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", value or ""))


# First path parts of local training folders that look like ``owner/name`` but are not Hub owners.
_LOCAL_OWNERS = frozenset(
    {
        "models",
        "model",
        "checkpoints",
        "checkpoint",
        "ckpt",
        "ckpts",
        "outputs",
        "output",
        "out",
        "runs",
        "results",
        "saves",
        "save",
        "weights",
        "data",
        "tmp",
        "temp",
        "home",
        "mnt",
        "workspace",
        "content",
        "kaggle",
        "root",
        "users",
        "scratch",
        "work",
        "experiments",
        "exp",
        "pretrained",
        "downloads",
        "cache",
        "hub",
    }
)


def hub_id(value: str | None, *folders: Path) -> str | None:
    """``value`` when it is a Hugging Face repo id (``owner/name``), else None.

    An id the known-model table recognises is one; otherwise it must have the id shape (one slash, Hub characters,
    no ``--``/``..``, at most 96 characters per part), must not start with a typical local folder
    (``outputs/checkpoint-500``), and must not exist as a path beside the folders given (a relative local path)."""
    if not value or not _looks_like_repo_id(value.strip()):
        return None
    v = value.strip()
    if kb.repo_history(v):
        return v
    owner, name = v.split("/")
    if owner.lower() in _LOCAL_OWNERS or re.fullmatch(r"checkpoint[-_]?\d+", name, re.I):
        return None
    if any(
        len(part) > 96 or "--" in part or ".." in part or part[0] in "-." or part[-1] in "-." for part in (owner, name)
    ):
        return None
    if any((f / v).exists() for f in folders):
        return None
    return v


def _hf_cache_repo_id(path: Path) -> str | None:
    """``org/name`` for a Hugging Face cache snapshot folder (``…/models--org--name/snapshots/<rev>``)."""
    real = Path(os.path.realpath(path))
    repo = real.parent.parent.name if real.parent.name == "snapshots" else ""
    parts = repo.split("--")
    return f"{parts[1]}/{parts[2]}" if len(parts) == 3 and parts[0] == "models" and all(parts[1:]) else None


def _is_local_path(value: str) -> bool:
    return value.startswith(("/", "\\", ".", "~")) or "\\" in value or bool(re.match(r"[A-Za-z]:[\\/]", value))


def _license_from_legal(legal: list[LegalText]) -> str | None:
    ids = sorted({t.license_id for t in legal if t.kind == "license" and t.license_id})
    return ids[0] if len(ids) == 1 else None


def _read_base_dir(path: Path) -> BaseInfo:
    if not path.exists():
        raise InputError(path, "no such file or directory (given with --base)")
    info = read_release(path)
    b = BaseInfo(
        name=info.model_name,
        path=info.path,
        established_by=["--base"],
        legal=info.legal,
        date=card_date(info.front_matter),
    )
    b.aliases = {info.model_name, info.path.name}
    for candidate in (info.name_or_path, _hf_cache_repo_id(info.path), info.front_matter.get("model_name")):
        if isinstance(candidate, str) and hub_id(candidate, info.path, info.path.parent):
            b.hub_id = candidate
            b.aliases.add(candidate)
            break
    if info.gguf and info.gguf.name:
        b.aliases.add(info.gguf.name)
    if info.license_record:
        b.licenses, b.license_raw, b.license_source = [info.license_record.id], info.license, "base card"
    elif (lid := _license_from_legal(info.legal)) is not None:
        b.licenses, b.license_source = [lid], "base LICENSE text"
    else:
        b.license_raw = info.license
    b._has_weights = info.has_weights  # type: ignore[attr-defined]
    return b


def _compare(
    release: ReleaseInfo, base: BaseInfo, cache: dict[tuple[str, str, bool], dict[str, Any]], deep: bool
) -> dict[str, Any]:
    key = (str(release.path), str(base.path), deep)
    if key in cache:
        return cache[key]
    try:
        from provenance.lineage import compare_paths
    except ImportError:
        result: dict[str, Any] = {"skipped": "weight comparison is not available in this installation"}
    else:
        try:
            from provenance.progress import progress

            rep = compare_paths(release.path, base.path, deep=deep, progress=progress)
            result = {"verdict": rep.get("verdict"), "p_value": rep.get("p_value"), "relation": rep.get("relation")}
        except Exception as exc:  # noqa: BLE001 - a failed comparison is reported, the audit goes on
            result = {"skipped": f"weights could not be compared: {exc}"}
    cache[key] = result
    return result


def build_lineage(
    release: ReleaseInfo,
    base_paths: list[Path],
    base_licenses: list[str],
    config: AuditConfig,
    cache: dict | None = None,
) -> list[BaseInfo]:
    """Every base of the release, merged by name across sources, with how each was established."""
    cache = {} if cache is None else cache
    bases: list[BaseInfo] = []

    def claim(name: str, how: str, hub_id: str | None = None, disclosed: bool = False) -> BaseInfo:
        for b in bases:
            if any(_names_match(name, a) for a in b.aliases | {b.name}):
                if how not in b.established_by:
                    b.established_by.append(how)
                b.disclosed = b.disclosed or disclosed
                b.hub_id = b.hub_id or hub_id
                return b
        b = BaseInfo(name=name, hub_id=hub_id, established_by=[how], disclosed=disclosed, aliases={name})
        bases.append(b)
        return b

    for name in release.base_models:
        claim(name, "card base_model", hub_id(name, release.path, release.path.parent), disclosed=True)
    if release.adapter_base:
        ab = release.adapter_base
        claim(ab, "adapter_config.json base_model_name_or_path", hub_id(ab, release.path, release.path.parent))
    if release.gguf:
        for entry in release.gguf.base_models:
            name = entry.get("repo_id") or entry.get("name") or "?"
            if entry.get("organization") and entry.get("name") and not entry.get("repo_id"):
                name = f"{entry['organization']}/{entry['name']}"
            b = claim(name, "GGUF general.base_model", entry.get("repo_id"))
            if entry.get("name"):
                b.aliases.add(entry["name"])

    # Bases the user gives as directories: match them to claimed bases by name, else add them.
    unmatched_card = [b for b in bases if b.disclosed]
    for path in base_paths:
        local = _read_base_dir(path)
        target = next(
            (b for b in bases if any(_names_match(x, y) for x in local.aliases for y in b.aliases | {b.name})), None
        )
        if target is None and len(release.base_models) == 1 and len(base_paths) == 1 and unmatched_card:
            target = unmatched_card[0]  # one named base, one given directory: the same model
            local.established_by.append("matched to the card's only base_model")
        if target is None:
            bases.append(local)
            target = local
        else:
            target.path, target.legal = local.path, local.legal
            target.aliases |= local.aliases
            target.established_by = sorted(set(target.established_by) | set(local.established_by))
            if local.licenses:
                target.licenses, target.license_raw, target.license_source = (
                    local.licenses,
                    local.license_raw,
                    local.license_source,
                )
            target.hub_id = target.hub_id or local.hub_id
            target.date = target.date or local.date
        if config.compare == "off":
            target.comparison = {"skipped": "not compared: weight comparison is off"}
        elif release.adapter_base:
            # An adapter holds low-rank deltas, not a full model: comparing them with a base says nothing.
            target.comparison = {"skipped": "not compared: the release is an adapter (adapter_config.json)"}
        elif release.has_weights and getattr(local, "_has_weights", False):
            target.comparison = _compare(release, target, cache, deep=config.compare == "deep")
            if target.comparison.get("verdict") == "derived":
                p = target.comparison.get("p_value")
                target.established_by.append(
                    f"weights (derived, p={p:.3g})" if isinstance(p, (int, float)) else "weights (derived)"
                )
        else:
            target.comparison = {
                "skipped": "not compared: "
                + ("the release has no weights" if not release.has_weights else "the base directory has no weights")
            }

    # Bases named only by a Hub id: the known-model table, for the period that applies. The date: the config's
    # as_of (when the bases were obtained), else the release card's date, else the base card's; none -> current.
    release_day = config.as_of or card_date(release.front_matter)
    for b in bases:
        if not b.licenses and b.hub_id:
            _license_from_table(b, release_day or b.date)

    # Licenses given on the command line go to bases whose license is still unknown, in order; the rest become
    # bases known only by their license.
    for lic_value in base_licenses:
        rec = kb.lookup(lic_value)
        if rec is None:
            raise UsageError(
                f"--base-license {lic_value!r}: not a license the audit knows "
                f"(known ids: {', '.join(r.id for r in kb.LICENSES)})"
            )
        target = next((b for b in bases if not b.licenses), None)
        if target is None:
            target = BaseInfo(name=f"(base under {rec.name})", established_by=[])
            bases.append(target)
        target.licenses, target.license_raw, target.license_source = [rec.id], lic_value, "--base-license"
        target.established_by.append("--base-license")
    return bases


def _period(row: kb.KnownModel) -> str:
    terms = " + ".join(kb.BY_ID[i].name if i in kb.BY_ID else i for i in row.licenses) or (
        row.note or "terms not in the knowledge base"
    )
    span = (f"from {row.valid_from} " if row.valid_from else "") + (
        f"until {row.valid_until}" if row.valid_until else ""
    )
    return f"{terms} ({span.strip() or 'all dates'})"


def _license_from_table(b: BaseInfo, as_of: str | None) -> None:
    """Every license the known-model table gives ``b``'s Hub id for the period of ``as_of`` (current without a
    date), and the table's other periods when the terms changed over time."""
    row = kb.licenses_for_repo(b.hub_id or "", as_of)
    history = kb.repo_history(b.hub_id or "")
    if not history:
        return
    b.license_as_of = as_of
    if len(history) > 1:
        b.license_history = [_period(r) for r in history]
    if row is None:
        return
    b.license_note = row.note
    if row.licenses:
        b.licenses, b.license_source = list(row.licenses), f"known Hub repo table ({row.source})"


# ------------------------------------------------------------------------------------------------- checking


def _declared(release: ReleaseInfo) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if release.license:
        out.append(
            {
                "license": release.license_record.id if release.license_record else None,
                "raw": release.license,
                "source": "card",
                "spdx": release.license_record.spdx if release.license_record else None,
            }
        )
    if release.gguf and (release.gguf.license or release.gguf.license_name):
        raw = release.gguf.license_name or release.gguf.license
        rec = kb.lookup(release.gguf.license) or kb.lookup(release.gguf.license_name)
        out.append(
            {
                "license": rec.id if rec else None,
                "raw": raw,
                "source": "GGUF general.license",
                "spdx": rec.spdx if rec else None,
            }
        )
    if not out:
        lid = _license_from_legal(release.legal)
        if lid:
            out.append({"license": lid, "raw": lid, "source": "LICENSE text", "spdx": kb.BY_ID[lid].spdx})
    return out


def _readme_has(release: ReleaseInfo, line: str) -> bool:
    """Whether the card body *displays* the line (see :func:`provenance.cards.find_display`): text in the front
    matter, a quoted license, a blockquote, code or an HTML comment does not count."""
    from provenance.cards import find_display

    return find_display(release.card, line) is not None


# Which front-matter key a card finding is about (its line is reported); others point at the first heading.
_FINDING_KEYS = {
    "license-missing": "license",
    "license-unknown": "license",
    "license-conflict": "license",
    "undisclosed-base": "base_model",
    "base-license-unknown": "base_model",
    "name-prefix": "model_name",
}


def _card_location(release: ReleaseInfo, finding_id: str) -> tuple[int, int] | None:
    """(line, column) in the card for a finding about its content: the front-matter key it concerns, else the
    first heading (where a model name or an attribution section is read), else the first body line."""
    from provenance.cards import first_heading

    card = release.card
    if card is None:
        return None
    key = _FINDING_KEYS.get(finding_id)
    if key and key in card.key_lines:
        return card.key_lines[key], 1
    if finding_id == "name-prefix" and release.model_name_source != "README heading":
        for k in ("model_name", "model-index"):
            if k in card.key_lines:
                return card.key_lines[k], 1
    if card.front_matter_span and finding_id in _FINDING_KEYS:
        return card.body_line - 1, 1  # the closing fence: where a missing key would go
    h = first_heading(card)
    if h is not None:
        return h.line, 1
    return card.body_line, 1


def _starts_with(name: str, prefix: str) -> bool:
    def norm(s: str) -> str:
        return " ".join(re.sub(r"[-_]+", " ", s).split()).lower()

    n, p = norm(name), norm(prefix)
    return n == p or n.startswith(p + " ") or (n.startswith(p) and not n[len(p) : len(p) + 1].isalnum())


def _base_credit_name(b: BaseInfo) -> str:
    """The base's node name in the lineage graph and in reports: its Hub id, else the name it was found by."""
    return b.hub_id or b.name


def _public_name(b: BaseInfo) -> str:
    """How a written card names a base: its Hub id, else its name unless that is a local path."""
    if b.hub_id:
        return b.hub_id
    if _is_local_path(b.name) or ("/" in b.name and not _looks_like_repo_id(b.name)):
        return "a base model" + (
            f" under the {kb.BY_ID[b.licenses[0]].name}" if b.licenses and b.licenses[0] in kb.BY_ID else ""
        )
    return b.name


def _local_texts(bases: list[BaseInfo], kind: str, license_id: str | None = None) -> list[LegalText]:
    out = []
    for b in bases:
        for t in b.legal:
            if t.kind != kind:
                continue
            if kind == "license" and t.license_id != license_id:
                continue
            if kind == "use_policy" and license_id not in b.licenses:
                continue
            out.append(t)
    return out


def audit_release(
    release_dir: Path,
    bases: list[Path] | None = None,
    base_licenses: list[str] | None = None,
    config: AuditConfig | None = None,
    comparison_cache: dict | None = None,
) -> AuditReport:
    """Audit a release directory against the duties of its declared license and of every base in its lineage."""
    config = config or AuditConfig()
    release = read_release(release_dir)
    lineage = build_lineage(release, list(bases or []), list(base_licenses or []), config, comparison_cache)
    declared = _declared(release)
    declared_ids = [d["license"] for d in declared if d["license"]]

    graph = kb.LineageGraph()
    graph.add(
        kb.Node(
            RELEASE_NODE, tuple(dict.fromkeys(declared_ids[:1] or ())), tuple(_base_credit_name(b) for b in lineage)
        )
    )
    for b in lineage:
        graph.add(kb.Node(_base_credit_name(b), tuple(b.licenses)))
    inherited_map = graph.inherited(RELEASE_NODE)
    conflicts = kb.conflicts(graph, RELEASE_NODE)
    # A declared license that conflicts with an inherited one is itself the problem: its own duties (ship its
    # text …) are not asked for, only those of the licenses the release actually owes.
    duty_graph = graph
    if conflicts:
        duty_graph = kb.LineageGraph(dict(graph.nodes))
        duty_graph.add(kb.Node(RELEASE_NODE, (), graph.nodes[RELEASE_NODE].parents))
    duties = kb.resolve_duties(duty_graph, RELEASE_NODE)
    inherited = [
        {"license": lid, "spdx": kb.BY_ID[lid].spdx if lid in kb.BY_ID else None, "via": list(via)}
        for lid, via in inherited_map.items()
    ]

    raw: list[Finding] = []
    plans: list[PlannedWrite] = []

    def add(
        fid: str,
        message: str,
        file: str | None = None,
        fix: str = "",
        license: str | None = None,
        base: str | None = None,
        at: tuple[int, int] | None = None,
    ) -> None:
        if at is None and file is not None and file == card_file and release.card is not None:
            at = _card_location(release, fid)
        line, column = at if at else (None, None)
        raw.append(Finding(fid, config.severity_of(fid), message, file, fix, license, base, line, column))

    card_file = release.rel(release.card_path) if release.card_path else "README.md"
    if release.card_path is None:
        add(
            "card-missing",
            "The release has no README.md model card.",
            "README.md",
            "Add a README.md with front matter: license, base_model, and an attribution section (--write does).",
        )

    # Declared license.
    if not declared:
        add(
            "license-missing",
            "No license is declared (card `license:`, GGUF general.license) and no LICENSE text identifies one.",
            card_file,
            "Add `license:` to the card front matter (--write adds the inherited license when there is one).",
        )
    for d in declared:
        if d["license"] is None:
            add(
                "license-unknown",
                f"Declared license {d['raw']!r} ({d['source']}) is not in the knowledge base; "
                "its duties are not checked.",
                card_file if d["source"] == "card" else None,
                "Use a Hugging Face license id, or license: other with license_name and license_link.",
            )

    # Bases whose license is unknown.
    for b in lineage:
        if not b.licenses:
            add(
                "base-license-unknown",
                f"The license of base {b.name!r} (established by "
                f"{', '.join(b.established_by)}) is unknown{': ' + repr(b.license_raw) if b.license_raw else ''}"
                + (
                    f" (known-model table{' as of ' + b.license_as_of if b.license_as_of else ''}: {b.license_note})"
                    if b.license_note
                    else ""
                )
                + ".",
                card_file,
                "Pass --base-license ID, or --base DIR with the base's card/LICENSE.",
                base=b.name,
            )

    # Conflicts.
    for c in conflicts:
        add(
            "license-conflict",
            f"Declared license {c.declared} conflicts with {c.inherited} inherited from "
            f"{', '.join(c.via)}: {c.reason}.",
            card_file,
            f"Release under {c.inherited} (card `license:`), with its LICENSE and NOTICE.",
            license=c.inherited,
        )

    # Lineage disclosure.
    for b in lineage:
        if b.comparison and b.comparison.get("verdict") == "independent" and "--base" in b.established_by:
            add(
                "lineage-unconfirmed",
                f"--base {b.name!r}: the weights look independent of the release (p={b.comparison.get('p_value')}).",
                None,
                "Check that the right base directory was given.",
                base=b.name,
            )
        if b.disclosed:
            continue
        if _should_disclose(b):
            how = ", ".join(sorted(set(b.established_by)))
            shown = {"weights": "The weights show", "metadata": "The release's metadata names"}.get(
                b.evidence, "You named (--base)"
            )
            add(
                "undisclosed-base",
                f"{shown} base {b.name!r} ({how}), which the card's base_model does not name.",
                card_file,
                f"Add `base_model: {b.hub_id}` to the card front matter (--write does)."
                if b.hub_id
                else "Add the base's Hub id (owner/name) as base_model; none is known here (a local path or "
                "a card heading is not one), so --write leaves it out.",
                base=b.name,
            )
    if (
        release.name_or_path
        and _looks_like_repo_id(release.name_or_path)
        and not any(_names_match(release.name_or_path, a) for b in lineage for a in b.aliases | {b.name})
        and not _names_match(release.name_or_path, release.model_name)
    ):
        add(
            "base-hint-undisclosed",
            f"config.json _name_or_path is {release.name_or_path!r}, which the card's base_model does not name.",
            "config.json",
            "If it is the base model, add it to base_model; otherwise clear _name_or_path.",
        )

    # License files.
    license_texts = release.legal_of("license")
    shipped_ids = {t.license_id for t in license_texts if t.license_id}
    known_ids = set(declared_ids) | set(inherited_map)
    for t in license_texts:
        if t.license_id is None:
            add(
                "license-text-unrecognised",
                f"{release.rel(t.path)} matches no known license title and version line.",
                release.rel(t.path),
                "Ship the license text unmodified, starting with its title and version.",
            )
        elif t.license_id not in known_ids:
            add(
                "license-text-mismatch",
                f"{release.rel(t.path)} is the {kb.BY_ID[t.license_id].name} text "
                f"({t.matched}), which is neither declared nor inherited.",
                release.rel(t.path),
                "Remove it, or declare the license it belongs to.",
                license=t.license_id,
            )

    taken = {t.path.name for t in release.legal}
    # The license the release stays under gets the plain LICENSE name: the declared one, then non-relicensable ones.
    text_duties = sorted(
        (d for d in duties if d.kind == "license-text"),
        key=lambda d: (RELEASE_NODE not in d.via, kb.BY_ID[d.license].relicense is not kb.Relicense.NO, d.license),
    )
    for d in text_duties:
        if d.license in shipped_ids:
            continue
        lic = kb.BY_ID[d.license]
        if lic.link_suffices and _card_links_license(release, lic, declared_ids):
            continue
        if lic.link_suffices:
            add(
                "license-text-missing",
                f"The {lic.name} text or its URI must accompany the release (required by "
                f"{_via(d.via)}); no shipped file is that text and the card neither names nor links it.",
                "README.md",
                f"Link {lic.url} in the model card (or set license_link), or ship the text.",
                license=lic.id,
            )
            continue
        add(
            "license-text-missing",
            f"The {lic.name} text must accompany the release "
            f"(required by {_via(d.via)}), and no shipped file is that text.",
            "LICENSE",
            f"Copy the {lic.name} text from the base model into the release (--write does when a base directory "
            "has it).",
            license=lic.id,
        )
        sources = _local_texts(lineage, "license", lic.id)
        target = "LICENSE" if "LICENSE" not in taken and not license_texts else f"LICENSE-{lic.id}"
        taken.add(target)
        if sources:
            src = sources[0].path
            plans.append(
                PlannedWrite(
                    target,
                    "create",
                    f"the {lic.name} text",
                    str(src),
                    f"copy of {src}",
                    _copy_builder(src, sources[0].root),
                )
            )
        else:
            add(
                "license-text-unavailable",
                f"No local copy of the {lic.name} text was found in any --base directory.",
                target,
                "Pass --base DIR for a base that ships it, or copy it by hand.",
                license=lic.id,
            )
            plans.append(
                PlannedWrite(
                    target,
                    "unavailable",
                    f"no local copy of the {lic.name} text; pass --base DIR holding it or copy it by hand",
                )
            )

    # NOTICE.
    notice_license = {d.text: d.license for d in duties if d.kind == "notice"}
    outside_notices: list[LegalText] = []  # base NOTICE files that resolve outside their folder: never copied
    for b in lineage:  # Apache-2.0 section 4(d): pass on the base's NOTICE contents
        if "apache-2.0" in b.licenses:
            for t in b.legal:
                if t.kind == "notice" and t.text.strip():
                    if t.outside:
                        outside_notices.append(t)
                    else:
                        notice_license.setdefault(t.text.strip(), "apache-2.0")
    notices = list(notice_license)
    notice_files = release.legal_of("notice")
    if notices:
        existing = "\n".join(t.text for t in notice_files) if notice_files else None
        missing = kb.missing_notices(notices, existing)
        if not notice_files:
            add(
                "notice-missing",
                "No NOTICE file; the licenses in the lineage require: " + " / ".join(f'"{n}"' for n in missing),
                "NOTICE",
                "Create NOTICE with the exact strings (--write does).",
            )
            content = kb.render_notice(notices)
            plans.append(
                PlannedWrite(
                    "NOTICE",
                    "create",
                    "required notice strings",
                    None,
                    content,
                    lambda current, c=content: _refuse_outside(outside_notices) or c,
                )
            )
        else:
            nf = notice_files[0]
            nf_rel = release.rel(nf.path)
            known = [r.notice for r in kb.LICENSES if r.notice]
            stale = kb.render.stale_notices(nf.text, notices, known)
            # A stale line and a missing notice are one problem when the line stands where the notice should:
            # one finding, at the line, for the license that requires the notice.
            pairs = _pair_stale(missing, stale)
            for n in missing:
                if n in pairs:
                    line_no, text = pairs[n]
                    add(
                        "notice-incorrect",
                        f"{nf_rel} line {line_no} is the notice of another license or version "
                        f'("{text}"), not the required notice "{n}".',
                        nf_rel,
                        "Replace it with the required notice (--write --force does).",
                        license=notice_license[n],
                        at=(line_no, 1),
                    )
                    continue
                add(
                    "notice-incorrect",
                    f'{nf_rel} does not contain the required notice "{n}".',
                    nf_rel,
                    "Add the exact string on its own line (--write appends it).",
                    license=notice_license[n],
                )
            paired = set(pairs.values())
            for line_no, text in stale:
                if (line_no, text) in paired:
                    continue
                add(
                    "notice-incorrect",
                    f"{nf_rel} line {line_no} is the notice of another license or version "
                    f'("{text}"), not one the lineage requires.',
                    nf_rel,
                    "Replace it with the required notice (--write --force does).",
                    at=(line_no, 1),
                )
            if stale:
                plans.append(
                    PlannedWrite(
                        nf_rel,
                        "overwrite",
                        "replace stale notice lines with the required strings",
                        None,
                        "\n".join(notices),
                        lambda current, ns=tuple(notices), k=tuple(known): (
                            _refuse_outside(outside_notices)
                            or kb.render.replace_stale_notices(current, list(ns), list(k))
                        ),
                    )
                )
            elif missing:
                plans.append(
                    PlannedWrite(
                        nf_rel,
                        "update",
                        "append missing notice strings",
                        None,
                        "\n".join(missing),
                        lambda current, ns=tuple(notices): (
                            _refuse_outside(outside_notices) or kb.render_notice(list(ns), current)
                        ),
                    )
                )

    if outside_notices and not any(p.path == "NOTICE" or p.reason.endswith("notice strings") for p in plans):
        # A base's NOTICE to pass on (Apache-2.0 section 4(d)) is a symlink out of its folder: --write refuses.
        nf_rel = release.rel(notice_files[0].path) if notice_files else "NOTICE"
        plans.append(
            PlannedWrite(
                nf_rel,
                "update" if notice_files else "create",
                "pass on a base's NOTICE (Apache-2.0 section 4(d))",
                str(outside_notices[0].path),
                "refused: the base's NOTICE resolves outside its folder",
                lambda current: _refuse_outside(outside_notices) or (current or ""),
            )
        )

    # Use policies. Meta's licenses incorporate the Acceptable Use Policy by reference (Llama 2/3/3.x §1.b.iv:
    # "adhere to the Acceptable Use Policy for the Llama Materials (available at …), which is hereby incorporated
    # by reference into this Agreement"); shipping USE_POLICY.md is Meta's practice, not a stated duty. So: a
    # warning, met by a policy file or by the policy text inside a shipped license file (Meta's own Llama 3
    # LICENSE files append the whole policy).
    policy_files = release.legal_of("use_policy")
    for d in duties:
        if d.kind != "use-policy" or policy_files:
            continue
        lic = kb.BY_ID[d.license]
        if any(kb.contains_use_policy(t.text, lic) for t in release.legal_of("license")):
            continue
        c = lic.clause("use_policy_file")
        clause = (
            f"{c.section}, which incorporates the policy by reference: \u201c{c.quote}\u201d"
            if c
            else "its use-policy clause"
        )
        add(
            "use-policy-missing",
            f"The {lic.name} binds users to its Acceptable Use Policy "
            f"({lic.use_policy_url}) — {clause}; neither {lic.use_policy_file} nor a shipped license file "
            "containing the policy is in the release (shipping it is the licensor's practice, not a stated duty).",
            lic.use_policy_file,
            f"Ship {lic.use_policy_file} from the base model (--write copies it when a base directory has it).",
            license=lic.id,
        )
        sources = _local_texts(lineage, "use_policy", lic.id)
        target = lic.use_policy_file or "USE_POLICY.md"
        if any(p.path == target for p in plans):
            continue
        if sources:
            plans.append(
                PlannedWrite(
                    target,
                    "create",
                    f"the {lic.name} use policy",
                    str(sources[0].path),
                    f"copy of {sources[0].path}",
                    _copy_builder(sources[0].path, sources[0].root),
                )
            )
        else:
            plans.append(
                PlannedWrite(
                    target, "unavailable", f"no local copy of the use policy; fetch it from {lic.use_policy_url}"
                )
            )

    # Attribution lines and naming rules.
    display_lines: list[str] = []
    source_credits: list[str] = []
    for d in duties:
        if d.kind == "attribute-source":
            names = _source_names(d, lineage)
            if not any(_readme_has(release, n) for n in names):
                lic = kb.BY_ID[d.license]
                add(
                    "source-attribution-missing",
                    f"The {lic.name} requires releases to {d.text} ({d.source}: "
                    f"\u201c{lic.clause('attribute_source').quote if lic.clause('attribute_source') else d.text}"
                    f"\u201d); the card body displays none of: " + ", ".join(f'"{n}"' for n in names) + ".",
                    card_file,
                    f'Add a line crediting the source, e.g. "{release.model_name} is based on '
                    f'{d.credit}." (--write adds it to the attribution section).',
                    license=lic.id,
                )
                source_credits.append(d.credit)
        elif d.kind == "attribution":
            lic = kb.BY_ID[d.license]
            if not any(_readme_has(release, line) for line in lic.display):
                add(
                    "attribution-missing",
                    f"The {lic.name} requires the card to display "
                    + " or ".join(f'"{kb.render.display_line(x, release.model_name)}"' for x in lic.display)
                    + ".",
                    card_file,
                    "Add the line to the model card (--write adds an attribution section).",
                    license=lic.id,
                )
                display_lines.append(lic.display[0])
        elif d.kind == "name-prefix" and not _starts_with(release.model_name, d.text):
            add(
                "name-prefix",
                f"Model name {release.model_name!r} ({release.model_name_source}) does not begin "
                f'with "{d.text}", as the {kb.BY_ID[d.license].name} requires of derived models.',
                card_file,
                f'Rename the model to begin with "{d.text}" (e.g. "{d.text} {release.model_name}").',
                license=d.license,
            )

    wanted = set(declared_ids) | set(inherited_map)
    license_files = [release.rel(t.path) for t in license_texts if t.license_id in wanted] + [
        p.path for p in plans if p.action == "create" and p.reason.endswith(" text")
    ]
    plans.extend(
        _plan_card(
            release, lineage, declared, inherited_map, display_lines, notices, raw, license_files, source_credits
        )
    )

    # Licenses that changed over time: findings about a base's license say which period applied and the others.
    for i, f in enumerate(raw):
        notes = [
            n
            for b in lineage
            if (n := b.history_note()) and (f.license in b.licenses or f.base == b.name) and n not in f.message
        ]
        if notes:
            raw[i] = replace(f, message=f"{f.message} {' '.join(dict.fromkeys(notes))}")

    findings, ignored = [], []
    for f in sorted(raw, key=lambda f: (-SEVERITIES.index(f.severity), f.id, f.file or "", f.message)):
        (ignored if f.id in config.ignore else findings).append(f)
    plans.sort(key=lambda p: (p.path, p.action, p.reason))
    return AuditReport(release, lineage, declared, inherited, duties, findings, plans, config, ignored)


def _pair_stale(missing: list[str], stale: list[tuple[int, str]]) -> dict[str, tuple[int, str]]:
    """Missing notice -> the stale line that stands in its place: a version of it (same shape), else, when exactly
    one notice is missing and one line is stale, that line."""
    pairs: dict[str, tuple[int, str]] = {}
    left = list(stale)
    for n in missing:
        hit = next((s for s in left if kb.render.notice_shape(s[1]) == kb.render.notice_shape(n)), None)
        if hit:
            pairs[n] = hit
            left.remove(hit)
    rest = [n for n in missing if n not in pairs]
    if len(rest) == 1 and len(left) == 1:
        pairs[rest[0]] = left[0]
    return pairs


def _card_links_license(release: ReleaseInfo, lic: kb.License, declared_ids: list[str]) -> bool:
    """For licenses whose URI may stand in for the text: does the card name or link it? A card ``license:`` id is
    rendered by the Hub as a link to the license; ``license_link`` or the URI in the card body count too."""
    if lic.id in declared_ids and release.card_path is not None:
        return True
    if release.license_link:
        return True
    return bool(lic.url and lic.url.split("/legalcode")[0] in (release.body or ""))


def _via(via: tuple[str, ...]) -> str:
    return ", ".join("the declared license" if v == RELEASE_NODE else f"base {v}" for v in via)


def _should_disclose(b: BaseInfo) -> bool:
    """A base the card must name: shown by weights or metadata, or given with --base and not contradicted."""
    if b.disclosed:
        return False
    if b.evidence in ("weights", "metadata"):
        return True
    return b.path is not None and (b.comparison or {}).get("verdict") != "independent"


def _source_names(d: kb.Duty, lineage: list[BaseInfo]) -> list[str]:
    """Names whose display in the card credits the source of an attribute-source duty: the licensor's and its
    models' (from the duty), and every base that brings the license, by Hub id and by short name."""
    names = list(d.names)
    for b in lineage:
        if d.license in b.licenses and _base_credit_name(b) in d.via:
            for n in (b.hub_id, b.name):
                if n and not _is_local_path(n):
                    names += [n, n.rsplit("/", 1)[-1]]
    return list(dict.fromkeys(n for n in names if n.strip()))


def _refuse_outside(texts: list[LegalText]) -> None:
    """A base's NOTICE must be passed on, but it resolves outside the base folder: refuse to copy it."""
    from provenance import safeio
    from provenance.release import MAX_TEXT_BYTES

    for t in texts:
        safeio.read_confined(t.root or t.path.parent, t.path, MAX_TEXT_BYTES)  # raises InputError


def _copy_builder(src: Path, root: Path | None) -> Callable[[str | None], str]:
    """Copy a base's legal text; refused (InputError) when it resolves outside the base folder."""
    from provenance import safeio
    from provenance.release import MAX_TEXT_BYTES

    folder = root if root is not None else src.parent
    return lambda current: safeio.read_confined(folder, src, MAX_TEXT_BYTES).decode("utf-8", "replace")


def _plan_card(
    release: ReleaseInfo,
    lineage: list[BaseInfo],
    declared: list[dict[str, Any]],
    inherited: dict[str, tuple[str, ...]],
    display_lines: list[str],
    notices: list[str],
    findings: list[Finding],
    license_files: list[str] | None = None,
    source_credits: list[str] | None = None,
) -> list[PlannedWrite]:
    """README.md changes: card metadata (base_model, license) and the attribution section."""
    plans: list[PlannedWrite] = []
    card_rel = release.rel(release.card_path) if release.card_path else "README.md"
    ids = {f.id for f in findings}

    # base_model: every base established by weights or metadata that the card does not name, by its Hub id only
    # (never a heading, a local path or a folder name); a base without a known id is left out and said so.
    to_add = [b.hub_id for b in lineage if _should_disclose(b) and b.hub_id]
    for b in lineage:
        if _should_disclose(b) and not b.hub_id:
            plans.append(
                PlannedWrite(
                    card_rel,
                    "unavailable",
                    f"card metadata: base_model left out for base "
                    f"{_public_name(b)!r}: no Hub id (owner/name) is known for it (card "
                    "base_model, adapter_config.json, GGUF general.base_model.*, the known-model "
                    "table); add it by hand",
                )
            )
    if to_add:
        names = release.base_models + [n for n in to_add if n not in release.base_models]
        value: Any = names[0] if len(names) == 1 else names
        plans.append(
            PlannedWrite(
                card_rel,
                "update" if release.card_path else "create",
                "card metadata: base_model",
                None,
                f"base_model: {value}",
                lambda cur, v=value: set_front_matter_keys(_card_or_new(cur, release), {"base_model": v}),
            )
        )

    # license: the inherited license that must be kept (no relicensing), when none or a conflicting one is declared.
    keep = [lid for lid in inherited if lid in kb.BY_ID and kb.BY_ID[lid].relicense is kb.Relicense.NO]
    choice = keep[0] if len(keep) == 1 else (next(iter(inherited)) if len(inherited) == 1 else None)
    declared_rec = next((kb.BY_ID[d["license"]] for d in declared if d["license"]), None)
    if release.card_path is None and declared_rec and "license-conflict" not in ids:
        choice = declared_rec.id  # a new card carries the license the GGUF metadata or LICENSE text declares
    if choice and ("license-missing" in ids or "license-conflict" in ids or release.card_path is None):
        lic = kb.BY_ID[choice]
        keys: dict[str, Any] = {"license": lic.hf_license}
        if lic.hf_license == "other":
            keys.update({"license_name": lic.hf_license_name, "license_link": "LICENSE"})
        action = "overwrite" if "license-conflict" in ids else ("update" if release.card_path else "create")
        plans.append(
            PlannedWrite(
                card_rel,
                action,
                f"card metadata: license {lic.hf_license}"
                + (f" ({lic.hf_license_name})" if lic.hf_license_name else ""),
                None,
                ", ".join(f"{k}: {v}" for k, v in keys.items()),
                lambda cur, k=keys: set_front_matter_keys(_card_or_new(cur, release), k),
            )
        )

    if display_lines or source_credits:
        credits = [
            kb.BaseCredit(_public_name(b), b.licenses[0] if b.licenses else None, also=tuple(b.licenses[1:]))
            for b in lineage
        ]
        section = kb.render_attribution_section(
            release.model_name, credits, display_lines, notices, license_files, source_credits
        )
        plans.append(
            PlannedWrite(
                card_rel,
                "update" if release.card_path else "create",
                "README attribution section",
                None,
                section,
                lambda cur, s=section: kb.replace_or_append_section(_card_or_new(cur, release), s),
            )
        )
    return plans


def _card_or_new(current: str | None, release: ReleaseInfo) -> str:
    return current if current is not None else f"# {release.model_name}\n"


def apply_writes(report: AuditReport, force: bool = False) -> list[dict[str, str]]:
    """Carry out the planned writes. Returns one record per plan: written, or skipped with the reason.

    Two phases, so a refusal leaves the release untouched: first every target is checked (no symlink, inside the
    release — :mod:`provenance.safeio`), every new text is built (copies from a base are refused when they resolve
    outside the base folder) and every card is parsed back; then each changed file is written once, through a temp
    file and an atomic rename. Existing content is replaced only with ``force`` (or by an ``update`` that keeps it).
    """
    from provenance import safeio
    from provenance.cards import check_card_text
    from provenance.release import MAX_TEXT_BYTES

    done: list[dict[str, str]] = []
    root = report.release.path
    original: dict[str, str | None] = {}
    current: dict[str, str | None] = {}
    reasons: dict[str, list[str]] = {}
    for plan in report.files_to_write:
        if plan.action == "unavailable" or plan.build is None:
            done.append({"path": plan.path, "status": "skipped", "reason": plan.reason})
            continue
        if plan.needs_force and not force:
            done.append({"path": plan.path, "status": "skipped", "reason": "changes existing content; use --force"})
            continue
        if plan.path not in current:
            raw = safeio.read_existing(root, plan.path, MAX_TEXT_BYTES)
            original[plan.path] = current[plan.path] = None if raw is None else raw.decode("utf-8", "replace")
        if plan.action == "create" and original[plan.path] is not None and not force and plan.path not in reasons:
            done.append({"path": plan.path, "status": "skipped", "reason": "exists; use --force"})
            continue
        new = plan.build(current[plan.path])
        if new == current[plan.path]:
            continue
        current[plan.path] = new
        reasons.setdefault(plan.path, []).append(plan.reason)
    card = report.release.rel(report.release.card_path) if report.release.card_path else "README.md"
    for path, text in current.items():
        if text is not None and text != original[path] and path == card:
            check_card_text(text, root / path)  # never write a card the tool cannot read back
    for path, text in current.items():
        if text is None or text == original[path]:
            continue
        safeio.write_bytes(root, path, text.encode("utf-8"), overwrite=original[path] is not None)
        done.extend({"path": path, "status": "written", "reason": r} for r in reasons[path])
    return done
