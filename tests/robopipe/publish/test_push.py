"""``IncrementalPublisher``: --push-every N while recording, then a tagged final publish."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from robopipe.errors import HubAuthError, HubUnavailableError
from robopipe.publish import IncrementalPublisher, LocalRegistry, PublishRequest, PublishResult


def test_push_every_n_episodes_then_tag(dataset_factory: Callable[..., Path], tmp_path: Path) -> None:
    root = dataset_factory(seed=0)
    req = PublishRequest(
        root=root, repo_id="lab/rec", tag="v1.0.0", target="local", registry=tmp_path / "reg"
    )
    pusher = IncrementalPublisher(req, every=2)
    pushed = [pusher.episode_saved() for _ in range(5)]
    assert [p is not None for p in pushed] == [False, True, False, True, False]
    assert pushed[1] is not None and pushed[1].tags == ("v3.0",)  # checkpoints are untagged (but for v3.0)
    assert pushed[3] is not None and pushed[3].commits == ()  # nothing new on disk: nothing sent
    final = pusher.finish()
    assert final.tags == ("v1.0.0", "v3.0")
    assert LocalRegistry(tmp_path / "reg").refs("lab/rec")[1]["v1.0.0"] == final.commit


def test_push_failures_do_not_stop_recording(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    req = PublishRequest(root=tmp_path, repo_id="lab/rec", target="local", registry=tmp_path / "reg")
    calls: list[PublishRequest] = []

    def flaky(request: PublishRequest, token: str | None) -> PublishResult:
        calls.append(request)
        raise HubUnavailableError("503 from the Hub")

    pusher = IncrementalPublisher(req, every=1, publish_fn=flaky)
    assert pusher.episode_saved() is None and len(calls) == 1
    assert "will retry at the next checkpoint" in caplog.text

    def denied(request: PublishRequest, token: str | None) -> PublishResult:
        raise HubAuthError("401")

    with pytest.raises(HubAuthError):
        IncrementalPublisher(req, every=1, publish_fn=denied).episode_saved()
    with pytest.raises(ValueError, match="push-every"):
        IncrementalPublisher(req, every=0)


def test_push_while_recording_with_the_writer(tmp_path: Path) -> None:
    """Each checkpoint is a loadable snapshot: the writer is flushed first, its temporaries are never sent."""
    import numpy as np

    from robopipe.format.reader import DatasetReader
    from robopipe.format.writer import DatasetWriter
    from robopipe.publish import DownloadRequest, download

    root, reg = tmp_path / "rec", tmp_path / "reg"
    feats = {"observation.state": {"dtype": "float32", "shape": [3], "names": ["x", "y", "z"]}}
    writer = DatasetWriter.create(root, fps=10, features=feats, robot_type="sim")
    req = PublishRequest(root=root, repo_id="lab/live", tag="v1.0.0", target="local", registry=reg)
    pusher = IncrementalPublisher(req, every=2, flush=writer.flush)
    snapshots = []
    for ep in range(4):
        for i in range(3):
            writer.add_frame({"observation.state": np.full(3, ep + i / 10, dtype=np.float32)}, task="reach")
        writer.save_episode(metadata={"success": ep % 2 == 0})
        pushed = pusher.episode_saved()
        if pushed is not None:
            snapshots.append(pushed.commit)
    writer.finalize()
    final = pusher.finish()
    assert len(snapshots) == 2 and final.tags == ("v1.0.0", "v3.0")
    for n, commit in zip((2, 4), snapshots, strict=True):
        assert commit is not None
        out = download(
            DownloadRequest(
                repo_id="lab/live", revision=commit, out=tmp_path / commit[:8], target="local", registry=reg
            )
        )
        r = DatasetReader(out.out)
        assert r.num_episodes == n and r.num_frames == 3 * n
