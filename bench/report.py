"""A benchmark's figure, the table `make bench` prints and the JSON file it writes."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Result:
    id: str
    what: str
    unit: str
    value: float | None
    baseline: float | None
    ratio: float | None
    target: str
    passed: bool
    details: dict = field(default_factory=dict)


def failed(id: str, what: str, error: str) -> Result:
    return Result(id, what, "", None, None, None, "ran", False, {"error": error})


def missing(id: str, what: str, target: str, reason: str) -> Result:
    """A figure that cannot be made because what it measures is not there (yet): a failed row
    that says why, not an error that stops the run's exit status from meaning anything."""
    return Result(id, what, "", None, None, None, target, False, {"missing": reason})


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:,.3f}" if abs(x) < 10 else f"{x:,.1f}"


def table(results: list[Result], *, max_drift: float) -> str:
    """One row per figure; a verdict marked * ran while the machine's load moved more than
    max_drift (its calibrations disagree), so it says less than it seems to."""
    rows = [("id", "what", "value", "baseline", "ratio", "target", "result")]
    for r in results:
        value = f"{_fmt(r.value)} {r.unit}".strip()
        baseline = f"{_fmt(r.baseline)} {r.unit}".strip() if r.baseline is not None else "-"
        verdict = "pass" if r.passed else ("ERROR" if "error" in r.details else "FAIL")
        if "missing" in r.details:
            verdict += f": {r.details['missing']}"
        if r.details.get("calibration_s", {}).get("drift", 0) > max_drift:
            verdict += "*"
        rows.append((r.id, r.what, value, baseline, _fmt(r.ratio), r.target, verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    if any(row[-1].endswith("*") for row in rows):
        lines.append(f"* the CPU calibrations around it differ by more than {max_drift:.0%}: "
                     "the machine's load changed while it ran")
    return "\n".join(lines)


def markdown(path: Path, *, max_drift: float) -> str:
    """A results file's table as Markdown, for docs/PERFORMANCE.md."""
    data = json.loads(path.read_text())
    results = [Result(r["id"], r["what"], r["unit"], r["value"], r["baseline"], r["ratio"], r["target"],
                      r["pass"], r["details"]) for r in data["results"]]
    lines = table(results, max_drift=max_drift).splitlines()
    rows = [line for line in lines if " | " in line and not line.startswith("---")]
    out = ["| " + row + " |" for row in rows]
    out.insert(1, "|" + "---|" * (rows[0].count(" | ") + 1))
    notes = [line for line in lines if line.startswith("*")]
    out += ["", *notes] if notes else []
    return "\n".join(out)


def write(path: Path, *, machine: dict, results: list[Result]) -> None:
    rows = []
    for r in results:
        row = asdict(r)
        # The agreed shape first: id, unit, value, baseline, ratio; the rest explains it.
        rows.append({k: row[k] for k in ("id", "unit", "value", "baseline", "ratio")}
                    | {"what": r.what, "target": r.target, "pass": r.passed, "details": r.details})
    path.write_text(json.dumps({"machine": machine, "results": rows}, indent=2) + "\n")
