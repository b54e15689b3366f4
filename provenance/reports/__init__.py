"""Report formatters for the audit: one function per output format, chosen through :class:`ReportFormat`.

Each formatter takes an :class:`provenance.audit.AuditReport` and returns the whole report as a string (stdout
carries nothing else). Output is deterministic: sorted keys and lists, no timestamps.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

from provenance.reports.jsonout import dumps

if TYPE_CHECKING:
    from provenance.audit import AuditReport

# The project's own home (a placeholder until the repository is published; never the unrelated PyPI project
# called "provenance"). SARIF, CycloneDX and the HTML pages link here.
DISTRIBUTION = "llm-provenance"
PROJECT_URL = "https://github.com/your-org/llm-provenance"
FINDINGS_DOC_URL = f"{PROJECT_URL}/blob/main/docs/ecosystem.md"


def rule_help_uri(rule_id: str) -> str:
    """The documentation anchor of one finding id (docs/ecosystem.md has a heading per id)."""
    return f"{FINDINGS_DOC_URL}#{rule_id}"


class ReportFormat(str, enum.Enum):
    text = "text"
    json = "json"
    markdown = "markdown"
    sarif = "sarif"
    cyclonedx = "cyclonedx"
    html = "html"
    github = "github"


def _json(report: AuditReport) -> str:
    return dumps(report.to_dict())


def _lazy(module: str) -> Callable[[AuditReport], str]:
    def render(report: AuditReport) -> str:
        import importlib

        return importlib.import_module(f"provenance.reports.{module}").render(report)

    render.__name__ = f"render_{module}"
    return render


FORMATTERS: dict[ReportFormat, Callable[[AuditReport], str]] = {
    ReportFormat.text: _lazy("text"),
    ReportFormat.json: _json,
    ReportFormat.markdown: _lazy("markdown"),
    ReportFormat.sarif: _lazy("sarif"),
    ReportFormat.cyclonedx: _lazy("cyclonedx"),
    ReportFormat.html: _lazy("html"),
    ReportFormat.github: _lazy("github"),
}


def render(report: AuditReport, fmt: ReportFormat) -> str:
    return FORMATTERS[fmt](report)
