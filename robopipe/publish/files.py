"""Which files of a dataset root are published, and their content hashes (core layer).

A publish sends the finished dataset only: never LeRobot's PNG staging folder ``images/``, never hidden files or
folders (``.staging/``, ``.cache/``, leftovers of atomic writes) and never a ``README.md`` at the root (the card is
generated). Hashes let a re-run compare the local files with what the target already holds and send only what is
missing: the git blob id (sha1 of ``"blob <size>\\0" + content``) for regular files, the sha256 for LFS files.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from robopipe.errors import UnsafePathError
from robopipe.format import safepath
from robopipe.format.layout import IMAGES_DIR

CARD_PATH = "README.md"
EXCLUDED_TOP_LEVEL = frozenset({IMAGES_DIR, CARD_PATH})
_BUF = 1 << 20


@dataclass(frozen=True)
class LocalFile:
    """One publishable file: its repo path, absolute path, size and hashes."""

    path_in_repo: str
    abspath: Path
    size: int
    git_sha1: str
    sha256: str


def is_published_path(rel: str) -> bool:
    """True if the repo-relative posix path ``rel`` belongs to a publish.

    Example:
        >>> [is_published_path(p) for p in ["data/chunk-000/file-000.parquet", "images/x/0.png", ".staging/a"]]
        [True, False, False]
    """
    parts = rel.split("/")
    if parts[0] in EXCLUDED_TOP_LEVEL:
        return False
    return not any(p.startswith(".") for p in parts)


def list_dataset_files(root: Path, *, follow_symlinks: bool = False) -> list[str]:
    """Sorted repo paths of every publishable file under ``root``.

    Symlinks are listed under their own path; one whose target lies outside ``root`` is refused with
    :class:`UnsafePathError` unless ``follow_symlinks`` (then its target's bytes are published).
    Symlinked folders are walked once (loops are cut).
    """
    root = Path(root)
    out: list[str] = []
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        rel_dir = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else rel_dir + "/"
        dirnames[:] = sorted(d for d in dirnames if is_published_path(prefix + d))
        for name in filenames:
            rel = prefix + name
            if is_published_path(rel) and (Path(dirpath) / name).is_file():
                out.append(rel)
    escaping = safepath.escaping_symlinks(root, out)
    if escaping and not follow_symlinks:
        shown = ", ".join(escaping[:5]) + (f" (+{len(escaping) - 5} more)" if len(escaping) > 5 else "")
        raise UnsafePathError(
            f"{root}: {len(escaping)} file(s) are symlinks leading outside the dataset: {shown}. "
            f"Refusing to publish them; replace them with real files, or pass --follow-symlinks to upload "
            f"their targets."
        )
    return sorted(out)


def hash_file(root: Path, rel: str) -> LocalFile:
    """Read ``root/rel`` once and return its git blob sha1 and sha256."""
    path = Path(root) / rel
    size = path.stat().st_size
    sha1 = hashlib.sha1(f"blob {size}\0".encode())
    sha256 = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_BUF):
            sha1.update(chunk)
            sha256.update(chunk)
    return LocalFile(rel, path, size, sha1.hexdigest(), sha256.hexdigest())


def git_blob_sha1(data: bytes) -> str:
    """The git blob id of in-memory content (e.g. the generated card)."""
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()
