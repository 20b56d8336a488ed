"""The one confinement rule for every path derived from a dataset's own files (core layer).

A dataset is untrusted input: its ``info.json`` names path templates, its episodes table names chunk and
file indices, its features name folders, and a user names split folders and output roots. Every such path
goes through here and either resolves inside its root or stops with :class:`UnsafePathError`:

* templates are parsed with :class:`string.Formatter`: only the keys LeRobot passes (``chunk_index``,
  ``file_index``, ``video_key``; v2.1: ``episode_chunk``, ``episode_index``), no attribute/index access, no
  conversion, and index specs limited to ``[0][width]d`` with ``width <= MAX_FORMAT_WIDTH`` (a width of
  ``0999999999`` would otherwise build a 1 GB string);
* indices are integers in ``0..MAX_INDEX``;
* names used as one path component (feature/video keys, split names) are non-empty, at most 255 bytes,
  not ``.``/``..`` and free of ``/``, ``\\`` and control characters;
* a formatted path is relative, has no ``..`` part, and resolves (after symlinks) inside its root;
* an output root is neither an input, nor inside one, nor a parent of one.
"""

from __future__ import annotations

import errno
import os
import re
import string
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path, PurePosixPath

from robopipe.errors import PathTemplateError, UnsafePathError

MAX_FORMAT_WIDTH = 12
MAX_INDEX = 999_999  # chunk/file/episode indices in templates (merge planning packs chunk*1e6+file)
MAX_COMPONENT_BYTES = 255  # a file name on every common filesystem
MAX_TEMPLATE_CHARS = 1024

V30_DATA_KEYS = frozenset({"chunk_index", "file_index"})
V30_VIDEO_KEYS = frozenset({"chunk_index", "file_index", "video_key"})
V21_DATA_KEYS = frozenset({"episode_chunk", "episode_index"})
V21_VIDEO_KEYS = frozenset({"episode_chunk", "episode_index", "video_key"})
NAME_KEYS = frozenset({"video_key", "image_key"})  # substituted by a path component, never a number

_INT_SPEC = re.compile(r"0?(\d{1,2})?d")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_component(name: object, what: str) -> str:
    """``name`` if it is safe as one path component (a feature key, a video key, a split name).

    Example:
        >>> check_component("observation.images.front", "video key")
        'observation.images.front'
    """
    if not isinstance(name, str) or not name:
        raise UnsafePathError(f"{what} {name!r} is invalid: expected a non-empty string")
    if name in (".", "..") or "/" in name or "\\" in name or _CONTROL.search(name):
        raise UnsafePathError(
            f"{what} {name!r} is not a safe folder name: no '/', '\\', control characters, '.' or '..'"
        )
    if len(name.encode("utf-8", "surrogatepass")) > MAX_COMPONENT_BYTES:
        raise UnsafePathError(f"{what} {name[:40]!r}... is longer than {MAX_COMPONENT_BYTES} bytes")
    return name


def check_relative(rel: str, what: str) -> str:
    """``rel`` if it is a relative posix path without ``..``/NUL/backslash parts."""
    if "\x00" in rel or "\\" in rel:
        raise UnsafePathError(f"{what} {rel!r} contains NUL or '\\'")
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or re.match(r"[A-Za-z]:", rel) or "://" in rel:
        raise UnsafePathError(f"{what} {rel!r} must be a relative path inside the dataset root")
    if ".." in p.parts:
        raise UnsafePathError(f"{what} {rel!r} must not contain '..'")
    return rel


@lru_cache(maxsize=256)
def _parse(template: str, keys: frozenset[str], what: str) -> tuple[str, ...]:
    if not isinstance(template, str):
        raise UnsafePathError(f"{what} {template!r} is not a string")
    if len(template) > MAX_TEMPLATE_CHARS:
        raise UnsafePathError(f"{what} is {len(template)} characters long (at most {MAX_TEMPLATE_CHARS})")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise PathTemplateError(f"{what} {template!r} does not parse: {exc}") from exc
    fields: list[str] = []
    for _literal, field, spec, conv in parsed:
        if field is None:
            continue
        if field not in keys:
            raise PathTemplateError(
                f"{what} {template!r}: placeholder {{{field}}} is not one of {sorted(keys)}"
            )
        if conv is not None:
            raise PathTemplateError(f"{what} {template!r}: conversion !{conv} is not allowed")
        spec = spec or ""
        if field in NAME_KEYS:
            if spec:
                raise UnsafePathError(f"{what} {template!r}: {{{field}}} takes no format spec")
        elif spec:
            m = _INT_SPEC.fullmatch(spec)
            if m is None:
                raise UnsafePathError(
                    f"{what} {template!r}: format spec {spec!r} of {{{field}}} is not an integer "
                    f"spec like '03d'"
                )
            if m.group(1) is not None and int(m.group(1)) > MAX_FORMAT_WIDTH:
                raise UnsafePathError(
                    f"{what} {template!r}: width {int(m.group(1))} of {{{field}}} is over {MAX_FORMAT_WIDTH}"
                )
        fields.append(field)
    sample = {k: (k if k in NAME_KEYS else 0) for k in keys}
    check_relative(template.format(**sample), f"{what} {template!r} gives")
    return tuple(fields)


