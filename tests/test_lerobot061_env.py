"""robopipe installed into a LeRobot 0.6.1 environment: pip check clean, nothing LeRobot installed replaced, both
libraries importable in one process, and record (simulated arm) -> validate -> delete-episodes -> load in LeRobot.

The environment is built by ``scripts/lerobot061_env.sh`` (a venv chained to the 0.6.1 env's site-packages, so
the 5 GB env is never modified; pip adds only what LeRobot lacks) and found through
``ROBOPIPE_LEROBOT061_ENV``. The commands run with this checkout first on ``PYTHONPATH`` so the code under test is
the tree's, on LeRobot's huggingface_hub 1.x / numpy 2.2 / Python 3.12.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.lerobot, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SKIP_REASON = (
    "robopipe-in-LeRobot-0.6.1 environment not available: run "
    "`LEROBOT061_PYTHON=... scripts/lerobot061_env.sh` and export ROBOPIPE_LEROBOT061_ENV=<the path it prints>"
)


@pytest.fixture(scope="module")
def env_python() -> str:
    path = os.environ.get("ROBOPIPE_LEROBOT061_ENV")
    if not path or not Path(path).is_file():
        pytest.skip(SKIP_REASON)
    return path


def _run(python: str, args: list[str], tmp: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "HF_", "PREFECT_"))
    }
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "HF_HOME": str(tmp / "hf"),
            "HF_LEROBOT_HOME": str(tmp / "lerobot-home"),
            "HF_HUB_OFFLINE": "1",
            "PREFECT_HOME": str(tmp / "prefect"),
        }
    )
    proc = subprocess.run(
        [python, *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, (
        f"{args[:3]} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    )
    return proc


INVENTORY = """
import json, re, sys, sysconfig
from importlib.metadata import distributions, requires
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
def names(path):
    return {norm(d.metadata["Name"]): d.version for d in distributions(path=[path])}
lerobot_site = [p for p in sys.path if p.startswith(sys.argv[1])]
print(json.dumps({
    "own": names(sysconfig.get_paths()["purelib"]),
    "lerobot": names(lerobot_site[0]) if lerobot_site else {},
    "lerobot_requires": sorted({norm(re.split(r"[ ;<>=!~\\[(]", r, maxsplit=1)[0]) for r in requires("lerobot")}),
}))
"""

IMPORT_BOTH = """
import json, huggingface_hub, numpy, av, lerobot, robopipe, flows.cli
from robopipe.format.reader import DatasetReader
print(json.dumps({"lerobot": lerobot.__version__, "hub": huggingface_hub.__version__, "numpy": numpy.__version__,
                  "av": av.__version__, "robopipe": robopipe.__file__}))
"""

LOAD = """
import json, sys
import numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
from robopipe.format.reader import DatasetReader
root = sys.argv[1]
ds = LeRobotDataset("test/coinstall", root=root)
r = DatasetReader(root)
df = r.to_pandas()
same = True
for i in range(len(ds)):
    it = ds[i]
    same &= bool(np.array_equal(it["action"].numpy(), df["action"][i]))
    same &= int(it["episode_index"]) == int(df["episode_index"][i])
    same &= tuple(it["observation.images.front"].shape) == (3, 48, 64)
print(json.dumps({"len": len(ds), "episodes": ds.num_episodes, "ours": [r.num_frames, r.num_episodes],
                  "same": same, "task": ds[0]["task"]}))
"""


def test_pip_check_clean_and_nothing_of_lerobot_replaced(
    env_python: str, lerobot061_python: str, tmp_path: Path
) -> None:
    check = _run(env_python, ["-m", "pip", "check"], tmp_path)
    assert "No broken requirements" in check.stdout
    prefix = str(Path(lerobot061_python).absolute().parents[1])  # the venv, not the interpreter it links to
    inv = json.loads(_run(env_python, ["-c", INVENTORY, prefix], tmp_path).stdout.splitlines()[-1])
    assert "robopipe" in inv["own"] and "lerobot" in inv["lerobot"]
    assert {"torch", "numpy", "huggingface-hub", "av", "datasets"} <= set(inv["lerobot_requires"])
    shadowed = set(inv["own"]) & set(inv["lerobot"])
    replaced = sorted(shadowed & set(inv["lerobot_requires"]))
    assert replaced == [], f"installing robopipe replaced packages LeRobot requires: {replaced}"
    versions = json.loads(_run(env_python, ["-c", IMPORT_BOTH], tmp_path).stdout.splitlines()[-1])
    assert versions["lerobot"] == "0.6.1" and versions["hub"].startswith("1.")
    assert versions["av"].startswith("15.") and tuple(int(x) for x in versions["numpy"].split(".")[:2]) < (
        2,
        3,
    )
    assert versions["robopipe"].startswith(str(REPO))


def test_record_validate_delete_load_in_lerobot061(env_python: str, tmp_path: Path) -> None:
    cli = ["-m", "flows.cli"]
    _run(
        env_python,
        [
            *cli,
            "record",
            "--robot",
            "sim-so101",
            "--teleop",
            "sim-so101-leader",
            "--camera",
            "front=sim:64x48",
            "--repo-id",
            "test/coinstall",
            "--single-task",
            "pick the cube",
            "--fps",
            "15",
            "--num-episodes",
            "3",
            "--episode-time-s",
            "1",
            "--reset-time-s",
            "0",
        ],
        tmp_path,
    )
    root = tmp_path / "lerobot-home" / "test" / "coinstall"  # record's default root: $HF_LEROBOT_HOME/REPO_ID
    assert (root / "meta" / "info.json").is_file()
    _run(env_python, [*cli, "validate", str(root)], tmp_path)
    out = tmp_path / "deleted"
    _run(env_python, [*cli, "delete-episodes", str(root), "--episodes", "1", "--out", str(out)], tmp_path)
    _run(env_python, [*cli, "validate", str(out)], tmp_path)
    got = json.loads(_run(env_python, ["-c", LOAD, str(out)], tmp_path).stdout.splitlines()[-1])
    assert got["episodes"] == 2 and got["ours"] == [got["len"], 2] and got["len"] > 0
    assert got["same"] and got["task"] == "pick the cube"
