"""Quality benchmark: cost of `robopipe quality` next to `robopipe stats`, and defect detection next to a
peer tool (lerobot-doctor from PyPI, when installed).

Cost (same datasets as bench/stats.py): a numeric dataset (default 1M frames) and a video dataset;
``robopipe stats --workers 0`` alone vs ``robopipe quality`` (every frame of every mp4 decoded once; the
numeric signals on every row) vs ``robopipe stats --quality`` (both in one pass: each mp4 decoded once for
the two), all in-process and serial; prints the ratios (target: quality within 1.5x of stats).
Detection: the synthetic defect dataset of tests/fixtures/defects.py (frozen camera, idle stretch, spike,
duplicated episode, black camera at known frames): which defects each tool finds, with the episode and
the frame range, and which clean episodes it flags. False positives on clean simulator recordings
(``robopipe record --robot sim-so101 ...``) are measured with ``--clean ROOT`` (repeatable).

Run small:  .venv/bin/python bench/quality.py --frames 100000 --video-episodes 4
Full:       .venv/bin/python bench/quality.py --clean /tmp/simclean
Peer tool:  python3 -m venv ~/.cache/lerobot-doctor && ~/.cache/lerobot-doctor/bin/pip install lerobot-doctor==0.2.0
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_DOCTOR = str(Path.home() / ".cache/lerobot-doctor/bin/lerobot-doctor")


def best_of(repeat: int, fn: Any) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def doctor(exe: str | None, root: Path) -> tuple[float, dict[str, Any]] | None:
    if not exe:
        return None
    t0 = time.perf_counter()
    proc = subprocess.run([exe, "check", str(root), "--json"], capture_output=True, text=True, timeout=3600)
    secs = time.perf_counter() - t0
    try:
        return secs, json.loads(proc.stdout)
    except ValueError:
        print(f"  lerobot-doctor failed ({proc.returncode}): {proc.stderr[-300:]}")
        return None


def doctor_flags(report: dict[str, Any]) -> dict[int, list[str]]:
    """Episodes named in lerobot-doctor's WARN/FAIL messages (it gives no frame ranges)."""
    out: dict[int, list[str]] = {}
    for check in report.get("checks", []):
        if check["name"] == "Per-Episode Summary":
            continue
        for m in check.get("messages", []):
            if m["severity"] == "PASS":
                continue
            text = m["message"]
            eps = {int(x) for x in re.findall(r"[Ee]pisodes? (\d+)", text)}
            for _a, b in re.findall(r"\((\d+), (\d+)\)", text):
                eps.add(int(b))  # the later one of a duplicate pair
            for e in eps:
                out.setdefault(e, []).append(text)
    return out


def cost(args: argparse.Namespace, doctor_exe: str | None) -> None:
    from bench.stats import build_numeric, build_video
    from robopipe.quality import compute_quality
    from robopipe.quality.single_pass import stats_with_quality
    from robopipe.stats.recompute import StatsRequest, recompute_stats

    h, w = (int(x) for x in args.video_size.split("x"))
    sets = [
        (
            f"numeric {args.frames:,} frames, 2x{args.dims} dims",
            build_numeric(
                args.workdir / "numeric", args.frames, args.episode_length, args.dims, args.data_file_mb
            ),
            args.frames,
        )
    ]
    if args.video_episodes:
        sets.append(
            (
                f"video {args.video_episodes}x{args.video_frames} frames {w}x{h} {args.codec}",
                build_video(args.workdir / "video", args.video_episodes, args.video_frames, h, w, args.codec),
                args.video_episodes * args.video_frames,
            )
        )
    tot_s = tot_q = tot_b = 0.0
    print(
        f"  {'dataset':<44} {'stats':>8} {'quality':>8} {'ratio':>6} {'stats --quality':>16} {'ratio':>6}"
        f" {'lerobot-doctor':>15}"
    )
    for name, root, frames in sets:
        s, _ = best_of(args.repeat, lambda r=root: recompute_stats(StatsRequest(root=r)))
        q, rep = best_of(args.repeat, lambda r=root: compute_quality(r))
        b, _ = best_of(args.repeat, lambda r=root: stats_with_quality(StatsRequest(root=r)))
        d = doctor(doctor_exe, root)
        tot_s, tot_q, tot_b = tot_s + s, tot_q + q, tot_b + b
        dcol = f"{d[0]:.2f} s" if d else "not installed"
        print(f"  {name:<44} {s:7.2f}s {q:7.2f}s {q / s:5.2f}x {b:15.2f}s {b / s:5.2f}x {dcol:>15}")
        print(
            f"  {'':<44} quality: {frames / q:,.0f} frames/s, {len(rep.suspects)} suspects of {rep.episodes}"
        )
    print(
        f"  {'total':<44} {tot_s:7.2f}s {tot_q:7.2f}s {tot_q / tot_s:5.2f}x {tot_b:15.2f}s {tot_b / tot_s:5.2f}x"
        "   (target: quality <= 1.50x stats)"
    )


