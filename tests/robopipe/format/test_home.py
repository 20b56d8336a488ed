"""LeRobot's dataset home and repo ids on the command line (``info/validate/stats/report/publish/edit ORG/NAME``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.cli import main
from robopipe.errors import DatasetNotFoundError
from robopipe.format.home import lerobot_home, repo_root, resolve_dataset_root
from robopipe.format.reader import DatasetReader
from tests.fixtures.datasets import make_dataset
from tests.fixtures.lerobot_ref import run_reference
from tests.robopipe.edit.helpers import tree_hash


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "lerobot-home"
    monkeypatch.setenv("HF_LEROBOT_HOME", str(home))
    return home


def test_home_follows_lerobots_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_LEROBOT_HOME", str(tmp_path / "lr"))
    assert lerobot_home() == tmp_path / "lr"
    monkeypatch.delenv("HF_LEROBOT_HOME")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert lerobot_home() == tmp_path / "hf" / "lerobot"
    monkeypatch.delenv("HF_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert lerobot_home() == tmp_path / "xdg" / "huggingface" / "lerobot"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert lerobot_home() == tmp_path / "user" / ".cache" / "huggingface" / "lerobot"


@pytest.mark.lerobot
@pytest.mark.parametrize("variables", ["HF_LEROBOT_HOME", "HF_HOME", "XDG_CACHE_HOME"])
def test_home_is_the_one_lerobot_computes(
    variables: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lerobot_python: str
) -> None:
    """Same answer as ``lerobot.utils.constants.HF_LEROBOT_HOME`` for each way of setting it."""
    env = {"HF_LEROBOT_HOME": "", "HF_HOME": "", "XDG_CACHE_HOME": "", "HOME": str(tmp_path / "user")}
    env[variables] = str(tmp_path / "set-by-user")
    code = """
import json, os
for k in [k for k, v in os.environ.items() if k in ("HF_LEROBOT_HOME", "HF_HOME", "XDG_CACHE_HOME") and not v]:
    del os.environ[k]
from lerobot.utils.constants import HF_LEROBOT_HOME
print(json.dumps(str(HF_LEROBOT_HOME)))
"""
    theirs = run_reference(code, tmp_path / "ref", env=env, python=lerobot_python)
    for k, v in env.items():
        if v:
            monkeypatch.setenv(k, v)
        else:
            monkeypatch.delenv(k, raising=False)
    assert str(lerobot_home()) == theirs


def test_resolve_prefers_an_existing_folder(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cached = make_dataset(home / "lab" / "arm", episodes=1, frames=3, cameras={})
    assert resolve_dataset_root("lab/arm") == cached
    assert repo_root("lab/arm") == cached
    monkeypatch.chdir(tmp_path)
    local = make_dataset(tmp_path / "lab" / "arm", episodes=1, frames=3, cameras={})
    assert resolve_dataset_root("lab/arm") == Path("lab/arm") and Path("lab/arm").resolve() == local.resolve()


def test_resolve_refuses_what_is_not_a_repo_id(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"lab/none.*LeRobot's home"):
        resolve_dataset_root("lab/none")
    # not repo ids: returned as given (the command then says "not a dataset"), never looked up under the home
    for arg in ("../lab/arm", "/abs/path", "a/b/c", "lab/..", "single"):
        assert resolve_dataset_root(arg) == Path(arg)
    with pytest.raises(DatasetNotFoundError, match="ORG/NAME"):
        repo_root("../escape")


def test_commands_take_repo_ids(home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_dataset(home / "lab" / "arm", episodes=3, frames=[4, 5, 6], cameras={})
    before = tree_hash(root)
    assert main(["info", "lab/arm", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total_episodes"] == 3
    assert main(["validate", "lab/arm"]) == 0
    assert main(["report", "lab/arm", "--out", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "report.html").is_file()
    assert main(["view", "lab/arm", "--export", str(tmp_path / "site")]) == 0
    assert (tmp_path / "site" / "index.html").is_file()
    assert tree_hash(root) == before  # read-only commands left it alone
    assert main(["quality", "lab/arm"]) in (0, 1)  # writes only its results under meta/robopipe/quality/
    assert (root / "meta" / "robopipe" / "quality").is_dir()
    assert main(["filter", "lab/arm", "--where", "episode_index != 0", "--out", str(tmp_path / "filt")]) == 0
    assert DatasetReader(tmp_path / "filt").num_episodes == 2
    assert main(["repair", "lab/arm"]) == 0
    capsys.readouterr()
    assert main(["replay", "--root", "lab/arm", "--episode", "2", "--dry-run"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 6  # header + the episode's 6 actions
    assert main(["delete-episodes", "lab/arm", "--episodes", "1", "--out", str(tmp_path / "del")]) == 0
    assert DatasetReader(tmp_path / "del").num_episodes == 2
    assert main(["merge", str(tmp_path / "merged"), "lab/arm", str(tmp_path / "del")]) == 0
    assert DatasetReader(tmp_path / "merged").num_episodes == 5
    assert main(["stats", "lab/arm", "--workers", "0"]) == 0
    reg = tmp_path / "registry"
    assert (
        main(["publish", "lab/arm", "--repo-id", "lab/arm", "--target", "local", "--registry", str(reg)]) == 0
    )
    capsys.readouterr()
    assert main(["info", "lab/missing"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lab/missing" in err and str(home) in err
