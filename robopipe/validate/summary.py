"""Human-readable text summary of a :class:`ValidationReport` (core layer).

Grouped by rule (errors first), with the number of findings and the first few examples, so a person
sees at once what is wrong, where, and how to fix it. ``--json`` prints the full report instead.
"""

from __future__ import annotations

from collections import defaultdict

from robopipe.validate.findings import RULES, Finding, Severity, ValidationReport

_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def format_summary(report: ValidationReport, examples: int = 3) -> str:
    """Multi-line summary: header, one block per rule, totals and the verdict."""
    d = report.dataset
    lines = [
        f"{report.root}: LeRobotDataset {d.codebase_version or '?'}, {d.total_episodes} episodes, "
        f"{d.total_frames} frames, {d.fps} fps, {len(d.video_keys)} camera(s), {d.data_files} data file(s)",
        f"checked {report.frames_checked} data rows, {report.video_frames_checked} video frames "
        f"({', '.join(report.rules_run)}) in {report.duration_s:.1f}s",
    ]
    if report.gx is not None:
        g = report.gx
        lines.append(
            f"great expectations: {len(g.suites)} suite(s) on {g.files} file(s) via {g.runner}: "
            f"{g.evaluated} evaluations, {g.failed} failed"
            + (f"; data docs: {g.data_docs}" if g.data_docs else "")
        )
    groups: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for f in report.findings:
        groups[(f.code, f.rule)].append(f)
    for (code, rule), items in sorted(
        groups.items(), key=lambda kv: (min(_ORDER[f.severity] for f in kv[1]), kv[0][0])
    ):
        sev = min((f.severity for f in items), key=lambda s: _ORDER[s])
        extra = report.suppressed.get(code, 0)
        n = len(items) + extra
        lines.append("")
        lines.append(f"{sev.value.upper():<7} {code} {rule}: {n} finding(s)")
        for f in items[:examples]:
            detail = []
            if f.expected is not None:
                detail.append(f"expected {f.expected}")
            if f.actual is not None:
                detail.append(f"got {f.actual}")
            if f.count > 1:
                detail.append(f"{f.count} items")
            lines.append(f"  - {f.where()}: {f.message}" + (f" ({'; '.join(detail)})" if detail else ""))
        if n > examples:
            lines.append(f"  ... {n - examples} more")
        fix = items[0].fix or (RULES[code].fix if code in RULES else None)
        if fix:
            lines.append(f"  fix: {fix}")
    c = report.counts
    verdict = "VALID" if report.valid else "INVALID"
    lines.append("")
    lines.append(f"{c['error']} error(s), {c['warning']} warning(s), {c['info']} info -> {verdict}")
    return "\n".join(lines)
