"""The text table of ``robopipe quality`` (core layer)."""

from __future__ import annotations

from robopipe.quality.models import EpisodeQuality, Finding, QualityReport


def where(f: Finding) -> str:
    if f.start is None:
        return ""
    return f" [frames {f.start}-{f.end}]" if f.end is not None and f.end != f.start else f" [frame {f.start}]"


def reasons(q: EpisodeQuality, limit: int = 4) -> str:
    shown = [f"{f.kind}{where(f)}" for f in q.findings if f.level != "info"][:limit]
    more = sum(f.level != "info" for f in q.findings) - len(shown)
    return ", ".join(shown) + (f", +{more} more" if more > 0 else "")


def format_quality(report: QualityReport, limit: int = 50, verbose: bool = False) -> str:
    """Ranked suspects (worst first), their reasons with frame ranges, and the overall score."""
    lines = [
        f"{report.root}: quality score {report.score:.1f}/100 over {report.episodes} episodes "
        f"({report.frames} frames) in {report.seconds:.2f}s",
        "episodes: "
        + ", ".join(f"{report.counts.get(k, 0)} {k}" for k in ("error", "warning", "info", "clean")),
    ]
    if not report.suspects:
        lines.append("no suspect episodes")
        return "\n".join(lines)
    lines.append(f"{'rank':>4}  {'episode':>7}  {'score':>5}  {'level':<7}  reasons")
    for rank, q in enumerate(report.suspects[:limit], 1):
        lines.append(f"{rank:>4}  {q.episode_index:>7}  {q.score:>5.2f}  {q.level or '':<7}  {reasons(q)}")
        if verbose:
            lines.extend(f"{'':>30}- {f.level}: {f.message}{where(f)}" for f in q.findings)
    if len(report.suspects) > limit:
        lines.append(f"... {len(report.suspects) - limit} more suspect episode(s) (use --json for all)")
    return "\n".join(lines)
