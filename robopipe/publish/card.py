"""The dataset card (``README.md``) of a published dataset (core layer).

Built from ``meta/info.json``, ``meta/stats.json``, ``meta/tasks.parquet`` and the episodes parquet files directly
(no reader needed), so it works on any v3.0 root. The YAML header is what the Hub indexes: the ``LeRobot`` tag,
``task_categories: [robotics]`` and a ``configs`` entry pointing the dataset viewer at ``data/*/*.parquet`` (the
same keys as LeRobot's ``push_to_hub`` card). The output is deterministic, so re-publishing unchanged data makes no
new commit.
"""

from __future__ import annotations

import html
import json
import math
import re
import shlex
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from robopipe.errors import CorruptFileError
from robopipe.format import layout
from robopipe.format.features import DEFAULT_FEATURES
from robopipe.format.info import load_info

_MAX_VALUES = 6


def _episode_columns(root: Path) -> dict[str, list[Any]]:
    wanted = ("episode_index", "length", "success", "tasks")
    out: dict[str, list[Any]] = {k: [] for k in wanted}
    for path in layout.sorted_files(root, layout.EPISODES_DIR, ".parquet"):
        try:
            names = set(pq.read_schema(path).names)
            table = pq.read_table(path, columns=[c for c in wanted if c in names])
        except Exception as exc:  # pyarrow raises several types for a truncated/corrupt file
            raise CorruptFileError(f"{path}: unreadable episodes parquet: {exc}") from exc
        for col in wanted:
            if col in table.column_names:
                out[col].extend(table.column(col).to_pylist())
            elif col == "success" and out["success"]:
                out["success"].extend([None] * table.num_rows)
    return out


def _tasks(root: Path, episodes_tasks: list[Any]) -> list[str]:
    path = root / layout.TASKS_PATH
    if path.is_file():
        try:
            df = pq.read_table(path).to_pandas()
        except Exception as exc:
            raise CorruptFileError(f"{path}: unreadable tasks parquet: {exc}") from exc
        if "task" in df.columns:
            return [str(t) for t in df.sort_values("task_index")["task"]]
        return [str(t) for t in df.sort_values("task_index").index]
    seen: dict[str, None] = {}
    for tasks in episodes_tasks:
        for t in tasks or []:
            seen.setdefault(str(t), None)
    return list(seen)


def _fmt_num(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return str(x)
        return f"{x:.4g}"
    return str(x)


def _fmt_values(v: Any) -> str:
    flat: list[Any] = []

    def walk(x: Any) -> None:
        if isinstance(x, list):
            for y in x:
                walk(y)
        else:
            flat.append(x)

    walk(v)
    shown = ", ".join(_fmt_num(x) for x in flat[:_MAX_VALUES])
    more = f", … ({len(flat)} values)" if len(flat) > _MAX_VALUES else ""
    return f"[{shown}{more}]" if len(flat) != 1 else shown


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    esc = [[c.replace("|", "\\|") for c in r] for r in rows]
    return ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"] + [
        "| " + " | ".join(r) + " |" for r in esc
    ]


