"""Version tags of published datasets (core layer).

Two kinds of tags mark a publish: the *codebase* tag (``v3.0``, the LeRobot format version; LeRobot's loader
refuses a Hub dataset without it and moves it to the newest upload) and the *user* tag (``v1.2.0``), a semantic
version that names one immutable snapshot and is never moved silently.
"""

from __future__ import annotations

import re

from robopipe.errors import ConfigError
from robopipe.format.layout import CODEBASE_VERSION

CODEBASE_TAG = CODEBASE_VERSION

# semver.org 2.0.0 grammar, with an optional leading "v" (the Hub convention for tags).
_SEMVER_RE = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_BRANCH_RE = re.compile(r"^(?!/)(?!.*//)(?!.*\.\.)(?!.*@\{)[A-Za-z0-9._/-]+(?<![./])$")


def check_version_tag(tag: str) -> str:
    """Return ``tag`` if it is a semantic version (``v1.2.0``, ``1.0.0-rc.1``), else raise ConfigError.

    Example:
        >>> check_version_tag("v1.2.0")
        'v1.2.0'
    """
    if not _SEMVER_RE.fullmatch(tag):
        raise ConfigError(
            f"version tag {tag!r} is not a semantic version: expected MAJOR.MINOR.PATCH with an optional "
            "leading 'v' and optional -prerelease/+build parts, e.g. v1.2.0 or v2.0.0-rc.1"
        )
    if tag == CODEBASE_TAG:
        raise ConfigError(f"version tag {tag!r} is reserved for the LeRobot codebase version; pick another")
    return tag


def check_branch_name(branch: str) -> str:
    """Return ``branch`` if it is a valid git branch name, else raise ConfigError."""
    if not _BRANCH_RE.fullmatch(branch) or branch.endswith(".lock"):
        raise ConfigError(
            f"branch name {branch!r} is not a valid git branch name "
            "(letters, digits, '.', '_', '-', '/'; no '..', no leading '/', no trailing '.' or '/')"
        )
    return branch
