"""``robopipe info`` and ``robopipe repair``: look at a dataset, recover an interrupted write."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from cyclopts import App, Parameter


def info(root: str, /, *, as_json: Annotated[bool, Parameter(name="--json")] = False) -> int:
    """Show a dataset at a glance: version, robot, fps, totals, features, cameras, tasks, episode lengths, files.

    Works for any LeRobotDataset v3.0, including datasets LeRobot wrote.

    Parameters
    ----------
    root
        Dataset folder (the one holding ``meta/info.json``), or ``ORG/NAME`` under ``$HF_LEROBOT_HOME``,
        or its URL (``s3://…``, ``hf://…``, ``file://…``): only ``meta/`` and a file listing are read.
    as_json
        Print one JSON object (LeRobot's ``info.json`` key names for the totals).
    """
    from robopipe.format.describe import describe
    from robopipe.format.home import resolve_dataset_root
    from robopipe.format.reader import DatasetReader
    from robopipe.storage import is_url

    with DatasetReader(root if is_url(root) else resolve_dataset_root(root)) as reader:
        d = describe(reader)
    if as_json:
        print(json.dumps(d.model_dump(mode="json"), indent=2))
        return 0
    print(f"{d.root}  (LeRobotDataset {d.codebase_version}, robot: {d.robot_type or '-'}, {d.fps} fps)")
    el = d.episode_length
    print(
        f"  episodes {d.total_episodes}   frames {d.total_frames}   tasks {d.total_tasks}   "
        f"episode length min/mean/max {el.min}/{el.mean:.1f}/{el.max} frames"
        f" ({el.mean / d.fps:.1f} s mean)"
    )
    print("  features:")
    width = max((len(k) for k in d.features), default=10)
    for k, f in d.features.items():
        names = f.names
        shown = "" if names is None else f"  {names if len(str(names)) < 70 else str(names)[:67] + '...'}"
        print(f"    {k:<{width}}  {f.dtype:<8} {f.shape}{shown}")
    if d.cameras:
        print("  cameras:")
        for c in d.cameras:
            print(
                f"    {c.key:<{width}}  {c.width}x{c.height}  {c.dtype}  codec {c.codec}  {c.pix_fmt or ''}"
            )
            extra = [f"{k}={v}" for k, v in c.encoder.items()]
            if c.depth:
                extra.insert(0, "depth " + " ".join(f"{k}={v}" for k, v in c.depth.items()))
            if extra:
                print(f"    {'':<{width}}  {'  '.join(extra)}")
    if d.language or d.tools:
        print(f"  language columns: {', '.join(d.language) or '-'}   tools: {', '.join(d.tools) or '-'}")
    if d.tasks:
        print(f"  tasks ({len(d.tasks)}):")
        for i, t in enumerate(d.tasks[:10]):
            print(f"    [{i}] {t}")
        if len(d.tasks) > 10:
            print(f"    ... {len(d.tasks) - 10} more")
    f = d.files
    print(
        f"  files: {f.data} data, {f.videos} video, {f.episodes_metadata} episodes-metadata; "
        f"{d.size_bytes / 1e6:.1f} MB"
    )
    return 0
    print(
        f"{d['root']}  (LeRobotDataset {d['codebase_version']}, robot: {d['robot_type'] or '-'}, {d['fps']} fps)"
    )
    el = d["episode_length"]
    print(
        f"  episodes {d['total_episodes']}   frames {d['total_frames']}   tasks {d['total_tasks']}   "
        f"episode length min/mean/max {el['min']}/{el['mean']:.1f}/{el['max']} frames"
        f" ({el['mean'] / d['fps']:.1f} s mean)"
    )
    print("  features:")
    width = max((len(k) for k in d["features"]), default=10)
    for k, f in d["features"].items():
        names = f["names"]
        shown = "" if names is None else f"  {names if len(str(names)) < 70 else str(names)[:67] + '...'}"
        print(f"    {k:<{width}}  {f['dtype']:<8} {f['shape']}{shown}")
    if d["cameras"]:
        print("  cameras:")
        for c in d["cameras"]:
            print(
                f"    {c['key']:<{width}}  {c['width']}x{c['height']}  {c['dtype']}  codec {c['codec']}  {c['pix_fmt'] or ''}"
            )
            extra = [f"{k}={v}" for k, v in c["encoder"].items()]
            if c["depth"]:
                extra.insert(0, "depth " + " ".join(f"{k}={v}" for k, v in c["depth"].items()))
            if extra:
                print(f"    {'':<{width}}  {'  '.join(extra)}")
    if d["language"] or d["tools"]:
        print(
            f"  language columns: {', '.join(d['language']) or '-'}   tools: {', '.join(d['tools']) or '-'}"
        )
    if d["tasks"]:
        print(f"  tasks ({len(d['tasks'])}):")
        for i, t in enumerate(d["tasks"][:10]):
            print(f"    [{i}] {t}")
        if len(d["tasks"]) > 10:
            print(f"    ... {len(d['tasks']) - 10} more")
    f = d["files"]
    print(
        f"  files: {f['data']} data, {f['videos']} video, {f['episodes_metadata']} episodes-metadata; "
        f"{d['size_bytes'] / 1e6:.1f} MB"
    )
    return 0


def repair(root: Path, /) -> int:
    """Recover a dataset whose writer was interrupted (exception, Ctrl-C, kill -9).

    Every episode that was saved before the interruption is added back; temporary files are removed, and
    so are the stage folders of interrupted edits of ROOT (an in-place edit killed mid-swap is undone).
    Running it on a healthy dataset changes nothing. Refused while another writer is using ROOT.

    Parameters
    ----------
    root
        Dataset folder, or ``ORG/NAME`` under ``$HF_LEROBOT_HOME``.
    """
    from robopipe.edit.leftovers import sweep
    from robopipe.format.atomic import disk_full_reported
    from robopipe.format.home import resolve_dataset_root
    from robopipe.format.lock import writer_lock
    from robopipe.format.writer import DatasetWriter

    root = resolve_dataset_root(root)
    with disk_full_reported(
        root, f"{root} as it was, staged episodes still staged", "free space and repair again"
    ):
        with writer_lock(root):
            sweep(root)
        w = DatasetWriter.open(root)
        w.finalize()
    print(f"{root}: {w.info.total_episodes} episodes, {w.info.total_frames} frames")
    return 0


def register(app: App) -> None:
    app.command(info)
    app.command(repair)
