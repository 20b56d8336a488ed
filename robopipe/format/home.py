"""Where LeRobot keeps datasets named by repo id, and turning a command-line ``ROOT`` into a dataset folder.

LeRobot (0.4.4 and 0.6.1 alike, ``lerobot.utils.constants``) stores ``ORG/NAME`` under ``$HF_LEROBOT_HOME``, which
defaults to ``$HF_HOME/lerobot`` (``$HF_HOME`` itself defaulting to ``$XDG_CACHE_HOME/huggingface`` or
``~/.cache/huggingface``, as in ``huggingface_hub.constants``). ``record`` writes there by default and
``info/validate/stats/report/repair/quality/view/filter/publish/card`` and the edit commands accept the
same repo ids.
"""

from __future__ import annotations

import os
from pathlib import Path

from robopipe.errors import DatasetNotFoundError
from robopipe.format import layout


def lerobot_home() -> Path:
    """``$HF_LEROBOT_HOME``, else ``$HF_HOME/lerobot`` (LeRobot's dataset and calibration root)."""
    home = os.environ.get("HF_LEROBOT_HOME")
    if home:
        return Path(home).expanduser()
    hf_home = os.environ.get("HF_HOME") or str(
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface"
    )
    return Path(os.path.expandvars(hf_home)).expanduser() / "lerobot"


def repo_root(repo_id: str) -> Path:
    """Folder of dataset ``ORG/NAME`` under :func:`lerobot_home` (the repo id is checked, so it stays inside)."""
    from robopipe.publish.models import check_repo_id

    try:
        check_repo_id(repo_id)
    except ValueError as exc:
        raise DatasetNotFoundError(str(exc)) from exc
    return lerobot_home() / repo_id


def _looks_like_repo_id(arg: str) -> bool:
    from robopipe.publish.models import check_repo_id

    try:
        check_repo_id(arg)
    except ValueError:
        return False
    return True


def resolve_dataset_root(arg: str | Path) -> Path:
    """A dataset given on the command line: the folder itself when it exists, else ``ORG/NAME`` under
    ``$HF_LEROBOT_HOME`` when that holds a dataset.

    An existing path always wins (a local folder ``org/name`` is not silently replaced by the cache). A repo id
    found in neither place raises :class:`DatasetNotFoundError` naming both; anything else is returned as given,
    for the command's own "not a dataset" message.
    """
    path = Path(arg)
    if path.exists() or not _looks_like_repo_id(str(arg)):
        return path
    home = lerobot_home()
    cached = home / str(arg)
    if (cached / layout.INFO_PATH).is_file():
        return cached
    raise DatasetNotFoundError(
        f"{arg}: no such folder, and no dataset {arg} in LeRobot's home {home} "
        f"({cached / layout.INFO_PATH} missing; set HF_LEROBOT_HOME or pass the dataset folder)"
    )
