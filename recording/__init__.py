"""Recording sessions (teleoperate → LeRobotDataset v3.0), replay, pacing and control keys."""

from recording.models import (
    EpisodeReport,
    RecordRequest,
    RecordResult,
    ReplayRequest,
    ReplayResult,
    load_record_config,
)
from recording.pacing import EpisodeTiming, Pacer

__all__ = [
    "EpisodeReport",
    "EpisodeTiming",
    "Pacer",
    "RecordRequest",
    "RecordResult",
    "ReplayRequest",
    "ReplayResult",
    "load_record_config",
    "record_session",
    "replay_episode",
]


def __getattr__(name: str) -> object:  # lazy: keep `import recording` light
    if name == "record_session":
        from recording.session import record_session

        return record_session
    if name == "replay_episode":
        from recording.replay import replay_episode

        return replay_episode
    raise AttributeError(name)
