"""tools/claims_record.py: a reproduction's claims as a docs record, rendered by the docs
hook with the provenance the reproduction recorded."""

import importlib.util
import json
from pathlib import Path

import pytest

from selfsup.experiments.claims import VERDICTS, Claim, all_of, compare, verdict
from tests.docs.test_site import docs_tables

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("claims_record", REPO / "tools" / "claims_record.py")
claims_record = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(claims_record)


def _results() -> tuple:
    base = {0: 0.80, 1: 0.82, 2: 0.81}
    win = compare("a", {0: 0.85, 1: 0.86, 2: 0.86}, base, above=-0.5, scale=100, unit="pts")
    tie = compare("b", {0: 0.79, 1: 0.84, 2: 0.80}, base, above=-0.5, scale=100, unit="pts")
    claim = all_of("a and b match the base", {"a": win, "b": tie}, regime="toy")
    meta = {
        "command": "selfsup reproduce toy --out /home/me/runs/toy",
        "git": {"commit": "0123456789abcdef", "dirty": False},
        "started": "2026-12-06T20:00:00+0000",
        "machine": {"processor": "x86_64", "cpus": 2, "platform": "Linux"},
    }
    return {"claims": [claim.to_dict()], "seeds": [0, 1, 2], "meta": meta}, claim, win, tie


def test_a_claim_becomes_a_row_with_each_parts_verdict(tmp_path):
    results, claim, win, tie = _results()
    (tmp_path / "results.json").write_text(json.dumps(results))
    out = tmp_path / "record.json"
    argv = [str(tmp_path / "results.json"), str(out), "--command", "selfsup reproduce toy"]
    assert claims_record.main(argv) == 0
    record = docs_tables.load_record(out)
    (row,) = record["table"]
    assert row["verdict"] == verdict(claim) and row["claim"] == "a and b match the base"
    # each part as the report prints it (the deciding one first), the claim's unit carried over
    assert row["parts"] == f"b: {verdict(tie)}; a: {verdict(win)}"
    assert win.verdict == "holds" and tie.verdict == "inconclusive"
    assert claim.verdict == "inconclusive"
    page = docs_tables.render(record)
    assert "`selfsup reproduce toy` · x86_64, 2 CPUs, Linux · commit `0123456` · 2026-12-06" in page
    assert f"| a and b match the base | {verdict(claim)} |" in page


def test_a_claim_of_many_parts_shows_the_tally_and_the_parts_that_do_not_hold():
    base = {0: 0.80, 1: 0.82, 2: 0.81}
    parts = {
        f"m{i}": compare(f"m{i}", {s: v + 0.05 for s, v in base.items()}, base, above=-0.5,
                         scale=100, unit="pts")
        for i in range(7)
    }  # fmt: skip
    odd = {0: 0.79, 1: 0.84, 2: 0.80}
    parts["odd"] = compare("odd", odd, base, above=-0.5, scale=100, unit="pts")
    claim = all_of("all match", parts)
    text = claims_record.part_verdicts(claim)
    (odd_part,) = [p for p in claim.parts if p["name"] == "odd"]
    assert odd_part["verdict"] == "inconclusive"
    assert text.startswith("8 parts: ") and "7 hold" in text and "1 inconclusive" in text
    assert text.endswith("; not holding: odd: inconclusive (+0 pts, 95 % CI [-4.3, +4.3], 3 seeds)")


#: committed records of re-run reproductions: (record, the results.json it was made from, --only)
DERIVED = [
    ("dynamics_quick_verdicts.json", "dynamics_quick.json", None),
    ("tuning_rankme_quick_claims.json", "rankme_quick.json", None),
    ("infomax_quick_verdicts.json", "infomax_quick.json", None),
    ("simvae_content_6400_verdicts.json", "simvae_content_6400.json", ["content"]),
    ("simvae_quick_shapes_verdicts.json", "simvae_quick_shapes.json", ["style (style_score)"]),
]


@pytest.mark.parametrize(("record", "results", "only"), DERIVED)
def test_committed_verdict_records_are_those_of_their_results(record, results, only):
    stated = json.loads((REPO / "benchmarks" / "results" / record).read_text())
    source = json.loads((REPO / "docs" / "data" / results).read_text())
    for claim in map(Claim.from_dict, source["claims"]):
        assert claim.verdict in VERDICTS and claim.seeds >= 3, claim.claim
        assert claim.effect is not None and (claim.interval is None) == claim.deterministic
    again = claims_record.claims_record(source, stated["command"], only, list(stated["columns"]))
    assert {k: v for k, v in again.items() if k != "note"} == {
        k: v for k, v in stated.items() if k != "note"
    }
