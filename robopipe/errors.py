"""The one error tree of robopipe (core layer).

Every error subclasses :class:`RobopipeError` and, where one fits, a builtin too, so callers can catch
either (``except FormatError`` or ``except ValueError``). :class:`TransientError` marks failures that
may succeed when retried (network 5xx/429, timeouts); task retry policies retry only those.
Messages say what, where (root / episode / file / feature) and expected vs actual, and the fix when
there is one.

``exit_code`` says how the CLI ends on each error: 2 when the input cannot be read or used (not a
dataset, unreadable/corrupt file, bad arguments or config, unreachable device/Hub, disk full) and 1 when
it was read and is invalid (format violations, statistics that cannot be computed, validation errors).
"""

from __future__ import annotations

from typing import Any


class RobopipeError(Exception):
    """Base class of every error robopipe raises on purpose."""

    exit_code: int = 2


class TransientError(RobopipeError):
    """Marker: the operation may succeed if retried (timeouts, HTTP 429/5xx, busy devices)."""


# --- dataset format -------------------------------------------------------------------------------
class FormatError(RobopipeError, ValueError):
    """A dataset (or a frame given to the writer) does not follow LeRobotDataset v3.0."""

    exit_code = 1


class DatasetNotFoundError(RobopipeError, FileNotFoundError):
    """The given root is not a dataset (no ``meta/info.json``)."""


class UnsupportedVersionError(FormatError):
    """The dataset's ``codebase_version`` is not v3.x."""

    exit_code = 2


class CorruptFileError(FormatError):
    """A file of the dataset cannot be read (truncated parquet footer, unreadable mp4, bad JSON)."""

    exit_code = 2


class SchemaMismatchError(FormatError):
    """Features, fps or robot type differ where they must match (resume, merge)."""


class FrameError(FormatError):
    """A frame or episode given to the writer has a wrong key, shape or dtype."""


class UnsafePathError(FormatError):
    """A path taken from data or arguments (template, index, key, split name, output root) would leave its root."""


class PathTemplateError(UnsafePathError):
    """A ``data_path``/``video_path`` template does not parse or names a placeholder LeRobot does not pass."""


class DatasetExistsError(RobopipeError, FileExistsError):
    """Refusing to overwrite an existing dataset root."""


class DatasetInUseError(RobopipeError, RuntimeError):
    """Another writer holds the dataset root's writer lock (see ``robopipe.format.lock``)."""


# --- statistics -----------------------------------------------------------------------------------
class StatsError(RobopipeError, ValueError):
    """Statistics cannot be computed or merged (shape mismatch, missing feature)."""

    exit_code = 1


class NonFiniteValuesError(StatsError):
    """NaN or Inf values were found in numeric features (listed per feature and episode)."""


# --- validation -----------------------------------------------------------------------------------
class ValidationFailedError(RobopipeError):
    """Validation found errors; ``.report`` holds every finding."""

    exit_code = 1

    def __init__(self, message: str, report: object = None) -> None:
        super().__init__(message)
        self.report = report


# --- edit / merge / convert -----------------------------------------------------------------------
class MergeError(RobopipeError, ValueError):
    """Datasets cannot be merged or edited as asked (incompatible inputs, bad episode lists)."""


class ConversionError(RobopipeError):
    """A source dataset (RLDS, HDF5, folder, v2.1) cannot be converted."""


class InvalidSourceError(ConversionError, ValueError):
    """A conversion source was read and is inconsistent (e.g. replay-buffer episode ends past the data)."""

    exit_code = 1


class MappingError(ConversionError, ValueError):
    """A conversion mapping names keys the source does not have, or is otherwise invalid."""


class DiskFullError(RobopipeError, OSError):
    """No space left while writing; the message says what was kept. Nothing half-written is left."""


# --- configuration --------------------------------------------------------------------------------
class StorageError(RobopipeError, OSError):
    """Object storage cannot be read (no bucket, access denied, unreachable endpoint); never shows credentials."""


class ConfigError(RobopipeError, ValueError):
    """A configuration file or request model is invalid."""


# --- publishing -----------------------------------------------------------------------------------
class HubError(RobopipeError):
    """Publishing to / reading from a Hub or the local registry failed."""


class HubAuthError(HubError, PermissionError):
    """401/403: the token is missing, invalid or lacks rights. Not retried."""


class HubNotFoundError(HubError, LookupError):
    """404: repository, revision or file not found. Not retried."""


class HubUnavailableError(HubError, TransientError):
    """429/5xx/timeouts: retried with exponential backoff and jitter."""


class TagConflictError(HubError, ValueError):
    """A version tag already exists on another commit (use ``--force-tag`` to move it)."""


# --- hardware -------------------------------------------------------------------------------------
class DeviceError(RobopipeError, ConnectionError):
    """A device (motor bus, camera) failed: unplugged, not answering, wrong model."""


class DeviceNotConnectedError(DeviceError):
    """A method that needs a connected device was called before ``connect()``."""


class DeviceTimeoutError(DeviceError, TransientError):
    """A device did not answer in time (retried a bounded number of times)."""


class ProtocolError(DeviceError, TransientError):
    """A corrupt packet (bad checksum, truncated) arrived from a device."""


def pydantic_problems(exc: Any) -> list[str]:
    """``field.path: message`` for each error of a pydantic ``ValidationError`` (no URLs, no input dumps)."""
    out = []
    for e in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in e.get("loc", ()))
        msg = " ".join(str(e.get("msg", "invalid")).removeprefix("Value error, ").split())
        out.append(f"{loc}: {msg}" if loc else msg)
    return out
