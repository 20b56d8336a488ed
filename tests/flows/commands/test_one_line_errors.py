"""Each failure the trust review saw as a traceback now ends in one ``error:`` line and the right exit code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flows.cli import main
from tests.fixtures.datasets import make_dataset


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str], str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err.splitlines(), captured.out


def one_error_line(err: list[str], *needles: str) -> str:
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith("error: ") and "Traceback" not in line
    for n in needles:
        assert n in line, line
    return line


def edit_info(root: Path, feature: str, **changes: object) -> None:
    path = root / "meta/info.json"
    info = json.loads(path.read_text())
    info["features"][feature].update(changes)
    path.write_text(json.dumps(info, indent=2))


@pytest.fixture
def small(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "ds", episodes=2, frames=4, cameras={})


@pytest.fixture
def with_video(tmp_path: Path) -> Path:
    return make_dataset(tmp_path / "dv", episodes=2, frames=6, cameras={"front": (24, 32)}, codec="h264")


# --- data the user handed us -------------------------------------------------------------------


def test_stats_shape_disagreeing_with_data_names_file_and_feature(
    small: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_info(small, "action", shape=[7])
    code, err, _ = run(["stats", small, "--workers", "0"], capsys)
    assert code == 1
    one_error_line(err, "data/chunk-000/file-000.parquet", "action", "shape [7]")


def test_unsupported_dtype_is_a_finding_in_validate_and_report(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_info(small, "action", dtype="complex128")
    code, err, out = run(["validate", small, "--no-gx"], capsys)
    assert code == 1 and err == []
    assert "unsupported dtype 'complex128'" in out and "INVALID" in out
    code, err, out = run(["report", small, "--out", tmp_path / "rep"], capsys)
    assert code == 1 and err == [] and (tmp_path / "rep/report.html").is_file()
    code, err, _ = run(["info", small], capsys)
    assert code == 1
    one_error_line(err, "meta/info.json", "features: feature 'action': dtype: unsupported dtype 'complex128'")


def test_garbage_stats_json_in_publish_is_unreadable_input(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (small / "meta/stats.json").write_text("garbage{")
    argv = ["publish", small, "--repo-id", "me/ds", "--target", "local", "--registry", tmp_path / "reg"]
    code, err, _ = run(argv, capsys)
    assert code == 1  # publish validates first and refuses
    one_error_line(err, "stats.json", "not published")
    code, err, _ = run([*argv, "--allow-invalid"], capsys)
    assert code == 2  # even when told to publish anyway, the card cannot be built from garbage
    one_error_line(err, "meta/stats.json", "robopipe stats")
    assert not any((tmp_path / "reg").rglob("*.parquet"))


@pytest.mark.parametrize("keep", [0.8, 0.3])
def test_truncated_mp4_names_the_file(
    with_video: Path, keep: float, capsys: pytest.CaptureFixture[str]
) -> None:
    (mp4,) = with_video.glob("videos/*/*/*.mp4")
    data = mp4.read_bytes()
    mp4.write_bytes(data[: int(len(data) * keep)])
    code, err, _ = run(["stats", with_video, "--workers", "0"], capsys)
    assert code == 2
    one_error_line(err, str(mp4.relative_to(with_video)))


def test_validate_report_dir_may_be_relative(
    small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, err, _ = run(["validate", small, "--report-dir", "reports", "--workers", "1"], capsys)
    assert code == 0 and err == []  # GX's INFO chatter stays off the terminal without -v
    assert (tmp_path / "reports/report.json").is_file()
    assert (tmp_path / "reports/data_docs/index.html").is_file()


# --- arguments and config files ----------------------------------------------------------------


def test_record_without_teleop_is_refused_before_anything_is_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "rec"
    argv = ["record", "--robot", "sim-so101", "--repo-id", "lab/x", "--single-task", "t", "--root", root]
    code, err, _ = run(argv, capsys)
    assert code == 2
    one_error_line(err, "--teleop")
    assert not root.exists()


def test_record_repo_id_with_trailing_newline_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["record", "--robot", "sim-so101", "--teleop", "sim-so101-leader", "--repo-id", "lab/x\n"]
    code, err, _ = run([*argv, "--single-task", "t", "--root", tmp_path / "rec"], capsys)
    assert code == 2
    one_error_line(err, "--repo-id", "ORG/NAME")
    assert not (tmp_path / "rec").exists()


def test_record_crf_out_of_range_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["record", "--robot", "sim-so101", "--teleop", "sim-so101-leader", "--repo-id", "lab/x"]
    code, err, _ = run([*argv, "--single-task", "t", "--root", tmp_path / "rec", "--crf", "100"], capsys)
    assert code == 2
    one_error_line(err, "--crf", "63", "got 100")


def test_record_log_file_in_a_missing_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "missing" / "rec.log"
    argv = ["record", "--robot", "sim-so101", "--teleop", "sim-so101-leader", "--repo-id", "lab/x"]
    argv += ["--single-task", "t", "--root", tmp_path / "rec", "--camera", "sim:32x24", "--log-file", log]
    code, err, _ = run(
        [*argv, "--num-episodes", "1", "--episode-time-s", "0.2", "--reset-time-s", "0"], capsys
    )
    assert code == 2
    one_error_line(err, str(log), "No such file or directory")
    assert not (tmp_path / "rec").exists()


def test_nested_yaml_request_file_names_the_file_and_each_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ingest.yaml"
    config.write_text(
        "record:\n  robot: sim-so101\n  repo_id: lab/x\n  single_task: t\n  fps: -5\n  bogus: 1\n"
    )
    code, err, _ = run(["ingest", "--master", tmp_path / "m", "--config", config], capsys)
    assert code == 2
    one_error_line(err, str(config), "record.fps", "record.bogus")


# --- conversion hooks ----------------------------------------------------------------------------


def scalar_task_hook() -> object:
    """A user hook giving the task once per episode instead of once per step."""
    for e in range(2):
        n = 3 + e
        yield {
            "observation/state": np.full((n, 2), e, np.float32),
            "action": np.zeros((n, 2), np.float32),
            "task": f"pick {e}",
        }


def scalar_action_hook() -> object:
    yield {"observation/state": np.zeros((3, 2), np.float32), "action": 1.5}


def test_convert_hook_scalar_task_holds_for_every_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from robopipe.format.reader import DatasetReader

    hook = f"{__name__}:scalar_task_hook"
    code, err, _ = run(["convert", "hook", hook, "--out", tmp_path / "out", "--fps", "10"], capsys)
    assert code == 0, err
    r = DatasetReader(tmp_path / "out")
    for e in range(2):
        t = r.read_episode(e).to_pandas()
        assert len(t) == 3 + e and {r.tasks[i] for i in t["task_index"]} == {f"pick {e}"}


def test_convert_hook_scalar_numeric_step_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hook = f"{__name__}:scalar_action_hook"
    code, err, _ = run(["convert", "hook", hook, "--out", tmp_path / "out", "--fps", "10"], capsys)
    assert code == 2
    one_error_line(err, "'action' is a single float")
