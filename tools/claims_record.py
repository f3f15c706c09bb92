"""Turn a reproduction's ``results.json`` into a docs record of its claims.

    python tools/claims_record.py RUNS/results.json benchmarks/results/NAME.json \
        --command "selfsup reproduce infomax --quick" [--only TEXT ...] [--columns NAME ...]

The record holds one row per claim (its verdict with effect, 95 % interval and seeds, and each
part's verdict where the claim is decided per method or per variant) and the provenance the
reproduction itself recorded (machine, commit, start date); ``--command`` replaces the command
line the run was started with when that names local paths. Pages show the record with a
``<!-- table: benchmarks/results/NAME.json -->`` marker (``tools/docs_tables.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from selfsup.experiments.claims import Claim, bound, fmt, verdict

COLUMNS = {
    "claim": "claim",
    "verdict": "verdict (effect, 95 % CI, seeds)",
    "parts": "per method or variant",
    "side": "claim's side",
    "ours": "ours (mean over seeds)",
    "regime": "regime",
}


#: a claim with more parts than this shows the count per verdict and the parts that do not hold
MAX_PARTS_SHOWN = 6


def part_verdicts(claim: Claim) -> str:
    """Each part's verdict in words, e.g. ``vicreg_logdet: holds (+7.3 pts, ...)``; for a
    claim of many parts, how many parts end in each verdict and the parts that do not hold."""
    parts = claim.parts or []
    if len(parts) > MAX_PARTS_SHOWN:
        counts = Counter(part.get("verdict", "?") for part in parts)  # in order of first use
        plural = {"holds": "hold"}  # "12 hold", "1 holds"
        tally = ", ".join(f"{n} {plural.get(w, w) if n > 1 else w}" for w, n in counts.items())
        rest = [p for p in parts if p.get("verdict") != "holds"]
        shown = _parts_in_words(claim, rest)
        return f"{len(parts)} parts: {tally}" + (f"; not holding: {shown}" if shown else "")
    return _parts_in_words(claim, parts)


def _parts_in_words(claim: Claim, parts: list[dict]) -> str:
    out = []
    for part in parts:
        shown = Claim(
            claim=str(part.get("name", "?")),
            verdict=part.get("verdict", ""),
            effect=part.get("effect"),
            interval=part.get("interval"),
            seeds=int(part.get("seeds") or 0),
            deterministic=bool(part.get("deterministic")),
            unit=claim.unit,
            leaning=part.get("leaning"),
        )
        out.append(f"{shown.claim}: {verdict(shown)}")
    return "; ".join(out)


def claims_record(
    results: dict,
    command: str | None = None,
    only: list[str] | None = None,
    columns: list[str] | None = None,
) -> dict:
    """The record of ``results``' claims (those whose text contains one of ``only``, if given),
    with the ``columns`` of :data:`COLUMNS` named (default: every one some claim fills)."""
    claims = [Claim.from_dict(c) for c in results.get("claims", [])]
    if only:
        claims = [c for c in claims if any(text in c.claim for text in only)]
    if not claims:
        raise SystemExit("no claim to record (check --only)")
    meta = results.get("meta") or {}
    rows = [
        {
            "claim": c.claim,
            "verdict": verdict(c),
            "parts": part_verdicts(c),
            "side": bound(c),
            "ours": fmt(c.ours),
            "regime": c.regime or "",
        }
        for c in claims
    ]
    machine = {k: v for k, v in (meta.get("machine") or {}).items() if k != "hostname"}
    return {
        "command": command or meta.get("command", ""),
        "git": meta.get("git"),
        "started": meta.get("started"),
        "machine": machine,
        "seeds": results.get("seeds"),
        # a column no claim fills (no claim of several parts) is left out
        "columns": {
            k: v
            for k, v in COLUMNS.items()
            if any(row[k] for row in rows) and (columns is None or k in columns)
        },
        "table": rows,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a reproduction's results.json")
    parser.add_argument("out", type=Path, help="the record to write")
    parser.add_argument("--command", help="the command to show (default: the one recorded)")
    parser.add_argument("--only", nargs="+", help="keep the claims whose text contains one")
    parser.add_argument("--note", help="a line shown under the table")
    parser.add_argument(
        "--columns", nargs="+", choices=list(COLUMNS), help="the columns shown (default: all)"
    )
    args = parser.parse_args(argv)
    results = json.loads(args.results.read_text())
    record = claims_record(results, args.command, args.only, args.columns)
    if args.note:
        record["note"] = args.note
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}: {len(record['table'])} claims")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
