"""Stage flow ``record``: one teleoperated session into a dataset (runs next to the devices)."""

from __future__ import annotations

from prefect import flow

from flows import artifacts
from recording import RecordRequest, RecordResult
from tasks.record import record_session_task


@flow(name="record")
def record_flow(request: RecordRequest) -> RecordResult:
    """Record a session; the run table lists every saved episode."""
    result = record_session_task(request)
    artifacts.run_table(
        artifacts.artifact_key("record", result.repo_id),
        [
            {"episode": e.episode_index, "frames": e.frames, "skipped_camera_frames": e.skipped_camera_frames}
            for e in result.episodes
        ],
        f"recorded into {result.root}: {result.total_episodes} episodes, {result.total_frames} frames",
    )
    return result
