"""Injected defects are found at the right episode and frames; clean episodes stay clean."""

from __future__ import annotations

from pathlib import Path

import pytest

from robopipe.quality import compute_quality
from robopipe.quality.store import read_episodes, read_frames, read_summary
from tests.fixtures.defects import CLEAN, DEFECTS, FRAMES

pytestmark = pytest.mark.slow


@pytest.fixture
def results(defect_root: Path) -> dict[int, object]:
    report = compute_quality(defect_root)
    assert report.episodes == 8
    return {q.episode_index: q for q in read_episodes(defect_root)}


@pytest.mark.parametrize("episode", sorted(DEFECTS))
def test_each_defect_found_with_its_frames(results: dict, episode: int) -> None:
    kind, start, end = DEFECTS[episode]
    found = [f for f in results[episode].findings if f.kind == kind]
    assert found, f"episode {episode}: no {kind} among {[f.kind for f in results[episode].findings]}"
    if kind != "duplicate_episode":  # episode-level
        assert (found[0].start, found[0].end) == (start, end)
    assert results[episode].level in ("error", "warning")


def test_duplicate_points_at_the_original(results: dict) -> None:
    (f,) = [f for f in results[4].findings if f.kind == "duplicate_episode"]
    assert "episode 0" in f.message
    assert not any(f.kind == "duplicate_episode" for f in results[0].findings)


@pytest.mark.parametrize("episode", CLEAN)
def test_clean_episodes_not_flagged(results: dict, episode: int) -> None:
    bad = [f for f in results[episode].findings if f.level != "info"]
    assert bad == []
    assert results[episode].score == 1.0 or results[episode].level == "info"


def test_only_defective_episodes_are_suspects(defect_root: Path) -> None:
    report = compute_quality(defect_root)
    assert {q.episode_index for q in report.suspects} == set(DEFECTS)
    assert report.suspects[0].score <= report.suspects[-1].score  # worst first
    assert report.has_errors
    assert read_summary(defect_root)["episodes"] == 8


def test_frame_signals_stored_per_episode(defect_root: Path) -> None:
    compute_quality(defect_root)
    frames = read_frames(defect_root, 5)
    assert len(frames["luma.front"]) == FRAMES
    assert frames["luma.front"][30:45].max() <= 24 < frames["luma.front"][:30].min()
    assert frames["idle"].sum() == 0
    assert read_frames(defect_root, 2)["idle"][20:70].all()


def test_threaded_run_gives_the_same_results(defect_root: Path) -> None:
    from robopipe.execution import ThreadExecutor

    compute_quality(defect_root)
    serial = read_episodes(defect_root)
    frames = (defect_root / "meta/robopipe/quality/frames.parquet").read_bytes()
    with ThreadExecutor(3) as threads:
        compute_quality(defect_root, executor=threads)
    assert read_episodes(defect_root) == serial
    assert (defect_root / "meta/robopipe/quality/frames.parquet").read_bytes() == frames
    assert not list((defect_root / "meta/robopipe").glob(".quality-staging-*"))  # staging removed


def test_refused_while_another_writer_holds_the_dataset(defect_root: Path) -> None:
    from robopipe.errors import DatasetInUseError
    from robopipe.format.lock import writer_lock

    with writer_lock(defect_root), pytest.raises(DatasetInUseError):
        compute_quality(defect_root)
    assert not (defect_root / "meta/robopipe/quality").exists()
