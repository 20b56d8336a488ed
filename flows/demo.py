"""``robopipe demo``: the ingest pipeline on the simulated SO-101, the port pipeline on a toy RLDS set, and a
two-dataset porting campaign (toy ALOHA-style HDF5 sets, one per task) published to the same registry.

Everything lands under one output folder (default ``./demo-output``): the master dataset and its
sessions, the ported dataset, HTML reports and GX Data Docs, and a local git registry the datasets are
published to (versions v0.1.0, v0.1.1, ...). Runs against ``PREFECT_API_URL`` when set, else an
embedded Prefect server (SQLite under ``$PREFECT_HOME``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from flows.models import DemoResult

log = logging.getLogger(__name__)

RLDS_MISSING = (
    'the port part needs tensorflow-datasets (pip install "robopipe[rlds]"); it is not importable here, '
    "so the port pipeline is skipped"
)


def have_tfds() -> bool:
    return (
        importlib.util.find_spec("tensorflow_datasets") is not None
        and importlib.util.find_spec("tensorflow") is not None
    )


def build_toy_rlds(data_dir: Path, episodes: int = 6, steps: int = 8, size: int = 48) -> Path:
    """A small Open-X-Embodiment-like RLDS dataset written with TensorFlow Datasets; returns its version dir."""
    from robopipe.convert.rlds import import_tfds

    tfds = import_tfds()
    # A fresh builder folder has no dataset_info.json yet: absl warns about it, which is expected here.
    logging.getLogger("absl").setLevel(logging.ERROR)

    f = tfds.features
    features = f.FeaturesDict(
        {
            "steps": f.Dataset(
                {
                    "observation": f.FeaturesDict(
                        {
                            "image": f.Image(shape=(size, size, 3), dtype=np.uint8, encoding_format="png"),
                            "state": f.Tensor(shape=(6,), dtype=np.float32),
                        }
                    ),
                    "action": f.Tensor(shape=(6,), dtype=np.float32),
                    "is_first": f.Scalar(dtype=np.bool_),
                    "is_last": f.Scalar(dtype=np.bool_),
                    "is_terminal": f.Scalar(dtype=np.bool_),
                    "language_instruction": f.Text(),
                }
            ),
            "episode_metadata": f.FeaturesDict({"episode_id": f.Scalar(dtype=np.int32)}),
        }
    )
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    eps = []
    for i in range(episodes):
        steps_i = []
        for t in range(steps):
            img = np.stack(
                [
                    (x * 4 + i * 37) % 256,
                    (y * 4 + t * 13) % 256,
                    np.full_like(x, (i * 53 + t * 7) % 200 + 20),
                ],
                -1,
            )
            steps_i.append(
                {
                    "observation": {
                        "image": img.astype(np.uint8),
                        "state": rng.standard_normal(6).astype(np.float32),
                    },
                    "action": rng.standard_normal(6).astype(np.float32),
                    "is_first": t == 0,
                    "is_last": t == steps - 1,
                    "is_terminal": t == steps - 1,
                    "language_instruction": ["pick up the cube", "open the drawer"][i % 2],
                }
            )
        eps.append((f"ep{i:03d}", {"steps": steps_i, "episode_metadata": {"episode_id": i}}))
    # tfds prints "Downloading and preparing dataset ..." on stdout; nothing is downloaded here.
    with contextlib.redirect_stdout(io.StringIO()):
        tfds.dataset_builders.store_as_tfds_dataset(
            name="toy_rlds",
            version="1.0.0",
            features=features,
            data_dir=str(data_dir),
            split_datasets={"train": eps},
            download_config=tfds.download.DownloadConfig(num_shards=2),
            disable_shuffling=True,
        )
    return data_dir / "toy_rlds" / "1.0.0"


def build_toy_hdf5(folder: Path, task: int, episodes: int = 2, steps: int = 10, size: int = 48) -> Path:
    """ALOHA/ACT-style ``episode_<i>.hdf5`` files (qpos, action, one camera); returns the folder."""
    import h5py

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(task)
    y, x = np.mgrid[0:size, 0:size]
    for e in range(episodes):
        frames = np.stack(
            [
                np.stack([(x * 4 + t * 9) % 256, (y * 4 + e * 31) % 256, np.full_like(x, 60 + 70 * task)], -1)
                for t in range(steps)
            ]
        ).astype(np.uint8)
        with h5py.File(folder / f"episode_{e}.hdf5", "w") as f:
            f.create_dataset("observations/qpos", data=rng.standard_normal((steps, 6)).astype(np.float32))
            f.create_dataset("observations/images/top", data=frames)
            f.create_dataset("action", data=rng.standard_normal((steps, 6)).astype(np.float32))
    return folder


TOY_TASKS = ("stack the blocks", "wipe the table")


def write_campaign(out: Path) -> Path:
    """The demo's campaign catalogue: two toy HDF5 sets (one per task), published to the demo registry."""
    import yaml

    src = out / "campaign-sources"
    datasets = []
    for i, task in enumerate(TOY_TASKS):
        name = f"toy-hdf5-{i}"
        build_toy_hdf5(src / name, i)
        mapping = src / f"{name}.yaml"
        mapping.write_text(
            "fps: 10\nrobot_type: aloha\ncameras: {top: observations/images/top}\n"
            f"state: [observations/qpos]\naction: [action]\ntask: {{default: {task}}}\n"
        )
        datasets.append(
            {
                "name": name,
                "format": "hdf5",
                "source": str(src / name),
                "mapping": str(mapping),
                "repo_id": f"demo/{name}",
            }
        )
    catalog = out / "campaign.yaml"
    catalog.write_text(
        yaml.safe_dump(
            {
                "name": "demo-campaign",
                "codec": "h264",
                "registry": str(out / "registry"),
                "state_dir": str(out / "campaign-state"),
                "datasets": datasets,
            }
        )
    )
    return catalog


