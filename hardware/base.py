"""Small ABCs for hardware: motor buses, cameras, robots and teleoperators (hardware layer, no prefect).

Every device has ``connect()``/``disconnect()``, works as a context manager, and describes its data
(``features``) without being connected, so a recorder can build dataset features up front. Methods that
need the device are guarded with :func:`requires_connection`, which raises
:class:`~robopipe.errors.DeviceNotConnectedError`.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable
from types import TracebackType
from typing import Any, ParamSpec, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from hardware.calibration import MotorNormMode
from robopipe.errors import DeviceNotConnectedError

P = ParamSpec("P")
R = TypeVar("R")

#: Feature description: ``float`` for a scalar joint value, ``(h, w, c)`` for an image.
FeatureType = type | tuple[int, ...]


def requires_connection(method: Callable[P, R]) -> Callable[P, R]:
    """Raise :class:`DeviceNotConnectedError` when the device (first argument) is not connected."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        device = args[0]
        if not getattr(device, "is_connected", False):
            raise DeviceNotConnectedError(
                f"{device} is not connected: {method.__name__}() needs a connected device; call connect() "
                "first or use it as a context manager (`with device: ...`)"
            )
        return method(*args, **kwargs)

    return wrapper


class Motor(BaseModel):
    """One motor on a bus."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int = Field(ge=0, le=252, description="Bus id (1–252).")
    model: str = Field(description="Model name, e.g. 'sts3215', 'xl330-m288', 'DM4310'.")
    norm_mode: MotorNormMode = Field(
        default=MotorNormMode.DEGREES, description="How positions are normalised."
    )


class Device(ABC):
    """Connect/disconnect plus context-manager support."""

    @property
    @abstractmethod
    def is_connected(self) -> bool:
        """True between a successful ``connect()`` and ``disconnect()``."""

    @abstractmethod
    def connect(self) -> None:
        """Open the device (idempotent callers should check ``is_connected``)."""

    @abstractmethod
    def disconnect(self) -> None:
        """Release the device."""

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.is_connected:
            self.disconnect()


class MotorBus(Device):
    """A bus of addressable motors with named registers."""

    motors: dict[str, Motor]

    @abstractmethod
    def read(self, register: str, motor: str, normalize: bool = True) -> float:
        """Read one register of one motor."""

    @abstractmethod
    def write(self, register: str, motor: str, value: float, normalize: bool = True) -> None:
        """Write one register of one motor and wait for its acknowledgement."""

    @abstractmethod
    def sync_read(
        self, register: str, motors: list[str] | None = None, normalize: bool = True
    ) -> dict[str, float]:
        """Read one register from several motors in one transaction."""

    @abstractmethod
    def sync_write(self, register: str, values: dict[str, float], normalize: bool = True) -> None:
        """Write one register of several motors in one transaction (no acknowledgement)."""


class Camera(Device):
    """A camera giving RGB frames of a fixed shape."""

    @property
    @abstractmethod
    def shape(self) -> tuple[int, int, int]:
        """``(height, width, channels)`` of every frame."""

    @abstractmethod
    def read(self) -> Any:
        """Block until a new frame arrives and return it (HxWxC uint8)."""

    @abstractmethod
    def read_latest(self, max_age_ms: int = 500) -> Any:
        """Return the newest frame without waiting; raise if it is older than ``max_age_ms``."""


class Robot(Device):
    """A robot: observations in, actions out."""

    #: Name used for calibration folders and ``robot_type`` in datasets (LeRobot's ``robot.name``).
    name: str = "robot"

    @property
    @abstractmethod
    def observation_features(self) -> dict[str, FeatureType]:
        """``{"<motor>.pos": float, "<camera>": (h, w, c)}``; available without connecting."""

    @property
    @abstractmethod
    def action_features(self) -> dict[str, FeatureType]:
        """``{"<motor>.pos": float}``; available without connecting."""

    @abstractmethod
    def get_observation(self) -> dict[str, Any]:
        """Read every sensor once."""

    @abstractmethod
    def send_action(self, action: dict[str, float]) -> dict[str, float]:
        """Send goals; returns the action actually sent (after clipping)."""


class Teleoperator(Device):
    """Something a human uses to produce actions (leader arm, keyboard)."""

    name: str = "teleoperator"

    @property
    @abstractmethod
    def action_features(self) -> dict[str, FeatureType]:
        """Keys and types of :meth:`get_action`; available without connecting."""

    @abstractmethod
    def get_action(self) -> dict[str, float]:
        """Read the operator's current command."""


def dataset_features(features: dict[str, FeatureType], prefix: str) -> dict[str, dict[str, Any]]:
    """Turn device features into LeRobot dataset features.

    Scalars are gathered into one float32 vector (``observation.state`` for ``prefix="observation"``,
    ``action`` for ``prefix="action"``) with the joint names; images become ``<prefix>.images.<name>``.
    """
    names = [key for key, ftype in features.items() if ftype is float]
    out: dict[str, dict[str, Any]] = {}
    if names:
        key = "observation.state" if prefix == "observation" else prefix
        out[key] = {"dtype": "float32", "shape": [len(names)], "names": names}
    for key, ftype in features.items():
        if isinstance(ftype, tuple):
            out[f"{prefix}.images.{key}"] = {
                "dtype": "video",
                "shape": list(ftype),
                "names": ["height", "width", "channels"],
            }
    return out
