"""Version tags of published datasets (core layer).

Two kinds of tags mark a publish: the *codebase* tag (``v3.0``, the LeRobot format version; LeRobot's loader
refuses a Hub dataset without it and moves it to the newest upload) and the *user* tag (``v1.0``, ``v1.2.0``,
``2024-06-pick``: any name the Hub accepts for a tag, i.e. git's ref-name rules), which names one immutable
snapshot and is never moved silently.
"""

from __future__ import annotations

import re

from robopipe.errors import ConfigError
from robopipe.format.layout import CODEBASE_VERSION

CODEBASE_TAG = CODEBASE_VERSION
MAX_REF_LEN = 255
_FORBIDDEN = set(" ~^:?*[\\")
_COMMIT_ID_RE = re.compile(r"^[0-9a-f]{40}$")
_BRANCH_RE = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)[A-Za-z0-9._/-]+(?<![./])$")


def ref_name_problem(name: str) -> str | None:
    """Why ``name`` is not a valid git ref name (``git check-ref-format`` rules, as the Hub applies), or None."""
    if not name:
        return "empty"
    if len(name) > MAX_REF_LEN:
        return f"longer than {MAX_REF_LEN} characters"
    bad = sorted({c for c in name if c in _FORBIDDEN or ord(c) < 32 or ord(c) == 127})
    if bad:
        return f"contains {', '.join(repr(c) for c in bad)}"
    if ".." in name or "@{" in name or "//" in name or name == "@":
        return "contains '..', '@{' or '//', or is '@'"
    if name.startswith(("/", "-")) or name.endswith(("/", ".")):
        return "starts with '/' or '-', or ends with '/' or '.'"
    if any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        return "has a part starting with '.' or ending with '.lock'"
    return None


def check_version_tag(tag: str) -> str:
    """Return ``tag`` if the Hub accepts it as a tag name (``v1.0``, ``v1.2.0``, ``2024-06-pick``), else raise.

    Refused besides git's rules: the codebase tag ``v3.0`` (LeRobot moves it) and 40-hex names (they would read
    as commit ids).

    Example:
        >>> check_version_tag("v1.0")
        'v1.0'
    """
    problem = ref_name_problem(tag)
    if problem is not None:
        raise ConfigError(
            f"version tag {tag!r} is not a valid tag name ({problem}): use letters, digits and '.', '_', '-', "
            "'/', e.g. v1.0, v1.2.0 or 2024-06-pick"
        )
    if tag == CODEBASE_TAG:
        raise ConfigError(f"version tag {tag!r} is reserved for the LeRobot codebase version; pick another")
    if _COMMIT_ID_RE.match(tag):
        raise ConfigError(f"version tag {tag!r} looks like a commit id; pick a name")
    return tag


def check_branch_name(branch: str) -> str:
    """Return ``branch`` if it is a valid git branch name, else raise ConfigError."""
    if not _BRANCH_RE.fullmatch(branch) or ref_name_problem(branch) is not None:
        raise ConfigError(
            f"branch name {branch!r} is not a valid git branch name "
            "(letters, digits, '.', '_', '-', '/'; no '..', no leading '/', no trailing '.' or '/')"
        )
    return branch
