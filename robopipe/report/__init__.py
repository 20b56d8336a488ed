"""One-page, self-contained HTML dataset report (summary, findings, plots, camera thumbnails)."""

from robopipe.report.html import build_report

__all__ = ["build_report"]
