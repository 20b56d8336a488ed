"""LeRobot's and OpenK's recording vocabulary: nested --config_path YAML, draccus-style flags, shipped configs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from flows.cli import main
from hardware.config import load_device_config
from recording.models import load_record_config
from recording.vocabulary import from_lerobot_layout, tag_list
from robopipe.errors import ConfigError
from robopipe.format.info import load_info
from robopipe.format.reader import DatasetReader

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_shipped_configs_parse_into_requests_and_devices() -> None:
    so = load_record_config(CONFIGS / "so101_record.yaml", {})
    assert (so.repo_id, so.single_task, so.fps, so.num_episodes) == (
        "my_user/so101_pick_cube",
        "Grab the cube and put it in the bin",
        30,
        10,
    )
    assert (so.episode_time_s, so.reset_time_s, so.video, so.push_to_hub, so.tags) == (
        30,
        10,
        True,
        False,
        ["so101", "tutorial"],
    )
    assert (so.encoder.codec, so.encoder.crf, so.encoder.g, so.encoder.preset) == ("h264", 23, 2, "ultrafast")
    robot = load_device_config(so.robot)
    assert (
        robot.type == "so101_follower"
        and robot.port == "/dev/ttyACM0"
        and robot.id == "my_awesome_follower_arm"
    )
    assert robot.cameras["front"]["width"] == 640
    assert load_device_config(so.teleop).type == "so101_leader"

    ok = load_record_config(CONFIGS / "openk-1-alpha_record.yaml", {"num_episodes": 2})
    assert ok.num_episodes == 2 and ok.push_every == 5 and ok.log_file == Path("outputs/openk_record.log")
    follower = load_device_config(ok.robot)
    assert follower.type == "openk-1-alpha_follower" and follower.sts_port == "/dev/ttyUSB0"
    assert load_device_config(ok.teleop).type == "openk-1-sts_leader"


def test_unknown_keys_are_named_and_ignored_ones_listed() -> None:
    with pytest.raises(ConfigError, match=r"dataset\.num_episode\b"):
        from_lerobot_layout({"dataset": {"repo_id": "a/b", "num_episode": 3}})
    with pytest.raises(ConfigError, match=r"rgb_encoder\.quality"):
        from_lerobot_layout({"dataset": {"rgb_encoder": {"quality": 3}}})
    with pytest.raises(ConfigError, match="policy"):
        from_lerobot_layout({"policy": {"path": "x"}})
    fields, enc = from_lerobot_layout(
        {
            "dataset": {"repo_id": "a/b", "vcodec": "libsvtav1", "video_encoding_batch_size": 4},
            "display_data": True,
        }
    )
    assert fields == {"repo_id": "a/b"} and enc == {"codec": "libsvtav1"}
    assert tag_list(["[a, b]"]) == ["a", "b"] and tag_list(["a", "b"]) == ["a", "b"]


def test_record_with_lerobot_flags_on_the_simulator(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    args = [
        "record",
        "--robot.type=sim-so101",
        "--teleop.type=sim-so101-leader",
        "--camera", "sim:64x48",
        "--dataset.repo_id=me/flags",
        f"--dataset.root={root}",
        "--dataset.single_task=wave",
        "--dataset.num_episodes=2",
        "--dataset.fps=10",
        "--dataset.episode_time_s=0.5",
        "--dataset.reset_time_s=0",
        "--dataset.push_to_hub=false",
        "--dataset.private=false",
        "--dataset.tags=[so101, demo]",
        "--dataset.video=true",
        "--dataset.video_encoding_batch_size=1",
        "--dataset.rgb_encoder.vcodec=h264",
        "--dataset.rgb_encoder.g=5",
        "--dataset.rgb_encoder.crf=28",
        "--display_data=false",
        "--push-freq=10",
    ]  # fmt: skip
    assert main(args) == 0
    r = DatasetReader(root)
    assert r.num_episodes == 2 and r.num_frames == 10 and r.fps == 10
    info = load_info(root).features["observation.images.front"].info
    assert info is not None and (info["video.g"], info["video.crf"], info["video.codec"]) == (5, 28, "h264")
    # --resume=true appends (LeRobot's spelling)
    again = [a.replace("num_episodes=2", "num_episodes=1") for a in args]
    assert main([*again, "--resume=true"]) == 0
    assert DatasetReader(root).num_episodes == 3


def test_record_config_path_with_nested_layout(tmp_path: Path) -> None:
    cfg = tmp_path / "rec.yaml"
    cfg.write_text(
        "robot: {type: sim-so101}\nteleop: {type: sim-so101-leader}\n"
        "dataset: {repo_id: me/nested, single_task: wave, fps: 10, num_episodes: 1, episode_time_s: 0.4,"
        " reset_time_s: 0, video: false, push_to_hub: false}\nplay_sounds: true\nresume: false\n"
    )
    root = tmp_path / "ds"
    assert (
        main(["record", "--config_path", str(cfg), "--dataset.root", str(root), "--camera", "sim:64x48"]) == 0
    )
    r = DatasetReader(root)
    assert r.num_episodes == 1 and r.image_keys == ["observation.images.front"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("robot: {type: sim-so101}\ndataset: {repo_id: me/x, single_task: t, episodes: 3}\n")
    assert main(["record", "--config_path", str(bad)]) == 2  # one error line naming dataset.episodes


def test_help_has_no_negative_noise(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("record", "merge", "ingest", "delete-episodes"):
        assert main([command, "--help"]) == 0
        out = capsys.readouterr().out
        assert "--empty-" not in out and "--no-no-" not in out and "--no-dataset" not in out, command
    assert main(["record", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--dataset.repo_id" in out and "--no-video" in out and "--push-freq" in out


@pytest.mark.lerobot
def test_so101_config_parses_in_lerobot_061(tmp_path: Path) -> None:
    """The shipped SO-101 file is a valid lerobot-record config for LeRobot 0.6.1 too."""
    py = os.environ.get("LEROBOT061_PYTHON")
    if not py or not Path(py).is_file():
        pytest.skip("LeRobot 0.6.1 interpreter not available (LEROBOT061_PYTHON)")
    code = (
        "import json, sys, draccus\n"
        "from lerobot.scripts.lerobot_record import RecordConfig\n"
        "c = draccus.parse(RecordConfig, config_path=sys.argv[1], args=[])\n"
        "print(json.dumps({'repo_id': c.dataset.repo_id, 'n': c.dataset.num_episodes, 'port': c.robot.port,"
        " 'cams': list(c.robot.cameras), 'vcodec': c.dataset.rgb_encoder.vcodec, 'tport': c.teleop.port}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "HF_"))}
    env.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    proc = subprocess.run(
        [py, "-c", code, str(CONFIGS / "so101_record.yaml")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {
        "repo_id": "my_user/so101_pick_cube",
        "n": 10,
        "port": "/dev/ttyACM0",
        "cams": ["front"],
        "vcodec": "h264",
        "tport": "/dev/ttyACM1",
    }


def test_robot_cameras_dict_on_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cams = "--robot.cameras={front: {type: sim, width: 64, height: 48, fps: 10}}"
    common = ["--teleop.type=sim-so101-leader", "--dataset.repo_id=me/cams", "--dataset.single_task=t"]
    args = ["record", "--robot.type=sim-so101", cams, *common, f"--dataset.root={tmp_path / 'ds'}",
            "--dataset.num_episodes=1", "--dataset.fps=10", "--dataset.episode_time_s=0.4",
            "--dataset.reset_time_s=0", "--dataset.push_to_hub=false"]  # fmt: skip
    assert main(args) == 0
    r = DatasetReader(tmp_path / "ds")
    assert r.video_keys == ["observation.images.front"] and r.num_frames == 4
    capsys.readouterr()
    assert main(["record", "--robot-path", "sim-so101", cams, *common]) == 2
    assert "--robot.cameras goes with --robot.type" in capsys.readouterr().err
