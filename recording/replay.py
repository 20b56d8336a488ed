"""Replay a recorded episode's actions on a robot at the dataset's fps (``lerobot-replay``) (recording layer)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from hardware.base import Robot
from recording.models import ReplayRequest, ReplayResult
from recording.pacing import Pacer
from robopipe.errors import ConfigError

logger = logging.getLogger(__name__)


def load_actions(request: ReplayRequest) -> tuple[np.ndarray, list[str], int]:
    """``(T, D)`` actions of the episode, their names and the dataset fps."""
    from robopipe.format.reader import DatasetReader

    reader = DatasetReader(request.root)
    if request.episode >= reader.num_episodes:
        raise ConfigError(
            f"{request.root}: episode {request.episode} does not exist (the dataset has {reader.num_episodes})"
        )
    spec = reader.features.get(request.action_key)
    if spec is None:
        raise ConfigError(
            f"{request.root}: no feature {request.action_key!r}; features: {sorted(reader.features)}"
        )
    names = (
        list(spec.names)
        if isinstance(spec.names, list)
        else [f"{request.action_key}_{i}" for i in range(spec.shape[0])]
    )
    table = reader.read_episode(request.episode, columns=[request.action_key])
    actions = np.asarray(table[request.action_key].to_pylist(), dtype=np.float64)
    return actions.reshape(len(actions), -1), names, reader.fps


def replay_episode(
    request: ReplayRequest,
    *,
    robot: Robot | None = None,
    out: Callable[[str], None] = print,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayResult:
    """Send (or, with ``dry_run``, print) every action of the episode, one per ``1/fps`` on absolute deadlines.

    ``robot`` may be given already built (and connected, in which case it is left connected).
    """
    actions, names, fps = load_actions(request)
    if request.dry_run:
        out("frame  " + "  ".join(names))
        for i, row in enumerate(actions):
            out(f"{i:5d}  " + "  ".join(f"{v:.3f}" for v in row))
        return ReplayResult(
            frames=len(actions), fps=fps, names=names, final_action=dict(zip(names, map(float, actions[-1])))
        )
    if robot is None:
        from hardware.factory import make_robot

        robot = make_robot(request.robot, port=request.robot_port, id=request.robot_id)
    own = not robot.is_connected
    if own:
        robot.connect()
    try:
        unknown = sorted(set(names) - set(robot.action_features))
        if unknown:
            raise ConfigError(
                f"episode actions {unknown} are not actions of {robot}; it accepts {list(robot.action_features)}"
            )
        pacer = Pacer(fps, clock=clock, sleep=sleep)
        pacer.start()
        last: dict[str, float] = {}
        for row in actions:
            pacer.wait()
            last = robot.send_action(dict(zip(names, map(float, row))))
            pacer.done()
        timing = pacer.timing()
        logger.info(
            "replayed episode %d of %s: %d actions at %d fps (jitter p99 %.2f ms)",
            request.episode, request.root, len(actions), fps, timing.jitter_p99_ms,
        )  # fmt: skip
    finally:
        if own:
            robot.disconnect()
    return ReplayResult(frames=len(actions), fps=fps, names=names, timing=timing, final_action=last)