def check_template(
    template: object, keys: frozenset[str], what: str, required: Iterable[str] = ()
) -> tuple[str, ...]:
    """The placeholders of a safe ``template``; raises :class:`UnsafePathError` otherwise.

    ``required`` placeholders must appear (without them different files would share one path).

    Example:
        >>> check_template("data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet", V30_DATA_KEYS, "data_path")
        ('chunk_index', 'file_index')
    """
    if not isinstance(template, str):
        raise UnsafePathError(f"{what} {template!r} is not a string")
    fields = _parse(template, keys, what)
    missing = [k for k in required if k not in fields]
    if missing:
        raise PathTemplateError(
            f"{what} {template!r} lacks {{{'}, {'.join(missing)}}}: different files would map to one path"
        )
    return fields


def check_index(value: object, what: str) -> int:
    """``value`` as an int in ``0..MAX_INDEX``."""
    try:
        i = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError) as exc:
        raise UnsafePathError(f"{what} {value!r} is not an integer") from exc
    if i != value or not 0 <= i <= MAX_INDEX:
        raise UnsafePathError(f"{what} {value!r} is out of range 0..{MAX_INDEX}")
    return i


def format_path(template: str, keys: frozenset[str], what: str, **values: object) -> str:
    """Format a checked template with checked values; the result is relative and free of ``..``."""
    check_template(template, keys, what)
    clean: dict[str, object] = {}
    for k, v in values.items():
        clean[k] = check_component(v, k) if k in NAME_KEYS else check_index(v, k)
    return check_relative(template.format(**clean), what)


def inside(root: Path, rel: str | Path, what: str = "path") -> Path:
    """``root / rel`` after checking that it resolves (following symlinks) inside ``root``."""
    rel_s = Path(rel).as_posix() if isinstance(rel, Path) else rel
    check_relative(rel_s, what)
    root = Path(root)
    path = root / rel_s
    base = root.resolve()
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as exc:  # symlink loops (Python < 3.13)
        raise UnsafePathError(f"{path}: cannot resolve {what} ({exc})") from exc
    try:
        path.stat()
    except (
        OSError
    ) as exc:  # a missing path is fine (an output); Python 3.13's resolve() no longer raises on a loop
        if exc.errno == errno.ELOOP:
            raise UnsafePathError(f"{path}: cannot resolve {what} ({exc})") from exc
    if real != base and not real.is_relative_to(base):
        raise UnsafePathError(
            f"{path}: {what} resolves to {real}, outside the dataset root {base} (a symlink or '..' escapes it)"
        )
    return path


def escaping_symlinks(root: Path, rels: Iterable[str]) -> list[str]:
    """Those of ``rels`` (relative to ``root``) whose real path leaves ``root``."""
    base = Path(root).resolve()
    out: list[str] = []
    for rel in rels:
        real = (Path(root) / rel).resolve()
        if not real.is_relative_to(base):
            out.append(rel)
    return out


def check_tree(root: Path, what: str = "dataset") -> None:
    """Refuse a root holding any symlink (file or folder) that resolves outside it.

    Called by writers that update a dataset in place (stats, resume/repair): they write into its folders,
    and a symlinked ``meta/robopipe`` or ``data/chunk-000`` would carry those writes out of the root.
    """
    root = Path(root)
    links: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                links.append(os.path.relpath(p, root))
    bad = escaping_symlinks(root, links)
    if bad:
        raise UnsafePathError(
            f"{root}: {len(bad)} symlink(s) lead outside the {what}: {', '.join(sorted(bad)[:5])}; "
            "refusing to write through them (replace them with real files or folders)"
        )


def check_disjoint(out: Path, inputs: Iterable[Path], what: str = "output") -> None:
    """Refuse an output root that is an input, lies inside one, or contains one."""
    o = Path(out).resolve()
    for inp in inputs:
        i = Path(inp).resolve()
        if o == i:
            raise UnsafePathError(f"{what} {out} is also an input; write to a new root")
        if o.is_relative_to(i):
            raise UnsafePathError(f"{what} {out} is inside the input {inp}; write it outside the input")
        if i.is_relative_to(o):
            raise UnsafePathError(f"input {inp} is inside the {what} {out}; write it elsewhere")


def check_names(names: Mapping[str, object] | Iterable[str], what: str) -> None:
    """Every name is a safe path component."""
    for n in names:
        check_component(n, what)