def detection(args: argparse.Namespace, doctor_exe: str | None) -> None:
    from robopipe.quality import compute_quality
    from robopipe.quality.store import read_episodes
    from tests.fixtures.defects import CLEAN, DEFECTS, make_defect_dataset

    root = args.workdir / "defects"
    shutil.rmtree(root, ignore_errors=True)
    make_defect_dataset(root)
    compute_quality(root)
    ours = {q.episode_index: q for q in read_episodes(root)}
    d = doctor(doctor_exe, root)
    theirs = doctor_flags(d[1]) if d else None
    print(f"  {'defect (episode, frames)':<36} {'robopipe quality':<28} lerobot-doctor")
    for ep, (kind, a, b) in sorted(DEFECTS.items()):
        hit = [f for f in ours[ep].findings if f.kind == kind]
        mine = (
            "missed"
            if not hit
            else "found" + ("" if hit[0].start is None else f", frames {hit[0].start}-{hit[0].end}")
        )
        peer = "n/a" if theirs is None else ("episode flagged" if ep in theirs else "missed")
        print(f"  {f'{kind} (ep {ep}, {a}-{b})':<36} {mine:<28} {peer}")
    fp_ours = [e for e in CLEAN if any(f.level != "info" for f in ours[e].findings)]
    fp_peer = None if theirs is None else [e for e in CLEAN if e in theirs]
    wrong = None if theirs is None else sorted(e for e in theirs if e not in DEFECTS)
    print(f"  clean episodes {list(CLEAN)} flagged: robopipe {fp_ours}, lerobot-doctor {fp_peer}")
    if wrong:
        print(f"  lerobot-doctor also names episodes without an injected defect: {wrong}")


def clean_rate(roots: list[Path]) -> None:
    """Flags on simulator recordings. An episode counts as clean ground truth when the recorder's own
    timing columns say nothing went wrong (late and duplicated camera frames <= 1 %); flags on the
    others are checked against those columns (on a loaded machine the recorder really repeats frames)."""
    from robopipe.quality import compute_quality
    from robopipe.quality.recipe import _episode_meta

    fp = clean = confirmed = rough = total = content_fp = 0
    for r in roots:
        work = Path(tempfile.mkdtemp()) / r.name
        shutil.copytree(r, work)  # quality writes meta/robopipe/quality; leave the recording as it is
        rep = compute_quality(work)
        meta = _episode_meta(work)
        flagged = {q.episode_index: [f.kind for f in q.findings if f.level != "info"] for q in rep.suspects}
        for e, m in meta.items():
            n = max(1, int(m["length"]))
            total += 1
            kinds = set(flagged.get(e, []))
            # content detectors: anything but the recorder's own late count, and duplicated camera
            # frames only when the recorder counted none (it sees repeated camera sequence numbers)
            content = kinds - {"late_frames", "duplicate_frames"}
            if "duplicate_frames" in kinds and not (m.get("timing/duplicated_frames") or 0):
                content.add("duplicate_frames")
            content_fp += bool(content)
            bad_timing = (m.get("timing/late_frames") or 0) > 0.01 * n or (
                m.get("timing/duplicated_frames") or 0
            ) > 0.01 * n
            if bad_timing:
                rough += 1
                confirmed += e in flagged
            else:
                clean += 1
                fp += e in flagged
        print(f"  {r}: {rep.episodes} episodes, flagged {sorted(flagged.items())[:8]}")
        shutil.rmtree(work.parent)
    if clean:
        print(f"  false positives on clean episodes (recorder timing clean): {fp}/{clean} = {fp / clean:.1%}")
    if total:
        print(
            f"  content findings not explained by the recorder's own timing columns: {content_fp}/{total} "
            f"episodes = {content_fp / total:.1%}"
        )
    if rough:
        print(
            f"  episodes the recorder itself reports late/repeated frames on: {rough}, flagged by quality: {confirmed}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=1_000_000, help="frames of the numeric dataset")
    ap.add_argument("--episode-length", type=int, default=500)
    ap.add_argument("--dims", type=int, default=14)
    ap.add_argument("--data-file-mb", type=float, default=20.0)
    ap.add_argument("--video-episodes", type=int, default=20, help="episodes of the video dataset (0: skip)")
    ap.add_argument("--video-frames", type=int, default=300)
    ap.add_argument("--video-size", default="240x320", help="HxW")
    ap.add_argument("--codec", default="libsvtav1")
    ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; the best is reported")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "robopipe-bench-quality")
    ap.add_argument("--doctor", default=os.environ.get("LEROBOT_DOCTOR", DEFAULT_DOCTOR))
    ap.add_argument(
        "--clean", type=Path, action="append", default=[], help="clean recording(s) for the FP rate"
    )
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    exe = args.doctor if args.doctor and Path(args.doctor).is_file() else shutil.which("lerobot-doctor")
    print(f"peer tool: {exe or 'lerobot-doctor not installed (see the docstring); peer columns skipped'}")
    print("== cost: robopipe stats alone vs robopipe quality (in-process, serial)")
    cost(args, exe)
    print("== detection on injected defects")
    detection(args, exe)
    if args.clean:
        print("== clean recordings")
        clean_rate(args.clean)


if __name__ == "__main__":
    main()
