"""Whole-run properties: read-only, valid datasets from robopipe and LeRobot, image mode, request model."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from robopipe.validate import ValidateRequest, validate, validate_dataset
from tests.fixtures.lerobot_ref import run_reference


def tree_digest(root: Path) -> str:
    """Hash of every path, content and mtime under ``root``."""
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        st = p.stat()
        h.update(p.relative_to(root).as_posix().encode())
        h.update(str(st.st_mtime_ns).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def test_validation_never_modifies_the_dataset(broken: Path, tmp_path: Path) -> None:
    video = broken / "videos/observation.images.front/chunk-000/file-000.mp4"
    video.write_bytes(video.read_bytes()[:-200])  # also exercise the error paths
    before = tree_digest(broken)
    suite = tmp_path / "suite.json"
    suite.write_text(
        json.dumps(
            {
                "name": "s",
                "expectations": [
                    {
                        "type": "expect_column_values_to_be_between",
                        "kwargs": {"column": "action_0", "min_value": 0},
                    }
                ],
            }
        )
    )
    bounds = tmp_path / "b.yaml"
    bounds.write_text("action: {min: -1, max: 1}\n")
    report = validate_dataset(
        broken, full_decode=True, suites=[suite], bounds=bounds, report_dir=tmp_path / "rep"
    )
    assert not report.valid
    assert tree_digest(broken) == before


def test_image_mode_dataset_is_valid(dataset_factory) -> None:
    root = dataset_factory(camera_dtype="image", frames=[5, 6])
    report = validate_dataset(root, full_decode=True)
    assert report.findings == [], [f.model_dump() for f in report.findings]


def test_request_model_drives_validation(valid_root: Path, tmp_path: Path) -> None:
    req = ValidateRequest(root=str(valid_root), gx=False, full_decode=True, report_dir=str(tmp_path / "r"))
    report = validate(req)
    assert report.valid and report.request == req
    assert (tmp_path / "r/report.json").is_file()
    with pytest.raises(ValueError, match="extra"):
        ValidateRequest.model_validate({"root": "x", "unknown": 1})


def test_findings_are_capped_per_code(broken: Path) -> None:
    import numpy as np

    from tests.robopipe.validate.helpers import DATA, rewrite_parquet, set_column

    rewrite_parquet(broken / DATA, lambda t: set_column(t, "index", np.arange(t.num_rows) + 1000))
    req = ValidateRequest(root=str(broken), gx=False, max_findings_per_code=2)
    report = validate(req)
    assert len(report.by_code("RP306")) == 2 and report.suppressed["RP306"] == 1
    assert report.counts["error"] >= 3


LEROBOT_SCRIPT = """
import json, sys
import numpy as np
from pathlib import Path
from lerobot.datasets.lerobot_dataset import LeRobotDataset
root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("ds")
feats = {
    "observation.state": {"dtype": "float32", "shape": (6,), "names": [f"j{i}" for i in range(6)]},
    "action": {"dtype": "float32", "shape": (6,), "names": [f"j{i}" for i in range(6)]},
    "observation.images.front": {"dtype": "video", "shape": (48, 64, 3), "names": ["height", "width", "channels"]},
}
ds = LeRobotDataset.create("local/ref", fps=10, features=feats, root=Path("ds"), robot_type="so101", use_videos=True)
rng = np.random.default_rng(0)
for e in range(3):
    for t in range(8 + e):
        ds.add_frame({"observation.state": rng.normal(size=6).astype(np.float32),
                      "action": rng.normal(size=6).astype(np.float32),
                      "observation.images.front": rng.integers(0, 255, (48, 64, 3), dtype=np.uint8),
                      "task": ["pick cube", "place cube"][e % 2]})
    ds.save_episode()
ds.finalize()
print(json.dumps({"root": str(Path("ds").resolve())}))
"""


@pytest.mark.lerobot
def test_lerobot_written_dataset_has_no_errors(lerobot_python: str, tmp_path: Path) -> None:
    out = run_reference(LEROBOT_SCRIPT, tmp_path / "ref", python=lerobot_python)
    root = Path(out["root"])
    before = tree_digest(root)
    report = validate_dataset(root, full_decode=True, report_dir=tmp_path / "rep")
    assert report.errors() == [], [f.model_dump() for f in report.findings]
    assert report.frames_checked == 27 and report.video_frames_checked == 27
    assert report.gx is not None and report.gx.failed == 0
    assert tree_digest(root) == before
    shutil.rmtree(tmp_path / "ref" / "hf", ignore_errors=True)


def test_report_json_round_trip(broken: Path) -> None:
    from robopipe.validate import ValidationReport

    (broken / "meta/stats.json").unlink()
    report = validate_dataset(broken, gx=False)
    again = ValidationReport.model_validate_json(report.model_dump_json())
    assert again == report and again.counts == {"error": 0, "warning": 1, "info": 0}


def test_core_layers_do_not_import_prefect_or_dask() -> None:
    import ast

    import robopipe

    base = Path(robopipe.__file__).parent
    for p in [*(base / "validate").glob("*.py"), *(base / "report").glob("*.py")]:
        for node in ast.walk(ast.parse(p.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not [
                n for n in names if n.split(".")[0] in ("prefect", "dask", "distributed", "tasks", "flows")
            ], p
