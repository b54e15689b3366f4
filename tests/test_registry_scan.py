"""Registry additions for `scan`: export/import round trip, schema migration of an older registry, identify through
the screening index."""

from __future__ import annotations

import base64
import json
import sqlite3

import pytest
from test_scan import run, tiny_cfg

from provenance.examples import llama_state_dict, write_hf_dir
from provenance.registry import SCHEMA, Registry


@pytest.fixture(scope="module")
def reg(tmp_path_factory, stories260k):
    d = tmp_path_factory.mktemp("regscan")
    cfg = tiny_cfg()
    write_hf_dir(d / "indep", llama_state_dict(cfg, 5), cfg.hf_config())
    r = Registry(d / "reg")
    r.add("stories260k", stories260k)
    r.add("indep", d / "indep")
    return r


def test_export_import_round_trip(reg, capsys, tmp_path):
    out = tmp_path / "bases.jsonl"
    code, stdout, err = run(["registry", "export", out, "--registry", reg.directory], capsys)
    assert code == 0 and stdout == "" and "exported 2 models" in err
    lines = out.read_text().splitlines()
    assert json.loads(lines[0]) == {"format": "provenance-registry-export", "version": 1, "models": 2}
    dest = tmp_path / "team"
    code, _, err = run(["registry", "import", out, "--registry", dest], capsys)
    assert code == 0 and "imported 2 models" in err
    assert Registry(dest).list() == reg.list()
    for name in ("stories260k", "indep"):
        assert Registry(dest).fingerprint(name).to_bytes() == reg.fingerprint(name).to_bytes()
    again = tmp_path / "again.jsonl"
    Registry(dest).export(again)
    assert again.read_bytes() == out.read_bytes()  # deterministic file
    code, _, err = run(["registry", "import", out, "--registry", dest], capsys)
    err = " ".join(err.split())  # rich wraps long lines on stderr
    assert code == 0 and "imported 0 models" in err and "2 existing names kept" in err
    code, _, err = run(["registry", "import", out, "--registry", dest, "--replace"], capsys)
    assert code == 0 and "imported 2 models" in err


def test_import_refuses_a_tampered_or_foreign_file_and_writes_nothing(reg, capsys, tmp_path):
    out = tmp_path / "bases.jsonl"
    reg.export(out)
    head, first, second = out.read_text().splitlines()
    e = json.loads(second)
    blob = bytearray(base64.b64decode(e["fingerprint"]))
    blob[-1] ^= 1
    e["fingerprint"] = base64.b64encode(bytes(blob)).decode()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([head, first, json.dumps(e)]) + "\n")
    dest = tmp_path / "dest"
    code, out_, err = run(["registry", "import", bad, "--registry", dest], capsys)
    assert code == 2 and out_ == "" and err.count("\n") == 1 and "does not match its digest" in err
    assert Registry(dest).list() == []
    foreign = tmp_path / "config.json"
    foreign.write_text('{\n "a": 1\n}\n')
    code, _, err = run(["registry", "import", foreign, "--registry", dest], capsys)
    assert code == 2 and "not a registry export" in err and err.count("\n") == 1
    newer = tmp_path / "newer.jsonl"
    newer.write_text(json.dumps({"format": "provenance-registry-export", "version": 99, "models": 0}) + "\n")
    code, _, err = run(["registry", "import", newer, "--registry", dest], capsys)
    assert code == 2 and "newer than this tool" in err


def test_an_older_registry_is_migrated_in_place(reg, capsys, tmp_path):
    """A registry written before `scan` (only the models table, user_version 0) keeps its rows and gains the new
    tables the first time it is opened."""
    old = tmp_path / "old"
    old.mkdir()
    with sqlite3.connect(reg.db_path) as src:
        rows = src.execute("SELECT * FROM models ORDER BY name").fetchall()
    con = sqlite3.connect(old / "registry.sqlite")
    con.execute(SCHEMA)
    con.executemany("INSERT INTO models VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()
    code, out, _ = run(["registry", "list", "--registry", old, "--format", "json"], capsys)
    assert code == 0 and [m["name"] for m in json.loads(out)["models"]] == ["indep", "stories260k"]
    con = sqlite3.connect(old / "registry.sqlite")
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"models", "fingerprint_cache", "file_cache", "scan_done", "model_screens", "compare_cache"} <= tables
    assert con.execute("PRAGMA user_version").fetchone()[0] == 2
    assert con.execute("SELECT * FROM models ORDER BY name").fetchall() == rows
    con.close()


def test_identify_uses_the_screening_index(reg, capsys, stories260k):
    code, out, err = run(
        ["identify", stories260k, "--registry", reg.directory, "--format", "json", "--fingerprint-only"], capsys
    )
    assert code == 0, err
    res = json.loads(out)
    assert res["screened"] == 2 and res["compared"] == 2
    assert res["candidates"][0]["name"] == "stories260k" and res["candidates"][0]["verdict"] == "derived"
    # screening vectors are stored once per fingerprint
    with sqlite3.connect(reg.db_path) as con:
        assert con.execute("SELECT count(*) FROM model_screens").fetchone()[0] == 2


def test_full_comparisons_budget():
    from provenance.registry import FULL_COMPARE_ALL, full_comparisons

    assert full_comparisons(5, 3) == 5
    assert full_comparisons(FULL_COMPARE_ALL, 3) == FULL_COMPARE_ALL
    assert full_comparisons(1000, 3) == FULL_COMPARE_ALL
    assert full_comparisons(1000, 50) == 200
