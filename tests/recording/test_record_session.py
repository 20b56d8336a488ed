"""End to end: record from a simulated SO-101 follower + leader on ptys with 2 synthetic cameras.

The simulators run in their own processes on real ptys; the cameras are PyAV lavfi sources read by the
same thread as V4L2 devices; the dataset is written by the real DatasetWriter and read back by
DatasetReader and (marker ``lerobot``) LeRobot 0.4.4.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from flows.cli import main
from hardware.factory import make_robot
from recording import RecordRequest, ReplayRequest
from recording.keyboard import RecordEvents
from recording.loop import LoopOptions
from recording.replay import replay_episode
from recording.session import record_session
from robopipe.errors import DatasetExistsError
from robopipe.format.reader import DatasetReader
from tests.fixtures.lerobot_ref import run_reference
from tests.fixtures.timing import CAMERA_MAX_AGE_MS, SIM_BUS, TEST_TIMING_NAME

FPS = 15
FRAMES = 23  # 1.5 s at 15 fps


def request(root: Path, **kw: Any) -> RecordRequest:
    fields: dict[str, Any] = {
        "robot": "sim-so101",
        "teleop": "sim-so101-leader",
        "cameras": ["sim:64x48", "sim:64x48"],
        "repo_id": "test/record",
        "root": root,
        "single_task": "pick the cube",
        "fps": FPS,
        "num_episodes": 3,
        "episode_time_s": 1.5,
        "reset_time_s": 0,
        "keyboard": False,
        "collector": "ci",
        "timing": TEST_TIMING_NAME,
    }
    fields.update(kw)
    return RecordRequest(**fields)


class Script:
    """Scripted key presses: ``{(phase, k): event}``; a phase starts whenever the loop restarts at k=0."""

    def __init__(self, presses: dict[tuple[int, int], str]) -> None:
        self.presses = presses
        self.phase = -1

    def __call__(self, k: int, events: RecordEvents) -> None:
        if k == 0:
            self.phase += 1
        event = self.presses.get((self.phase, k))
        if event == "interrupt":
            raise KeyboardInterrupt
        if event is not None:
            events.apply(event)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, list[str]]:
    root = tmp_path_factory.mktemp("rec") / "ds"
    answers = iter(["y", "first try", "n", "", "", ""])
    asked: list[str] = []

    def prompt(q: str) -> str:
        asked.append(q)
        return next(answers)

    # phase 0: episode 0, re-recorded after 8 frames; phases 1-3: episodes 0, 1, 2 in full
    options = LoopOptions(fps=FPS, max_age_ms=CAMERA_MAX_AGE_MS, on_tick=Script({(0, 8): "rerecord"}))
    result = record_session(request(root, prompt_metadata=True), prompt=prompt, options=options)
    return root, result, asked


def test_three_episodes_are_recorded_and_read_back(recorded: tuple[Path, Any, list[str]]) -> None:
    root, result, _ = recorded
    assert result.rerecorded == 1 and len(result.episodes) == 3 and not result.stopped_early
    r = DatasetReader(root)
    assert r.num_episodes == 3 and r.num_frames == 3 * FRAMES  # the discarded attempt left nothing behind
    assert r.fps == FPS and r.info.robot_type == "so_follower" and r.tasks == ["pick the cube"]
    assert set(r.video_keys) == {"observation.images.front", "observation.images.wrist"}
    assert r.features["action"].names[0] == "shoulder_pan.pos"
    for e in range(3):
        df = r.to_pandas(episode=e)
        assert len(df) == FRAMES
        np.testing.assert_allclose(df["timestamp"], np.arange(FRAMES) / FPS, atol=1e-6)
        frames = r.decode_frames("observation.images.front", e, [0.0, (FRAMES - 1) / FPS])
        assert frames.shape == (2, 48, 64, 3)
    actions = np.stack(r.to_pandas()["action"].to_numpy())
    assert np.ptp(actions[:, 0]) > 1.0  # the scripted operator moved the leader
    state = np.stack(r.to_pandas(episode=1)["observation.state"].to_numpy())
    assert np.isfinite(state).all()


def test_episode_metadata_has_timing_and_answers(recorded: tuple[Path, Any, list[str]]) -> None:
    root, result, asked = recorded
    eps = DatasetReader(root).episodes
    for col in (
        "timing/achieved_fps",
        "timing/jitter_p99_ms",
        "timing/late_frames",
        "timing/duplicated_frames",
    ):
        assert col in eps.columns and eps[col].notna().all()
    assert eps["timing/achieved_fps"].gt(0).all()
    assert eps["success"].tolist()[:2] == [True, False] and eps["success"].isna().tolist()[2]
    assert eps["notes"].tolist() == ["first try", "", ""] and set(eps["collector"]) == {"ci"}
    assert len(asked) == 6
    assert [e.frames for e in result.episodes] == [FRAMES] * 3


def test_replay_moves_the_simulated_follower(recorded: tuple[Path, Any, list[str]]) -> None:
    root, _, _ = recorded
    robot = make_robot("sim-so101", **SIM_BUS)
    with robot:
        result = replay_episode(ReplayRequest(robot="sim-so101", root=root, episode=1), robot=robot)
        assert result.frames == FRAMES and result.fps == FPS
        target = result.final_action
        deadline = time.monotonic() + 10
        while True:  # the simulated joints move at a bounded speed: wait until they arrive
            obs = robot.get_observation()
            err = max(abs(obs[k] - v) for k, v in target.items())
            if err < 1.0 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    want = DatasetReader(root).to_pandas(episode=1)["action"].iloc[-1]
    np.testing.assert_allclose([target[k] for k in result.names], want, atol=1e-4)
    assert err < 1.0, f"follower did not reach the replayed positions (max error {err:.2f})"


def test_replay_dry_run_prints_actions(
    recorded: tuple[Path, Any, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _, _ = recorded
    assert main(["replay", "--root", str(root), "--episode", "2", "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("frame") and "gripper.pos" in lines[0] and len(lines) == FRAMES + 1


def test_resume_appends_and_existing_dataset_is_refused(
    recorded: tuple[Path, Any, list[str]], tmp_path: Path
) -> None:
    root = tmp_path / "ds"
    shutil.copytree(recorded[0], root)
    with pytest.raises(DatasetExistsError, match="--resume"):
        record_session(request(root, num_episodes=1, cameras=[]))
    result = record_session(request(root, num_episodes=1, resume=True))
    assert result.total_episodes == 4 and result.episodes[0].episode_index == 3
    assert DatasetReader(root).num_frames == 4 * FRAMES


def test_interrupt_keeps_saved_episodes(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    options = LoopOptions(fps=FPS, max_age_ms=CAMERA_MAX_AGE_MS, on_tick=Script({(1, 5): "interrupt"}))
    with pytest.raises(KeyboardInterrupt):
        record_session(request(root, cameras=["sim:64x48"]), options=options)
    r = DatasetReader(root)
    assert r.num_episodes == 1 and r.num_frames == FRAMES
    assert not (root / ".staging").exists() or not any((root / ".staging").iterdir())


def test_stop_key_ends_session_and_keeps_the_episode(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    options = LoopOptions(fps=FPS, max_age_ms=CAMERA_MAX_AGE_MS, on_tick=Script({(0, 10): "stop"}))
    result = record_session(request(root, cameras=[], num_episodes=5), options=options)
    assert result.stopped_early and result.total_episodes == 1 and result.episodes[0].frames == 10


def test_cli_demo_with_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "record.yaml"
    cfg.write_text(
        "robot: sim-so101\nteleop: sim-so101-leader\ncameras: ['sim:64x48']\nrepo_id: me/demo\n"
        "single_task: wave\nfps: 10\nepisode_time_s: 0.5\nreset_time_s: 0.2\ntiming: patient\n"
    )
    log = tmp_path / "rec.log"
    args = ["record", "--config", str(cfg), "--root", str(tmp_path / "ds"), "--num-episodes", "2",
            "--no-video", "--log-file", str(log), "--rename-map", '{"observation.images.front": "observation.images.top"}']  # fmt: skip
    assert main(args) == 0
    r = DatasetReader(tmp_path / "ds")
    assert r.num_episodes == 2 and r.num_frames == 10 and r.image_keys == ["observation.images.top"]
    assert r.fps == 10 and r.decode_image("observation.images.top", 1, 0).shape == (48, 64, 3)
    assert "jitter p50/p99" in log.read_text()


def test_push_every_publishes_checkpoints_and_final(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("ROBOPIPE_REGISTRY", str(tmp_path / "registry"))  # no token: the local registry
    result = record_session(
        request(
            tmp_path / "ds",
            cameras=["sim:64x48"],
            num_episodes=2,
            episode_time_s=0.5,
            push_to_hub=True,
            push_every=1,
        )
    )
    assert len(result.pushed) == 3 and all(result.pushed)  # after episode 0, after episode 1, final
    assert (tmp_path / "registry").exists()


LOAD = """
import json
from lerobot.datasets.lerobot_dataset import LeRobotDataset
ds = LeRobotDataset("test/record", root={root!r})
first, last = ds[0], ds[len(ds) - 1]
print(json.dumps({{
    "len": len(ds), "episodes": ds.num_episodes, "fps": ds.fps,
    "front": list(first["observation.images.front"].shape), "wrist": list(last["observation.images.wrist"].shape),
    "last_episode": int(last["episode_index"]), "last_ts": float(last["timestamp"]),
    "state": last["observation.state"].tolist(), "task": last["task"],
}}))
"""


@pytest.mark.lerobot
@pytest.mark.slow
def test_recorded_dataset_loads_in_lerobot(
    recorded: tuple[Path, Any, list[str]], tmp_path: Path, lerobot_python: str
) -> None:
    root = recorded[0]
    out = run_reference(LOAD.format(root=str(root)), tmp_path / "ref", python=lerobot_python)
    assert out["len"] == 3 * FRAMES and out["episodes"] == 3 and out["fps"] == FPS
    assert out["front"] == [3, 48, 64] and out["wrist"] == [3, 48, 64]
    assert out["last_episode"] == 2 and out["last_ts"] == pytest.approx((FRAMES - 1) / FPS, abs=1e-4)
    want = DatasetReader(root).to_pandas(episode=2)["observation.state"].iloc[-1]
    np.testing.assert_allclose(out["state"], want, rtol=1e-6)
    assert out["task"] == "pick the cube"
