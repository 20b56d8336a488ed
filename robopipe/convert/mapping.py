"""The conversion mapping: which source keys become which LeRobot features (core layer).

A mapping is YAML validated by pydantic. Built-ins for common Open X-Embodiment schemas live in
``robopipe/convert/mappings/*.yaml`` and are selected by name (``--mapping bridge``). Source keys are
'/'-separated paths as listed by the reader (``observation/image``, ``action/gripper_position``,
``episode_metadata/file_path``).
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from robopipe.convert.source import SourceDescription, SourceField
from robopipe.errors import MappingError

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class CameraSpec(BaseModel):
    """One camera: source key plus per-camera transforms."""

    model_config = _FROZEN

    key: str = Field(description="source image key, e.g. 'observation/image_0'")
    bgr: bool = Field(default=False, description="source stores BGR: flip channels to RGB")
    resize: tuple[int, int] | None = Field(default=None, description="resize to (height, width)")


class VectorPart(BaseModel):
    """One piece of a concatenated vector: a source key (optionally sliced/transformed) or zero padding."""

    model_config = _FROZEN

    key: str | None = Field(default=None, description="source key; omit for zero padding")
    pad: int = Field(default=0, ge=0, description="number of zeros (only when key is omitted)")
    index: list[int] | None = Field(default=None, description="keep only these elements of the key")
    invert: bool = Field(default=False, description="x -> 1 - x (e.g. gripper 1=closed -> 1=open)")
    binarize: float | None = Field(default=None, description="x -> 1.0 if x > threshold else 0.0")
    scale: float = Field(default=1.0, description="multiply by this factor")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        return {"key": v} if isinstance(v, str) else v

    @model_validator(mode="after")
    def _key_or_pad(self) -> VectorPart:
        if (self.key is None) == (self.pad == 0):
            raise ValueError("a vector part needs either 'key' or a positive 'pad'")
        return self


class VectorSpec(BaseModel):
    """A feature assembled by concatenating parts in order (state, action)."""

    model_config = _FROZEN

    parts: list[VectorPart] = Field(description="parts concatenated along the last axis")
    names: list[str] | None = Field(default=None, description="element names (default: from the keys)")
    dtype: str = Field(default="float32", description="output dtype")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, str):
            return {"parts": [v]}
        if isinstance(v, list):
            return {"parts": v}
        return v


class TaskSpec(BaseModel):
    """Where the task string comes from."""

    model_config = _FROZEN

    key: str | None = Field(
        default=None,
        description="source text key: a step key (per-step task, e.g. 'language_instruction' or "
        "'observation/natural_language_instruction') or an episode key ('episode_metadata/...')",
    )
    default: str = Field(default="", description="task used when the key is absent or empty")


class ConversionMapping(BaseModel):
    """How a source becomes a LeRobotDataset v3.0."""

    model_config = _FROZEN

    name: str | None = Field(default=None, description="mapping name (built-ins: the OXE dataset name)")
    fps: int | None = Field(default=None, gt=0, description="output fps (overrides source_rate)")
    source_rate: float | None = Field(
        default=None, gt=0, description="native control rate in Hz; used as fps when it is an integer"
    )
    robot_type: str | None = Field(default=None, description="robot_type written to info.json")
    cameras: dict[str, CameraSpec] = Field(
        default_factory=dict, description="camera name -> source image (becomes observation.images.<name>)"
    )
    depth: dict[str, str] = Field(
        default_factory=dict,
        description="depth camera name -> source HxWx1 depth (uint16 millimetres, or float metres); becomes "
        "observation.images.<name>, a LeRobot 0.6.1 depth map (lossless 12-bit video)",
    )
    state: VectorSpec | None = Field(default=None, description="observation.state parts")
    action: VectorSpec | None = Field(default=None, description="action parts")
    task: TaskSpec = Field(default_factory=TaskSpec, description="task string source")
    extras: dict[str, str] = Field(
        default_factory=dict,
        description="extra per-frame features: output name -> source step key (is_first, reward, ...)",
    )
    episode_metadata: dict[str, str] = Field(
        default_factory=dict, description="episode metadata columns: output name -> source episode key"
    )
    drop_first_steps: int = Field(default=0, ge=0, description="drop this many steps at the start")
    drop_last_steps: int = Field(default=0, ge=0, description="drop this many steps at the end")
    use_videos: bool = Field(default=True, description="cameras as video (True) or PNG image features")
    source: dict[str, Any] = Field(
        default_factory=dict,
        description="reader options of the source format (ROS/MCAP: episode cutting, time alignment; "
        "see robopipe.convert.logs.LogOptions); options given on the command line win",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        if isinstance(v, dict):
            cams = v.get("cameras")
            if isinstance(cams, dict):
                v = {**v, "cameras": {k: {"key": c} if isinstance(c, str) else c for k, c in cams.items()}}
            if isinstance(v.get("task"), str):
                v = {**v, "task": {"key": v["task"]}}
        return v

    # --- resolution ----------------------------------------------------------------------------
    def resolve_fps(self, override: int | None = None) -> int:
        """The output fps; a non-integer or unknown source rate without an explicit fps is an error."""
        if override is not None:
            return override
        if self.fps is not None:
            return self.fps
        if self.source_rate is None:
            raise MappingError(
                f"mapping {self.name or '<inferred>'}: the frame rate is unknown (RLDS does not store it). "
                "Set 'fps:' in the mapping or pass --fps N"
            )
        if not math.isclose(self.source_rate, round(self.source_rate), abs_tol=1e-9):
            raise MappingError(
                f"mapping {self.name or '<inferred>'}: source rate {self.source_rate} Hz is not an integer and "
                "LeRobot needs an integer fps. Set 'fps:' in the mapping (e.g. "
                f"{math.floor(self.source_rate)} or {math.ceil(self.source_rate)}) or pass --fps N; timestamps "
                "will then be frame_index/fps"
            )
        return round(self.source_rate)

    def referenced_keys(self) -> list[tuple[str, str]]:
        """(role, source key) for every key the mapping reads."""
        out = [(f"cameras.{n}", c.key) for n, c in self.cameras.items()]
        out += [(f"depth.{n}", k) for n, k in self.depth.items()]
        for role, vec in (("state", self.state), ("action", self.action)):
            if vec is not None:
                out += [(role, p.key) for p in vec.parts if p.key is not None]
        if self.task.key:
            out.append(("task", self.task.key))
        out += [(f"extras.{n}", k) for n, k in self.extras.items()]
        out += [(f"episode_metadata.{n}", k) for n, k in self.episode_metadata.items()]
        return out

    def check(self, desc: SourceDescription) -> None:
        """Fail before any work if a referenced key is missing or has the wrong kind; lists all problems."""
        problems: list[str] = []
        for role, key in self.referenced_keys():
            f = desc.fields.get(key)
            if f is None:
                problems.append(f"{role}: key {key!r} not found")
                continue
            want_episode = role.startswith("episode_metadata.")
            if want_episode and f.scope != "episode":
                problems.append(f"{role}: {key!r} is a step key, expected an episode key")
            elif role.startswith(("cameras.", "depth.", "extras.", "state", "action")) and f.scope != "step":
                problems.append(f"{role}: {key!r} is an episode key, expected a step key")
            if role.startswith("depth.") and not (
                f.kind == "tensor"
                and f.dtype in ("uint16", "float32", "float64")
                and len(f.shape) == 3
                and f.shape[2] == 1
            ):
                problems.append(f"{role}: {key!r} is not a depth image (expected HxWx1 uint16 mm or float m)")
            if role.startswith("depth.") and role.removeprefix("depth.") in self.cameras:
                problems.append(f"{role}: the name is also a camera")
            if role.startswith("cameras.") and not f.is_image:
                problems.append(f"{role}: {key!r} is not an image ({f.kind} {f.dtype} {list(f.shape)})")
            if role in ("state", "action") and f.kind != "tensor":
                problems.append(f"{role}: {key!r} is {f.kind}, expected a numeric tensor")
            if role == "task" and f.kind != "text":
                problems.append(f"task: {key!r} is {f.kind}, expected text")
        for role, vec in (("state", self.state), ("action", self.action)):
            for p in vec.parts if vec is not None else []:
                f = desc.fields.get(p.key or "")
                if f is not None and p.index is not None:
                    size = _flat_size(f)
                    bad = [i for i in p.index if not -size <= i < size]
                    if bad:
                        problems.append(f"{role}: index {bad} out of range for {p.key!r} of size {size}")
        if not self.cameras and not self.depth and self.state is None and self.action is None:
            problems.append("the mapping selects no camera, no state and no action")
        if problems:
            avail = "\n  ".join(
                f"{p} ({f.scope} {f.kind} {f.dtype} {list(f.shape)})" for p, f in desc.fields.items()
            )
            raise MappingError(
                f"mapping {self.name or '<inferred>'} does not fit source {desc.name!r}:\n- "
                + "\n- ".join(problems)
                + f"\navailable keys:\n  {avail}\nFix the mapping (robopipe convert ... --print-mapping shows an "
                "inferred one)"
            )

    def vector_size(self, vec: VectorSpec, desc: SourceDescription) -> int:
        n = 0
        for p in vec.parts:
            if p.key is None:
                n += p.pad
            else:
                n += len(p.index) if p.index is not None else _flat_size(desc.fields[p.key])
        return n

    def vector_names(self, vec: VectorSpec, desc: SourceDescription) -> list[str]:
        if vec.names is not None:
            return list(vec.names)
        names: list[str] = []
        for j, p in enumerate(vec.parts):
            if p.key is None:
                names += [f"pad_{j}_{i}" for i in range(p.pad)]
                continue
            leaf = p.key.rsplit("/", 1)[-1]
            size = _flat_size(desc.fields[p.key])
            idx = p.index if p.index is not None else list(range(size))
            names += [leaf] if size == 1 and len(idx) == 1 else [f"{leaf}_{i}" for i in idx]
        return names

    def to_yaml(self) -> str:
        """YAML the user can save and edit (defaults omitted)."""
        data = self.model_dump(mode="json", exclude_defaults=True)
        for cam in data.get("cameras", {}).values():
            if isinstance(cam.get("resize"), list):
                cam["resize"] = list(cam["resize"])
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def _flat_size(f: SourceField) -> int:
    return int(math.prod(f.shape)) if f.shape else 1


def builtin_mapping_names() -> list[str]:
    files = resources.files("robopipe.convert").joinpath("mappings").iterdir()
    return sorted(p.name[: -len(".yaml")] for p in files if p.name.endswith(".yaml"))


def parse_mapping(data: Any, where: str) -> ConversionMapping:
    try:
        return ConversionMapping.model_validate(data)
    except ValidationError as exc:
        raise MappingError(f"{where}: invalid mapping: {exc}") from exc


def load_mapping(name_or_path: str | Path) -> ConversionMapping:
    """A built-in mapping by name, or a YAML file."""
    text = str(name_or_path)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        if not path.is_file():
            raise MappingError(f"mapping file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise MappingError(f"{path}: not valid YAML: {exc}") from exc
        return parse_mapping(data, str(path))
    if text not in builtin_mapping_names():
        raise MappingError(
            f"unknown mapping {text!r}: not a file and not a built-in. Built-ins: {', '.join(builtin_mapping_names())}"
        )
    res = resources.files("robopipe.convert").joinpath("mappings", f"{text}.yaml")
    return parse_mapping(yaml.safe_load(res.read_text(encoding="utf-8")), f"built-in mapping {text}")
