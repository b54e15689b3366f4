"""Contract 1: findings about card content carry file/line/column (1-based) pointing at the key or heading."""

from __future__ import annotations

import json
import subprocess
import sys


def test_card_findings_point_at_their_key_heading_or_fence(tmp_path):
    rel = tmp_path / "rel"
    rel.mkdir()
    (rel / "README.md").write_text("---\ntags:\n- x\nlicense: apache-2.0\n---\n\nIntro.\n\n# Llama 3 tiny\n")
    (rel / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "meta-llama/Meta-Llama-3-8B"}))
    proc = subprocess.run(
        [sys.executable, "-m", "provenance", "audit", rel, "--format", "json"], capture_output=True, text=True
    )
    assert proc.returncode == 1, proc.stderr
    found = {f["id"]: f for f in json.loads(proc.stdout)["findings"]}
    assert (
        found["license-conflict"]["file"],
        found["license-conflict"]["line"],
        found["license-conflict"]["column"],
    ) == ("README.md", 4, 1)
    assert found["undisclosed-base"]["line"] == 5  # no base_model key: the closing fence, where it would go
    assert found["attribution-missing"]["line"] == 9  # the first heading, after the intro paragraph
    for f in found.values():
        assert {"file", "line", "column"} <= set(f)
        if f["file"] != "README.md":
            assert f["line"] is None and f["column"] is None