def ingest_request(out: Path, episodes: int = 3, workers: int = 2) -> Any:
    from flows.models import IngestRequest

    return IngestRequest.model_validate(
        {
            "record": {
                "robot": "sim-so101",
                "teleop": "sim-so101-leader",
                "cameras": ["front=sim:64x48"],
                "repo_id": "demo/so101-pick-cube",
                "single_task": "pick the cube",
                "fps": 15,
                "num_episodes": episodes,
                "episode_time_s": 1.0,
                "reset_time_s": 0,
                "keyboard": False,
                "collector": "robopipe demo",
            },
            "master": str(out / "so101-master"),
            "report_dir": str(out / "reports" / "ingest"),
            "publish": {
                "repo_id": "demo/so101-pick-cube",
                "target": "local",
                "registry": str(out / "registry"),
            },
            "execution": {"workers": workers},
        }
    )


def port_request(out: Path, source: Path, workers: int = 2) -> Any:
    from flows.models import PortRequest

    return PortRequest.model_validate(
        {
            "convert": {
                "source": {"kind": "rlds", "path": str(source)},
                "out": str(out / "toy-rlds-lerobot"),
                "fps": 10,
                "shards": 3,
                "encoder": {"codec": "h264", "crf": 23, "preset": "ultrafast"},
            },
            "report_dir": str(out / "reports" / "port"),
            "publish": {"repo_id": "demo/toy-rlds", "target": "local", "registry": str(out / "registry")},
            "execution": {"workers": workers},
        }
    )


DEMO_MARKER = ".robopipe-demo-output"


def prepare_out(out: Path) -> Path:
    """``out`` resolved and emptied: only a previous demo output (its marker file, or the layout of one written
    before the marker existed) or an empty folder is replaced; anything else is refused, never deleted."""
    from robopipe.errors import ConfigError

    out = out.resolve()
    if out.is_dir() and any(out.iterdir()):
        legacy = (out / "so101-master" / "meta" / "info.json").is_file() and (out / "registry").is_dir()
        if not ((out / DEMO_MARKER).is_file() or legacy):
            raise ConfigError(
                f"--out {out}: exists and is not a previous demo output; pick a new or empty folder "
                "(only demo outputs are replaced)"
            )
    if out.is_dir() and not out.is_symlink():
        shutil.rmtree(out)
    elif out.exists() or out.is_symlink():
        raise ConfigError(f"--out {out}: not a folder")
    out.mkdir(parents=True)
    (out / DEMO_MARKER).write_text("written by robopipe demo; the next demo run replaces this folder\n")
    return out


def run_demo(out: Path, episodes: int = 3, workers: int = 2) -> DemoResult:
    """Run both pipelines into ``out`` (a previous demo output there is replaced); returns what happened."""
    from flows.campaign import CampaignRequest, campaign_flow
    from flows.ingest import ingest_flow
    from flows.models import DemoResult
    from flows.port import port_flow

    out = prepare_out(out)
    ingest = ingest_flow(ingest_request(out, episodes, workers))
    port = skipped = None
    if have_tfds():
        source = build_toy_rlds(out / "rlds-source")
        port = port_flow(port_request(out, source, workers))
    else:
        skipped = RLDS_MISSING
    campaign = campaign_flow(CampaignRequest(catalog=write_campaign(out)))
    return DemoResult(out=out, ingest=ingest, port=port, port_skipped=skipped, campaign=campaign)