def render_card(
    root: Path,
    repo_id: str,
    *,
    license: str = "apache-2.0",
    tags: tuple[str, ...] | list[str] = (),
    version: str | None = None,
) -> str:
    """Markdown + YAML dataset card for the dataset at ``root`` published as ``repo_id``."""
    root = Path(root)
    info = load_info(root)
    raw_info = json.loads((root / layout.INFO_PATH).read_text(encoding="utf-8"))
    episodes = _episode_columns(root)
    tasks = _tasks(root, episodes["tasks"])
    stats_path = root / layout.STATS_PATH
    stats = _read_stats(stats_path)

    card_tags = ["LeRobot"] + [t for t in dict.fromkeys(tags) if t != "LeRobot"]
    robot_type = _text(info.robot_type) if info.robot_type else None
    if robot_type and robot_type not in card_tags:
        card_tags.append(robot_type)
    header = {
        "license": license,
        "tags": card_tags,
        "task_categories": ["robotics"],
        "configs": [{"config_name": "default", "data_files": "data/*/*.parquet"}],
    }
    lines = ["---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(), "---", ""]
    lines += [f"# {repo_id}", ""]
    lines += [
        f"A robot-learning dataset in the [LeRobot](https://github.com/huggingface/lerobot) "
        f"**{info.codebase_version}** format, published with robopipe"
        + (f" as version **{version}**." if version else "."),
        "",
        "## Summary",
        "",
    ]
    lengths = [int(x) for x in episodes["length"] if x is not None]
    rows = [
        ["Robot type", robot_type or "unknown"],
        ["Episodes", str(info.total_episodes)],
        ["Frames", str(info.total_frames)],
        ["FPS", str(info.fps)],
    ]
    if lengths:
        mean = sum(lengths) / len(lengths)
        rows.append(
            ["Episode length (frames): mean / min / max", f"{mean:.1f} / {min(lengths)} / {max(lengths)}"]
        )
        rows.append(["Duration (s)", f"{sum(lengths) / info.fps:.1f}"])
    successes = [bool(s) for s in episodes["success"] if s is not None]
    if successes:
        rate = sum(successes) / len(successes)
        rows.append(["Success rate", f"{rate:.1%} ({sum(successes)}/{len(successes)} episodes)"])
    rows.append(["Tasks", str(len(tasks))])
    cameras = {k: f for k, f in info.features.items() if f.is_visual}
    rows.append(["Cameras", str(len(cameras))])
    lines += [*_table(["", ""], rows), ""]

    lines += ["## Tasks", ""]
    lines += [f"- {_text(t)}" for t in tasks] or ["(none)"]
    lines += [""]

    lines += ["## Cameras", ""]
    if cameras:
        cam_rows = []
        for key, spec in cameras.items():
            vinfo = spec.info or {}
            cam_rows.append(
                [
                    f"`{key}`",
                    spec.dtype,
                    "x".join(str(s) for s in spec.shape),
                    _text(vinfo.get("video.codec", "-")),
                    _fmt_num(vinfo.get("video.fps", info.fps)),
                ]
            )
        lines += _table(["key", "storage", "shape (H x W x C)", "codec", "fps"], cam_rows)
    else:
        lines += ["(none)"]
    lines += [""]

    lines += ["## Features", ""]
    feat_rows = []
    for key, spec in info.features.items():
        names = spec.names
        if isinstance(names, dict):
            names_s = _text(json.dumps(names, ensure_ascii=False))
        elif isinstance(names, list):
            names_s = ", ".join(_text(n) for n in names[:8]) + (" …" if len(names) > 8 else "")
        else:
            names_s = ""
        feat_rows.append([f"`{key}`", spec.dtype, str(list(spec.shape)), names_s])
    lines += [*_table(["feature", "dtype", "shape", "names"], feat_rows), ""]

    lines += ["## Statistics", ""]
    stat_rows = []
    for key, spec in info.features.items():
        s = stats.get(key)
        if not isinstance(s, dict) or key in DEFAULT_FEATURES or spec.is_visual:
            continue
        stat_rows.append([f"`{key}`"] + [_fmt_values(s.get(n, "-")) for n in ("mean", "std", "min", "max")])
    if stat_rows:
        lines += _table(["feature", "mean", "std", "min", "max"], stat_rows)
    else:
        lines += ["(no meta/stats.json)" if not stats else "(no numeric features beyond the defaults)"]
    lines += [""]

    info_text = json.dumps(raw_info, indent=4, ensure_ascii=False)
    fence = "`" * max(3, _longest_backtick_run(info_text) + 1)  # data cannot close the code block
    lines += ["## Dataset structure", "", "[meta/info.json](meta/info.json):", fence + "json"]
    lines += [info_text, fence, ""]

    lines += usage_section(repo_id, version)
    lines += [
        "## Citation",
        "",
        "```bibtex",
        *citation_bibtex(repo_id, info.codebase_version, version),
        "```",
        "",
    ]
    return "\n".join(lines)


def usage_section(repo_id: str, version: str | None) -> list[str]:
    """Markdown lines: loading this dataset (this version) with LeRobot 0.6.1, and fetching it with robopipe."""
    revision = f", revision={json.dumps(version)}" if version else ""
    code = [
        'pip install "lerobot[dataset]==0.6.1"',
        "",
        "from lerobot.datasets import LeRobotDataset",
        "",
        f"dataset = LeRobotDataset({json.dumps(repo_id)}{revision})",
        "frame = dataset[0]  # dict: every feature as a tensor, plus task and indices",
    ]
    fetch = f"robopipe download {repo_id} --revision {shlex.quote(version or 'main')} --out {repo_id.split('/')[1]}"
    fence = "`" * max(3, _longest_backtick_run("\n".join([*code, fetch])) + 1)
    return [
        "## Usage",
        "",
        "With [LeRobot](https://github.com/huggingface/lerobot) 0.6.1 (Python 3.12+):",
        "",
        fence + "python",
        f"# {code[0]}",
        *code[2:],
        fence,
        "",
        "Or fetch this exact version into a folder:",
        "",
        fence + "bash",
        fetch,
        fence,
        "",
    ]


def _bibtex_value(text: str) -> str:
    """``text`` as the contents of a braced BibTeX field: LaTeX specials escaped, braces balanced."""
    # braces become commands (BibTeX counts an escaped brace too, so "\}" could still close the field)
    specials = {"\\": r"\textbackslash{}", "{": r"\textbraceleft{}", "}": r"\textbraceright{}", "%": r"\%",
                "#": r"\#", "&": r"\&", "$": r"\$", "_": r"\_", "^": r"\^{}", "~": r"\~{}"}  # fmt: skip
    return "".join(specials.get(c, c) for c in " ".join(text.split()))


def citation_bibtex(repo_id: str, codebase_version: str, version: str | None) -> list[str]:
    """A valid ``@misc`` BibTeX entry for the dataset (key from the repo id; values escaped; deterministic)."""
    org = repo_id.split("/", 1)[0]
    key = re.sub(r"[^A-Za-z0-9]+", "_", repo_id).strip("_") or "dataset"
    url = f"https://huggingface.co/datasets/{repo_id}"
    note = f"LeRobot {codebase_version} dataset" + (f", version {version}" if version else "")
    fields = [
        ("author", "{" + _bibtex_value(org) + "}"),  # an organisation: kept whole, never split into names
        ("title", _bibtex_value(repo_id)),
        ("howpublished", "\\url{" + url + "}"),
        ("url", url),
        ("note", _bibtex_value(note)),
    ]
    return [f"@misc{{{key},", *(f"  {k:<12} = {{{v}}}," for k, v in fields), "}"]


def _text(value: Any, limit: int = 200) -> str:
    """A dataset-provided string made safe for the card body: one line, HTML escaped, bounded."""
    flat = " ".join(str(value).split())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return html.escape(flat, quote=False).replace("`", "\\`")


def _longest_backtick_run(text: str) -> int:
    runs = re.findall(r"`+", text)
    return max((len(r) for r in runs), default=0)


def _read_stats(path: Path) -> dict[str, Any]:
    """``meta/stats.json`` as parsed JSON (``{}`` when absent); garbage is a clear error, not a crash."""
    if not path.is_file():
        return {}
    try:
        stats = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFileError(
            f"{path}: unreadable JSON ({exc}); recompute it with `robopipe stats ROOT`"
        ) from exc
    if not isinstance(stats, dict):
        raise CorruptFileError(
            f"{path}: expected a JSON object, got {type(stats).__name__}; recompute it with `robopipe stats ROOT`"
        )
    return stats


def parse_card_header(card: str) -> dict[str, Any]:
    """The YAML header of a card as a dict (used by tests and `history`)."""
    if not card.startswith("---\n"):
        return {}
    end = card.index("\n---", 4)
    data = yaml.safe_load(card[4:end])
    return data if isinstance(data, dict) else {}
