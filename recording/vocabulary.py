"""LeRobot's and OpenK's recording vocabulary, translated into :class:`~recording.models.RecordRequest` fields.

``lerobot-record`` (and OpenK's fork ``openk-record``) take a nested draccus config: ``robot`` / ``teleop`` device
dicts (``type``, ``port``, ``id``, ``cameras``), a ``dataset`` section (``repo_id``, ``single_task``, ``fps``,
``num_episodes``, ``episode_time_s``, ``reset_time_s``, ``video``, ``push_to_hub``, ``private``, ``tags``, ``root``,
``video_encoding_batch_size``, ``vcodec`` / ``rgb_encoder``, ...) and top-level ``resume`` / ``display_data`` /
``play_sounds``. :func:`from_lerobot_layout` maps such a mapping (a ``--config_path`` YAML) onto robopipe's flat
request. Keys that only steer LeRobot's own machinery (image-writer processes, batch encoding, the rerun viewer,
sounds) are accepted and reported by :func:`ignored_keys`, since robopipe encodes while it records and has no
viewer; anything else unknown is an error naming the key, so a typo never passes silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from robopipe.errors import ConfigError

# dataset.<key> -> RecordRequest field
DATASET_FIELDS = {
    "repo_id": "repo_id",
    "single_task": "single_task",
    "root": "root",
    "fps": "fps",
    "num_episodes": "num_episodes",
    "episode_time_s": "episode_time_s",
    "reset_time_s": "reset_time_s",
    "video": "video",
    "push_to_hub": "push_to_hub",
    "private": "private",
    "tags": "tags",
    "rename_map": "rename_map",
}
# rgb_encoder.<key> (0.6.1) -> robopipe VideoEncoderConfig field
ENCODER_FIELDS = {"vcodec": "codec", "crf": "crf", "g": "g", "preset": "preset", "pix_fmt": "pix_fmt"}
# accepted, no effect in robopipe (why)
IGNORED = {
    "dataset.video_encoding_batch_size": "robopipe encodes while recording",
    "dataset.num_image_writer_processes": "robopipe streams frames to the encoder, no PNG staging",
    "dataset.num_image_writer_threads_per_camera": "robopipe streams frames to the encoder, no PNG staging",
    "dataset.streaming_encoding": "robopipe always encodes while recording",
    "dataset.encoder_queue_maxsize": "robopipe's encoder queue never drops frames",
    "rgb_encoder.fast_decode": "not an option of robopipe's encoders",
    "rgb_encoder.video_backend": "robopipe encodes with PyAV",
    "rgb_encoder.extra_options": "not an option of robopipe's encoders",
    "display_data": "robopipe has no rerun viewer; watch the log",
    "display_ip": "robopipe has no rerun viewer",
    "display_port": "robopipe has no rerun viewer",
    "display_compressed_images": "robopipe has no rerun viewer",
    "play_sounds": "robopipe prints the phases instead",
    "always_calibrate": "calibrate with `robopipe calibrate`",
}
TOP_FIELDS = {
    "resume": "resume",
    "log_file": "log_file",
    "push_freq": "push_every",
    "push_every": "push_every",
}


def is_lerobot_layout(data: Mapping[str, Any]) -> bool:
    """True for a nested ``lerobot-record`` config (a ``dataset`` section, or device dicts)."""
    return isinstance(data.get("dataset"), dict) or any(
        isinstance(data.get(k), dict) for k in ("robot", "teleop")
    )


def parse_value(text: str | None) -> Any:
    """A draccus command-line value (``true``, ``[a,b]``, ``{front: {...}}``) as YAML; plain text stays text."""
    if text is None:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse {text!r}: {exc}") from exc


def tag_list(values: list[str] | None) -> list[str] | None:
    """``--dataset.tags='["a","b"]'`` (draccus) or repeated ``--tags a b`` (robopipe)."""
    if values is None:
        return None
    if len(values) == 1 and values[0].lstrip().startswith("["):
        parsed = parse_value(values[0])
        if not isinstance(parsed, list):
            raise ConfigError(f"--dataset.tags must be a list, got {values[0]!r}")
        return [str(v) for v in parsed]
    return list(values)


def cameras_dict(text: str) -> dict[str, Any]:
    """``--robot.cameras="{front: {type: opencv, index_or_path: 0, width: 640, height: 480, fps: 30}}"``."""
    value = parse_value(text)
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError(f"--robot.cameras must map camera names to camera configs, got {text!r}")
    return value


def from_lerobot_layout(
    data: Mapping[str, Any], where: str = "config"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(RecordRequest fields, encoder fields)`` from a nested ``lerobot-record`` / ``openk-record`` config."""
    out: dict[str, Any] = {}
    encoder: dict[str, Any] = {}
    unknown: list[str] = []
    for key, value in data.items():
        if key in ("robot", "teleop"):
            if value is not None:
                out[key] = value
        elif key == "policy":
            if value is not None:
                raise ConfigError(f"{where}: policy runs are not recorded by robopipe (teleoperate instead)")
        elif key == "dataset":
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: 'dataset' must be a mapping, got {type(value).__name__}")
            for dk, dv in value.items():
                if dk in DATASET_FIELDS:
                    if dv is not None:
                        out[DATASET_FIELDS[dk]] = dv
                elif dk == "vcodec":
                    encoder["codec"] = dv
                elif dk == "encoder_threads":
                    encoder["threads"] = dv
                elif dk == "rgb_encoder" and isinstance(dv, dict):
                    for ek, ev in dv.items():
                        if ek in ENCODER_FIELDS:
                            if ev is not None:
                                encoder[ENCODER_FIELDS[ek]] = ev
                        elif f"rgb_encoder.{ek}" not in IGNORED:
                            unknown.append(f"dataset.rgb_encoder.{ek}")
                elif f"dataset.{dk}" not in IGNORED:
                    unknown.append(f"dataset.{dk}")
        elif key in TOP_FIELDS:
            if value is not None:
                out[TOP_FIELDS[key]] = value
        elif key not in IGNORED:
            unknown.append(key)
    if unknown:
        raise ConfigError(
            f"{where}: unknown lerobot-record keys {unknown} (robopipe understands robot, teleop, dataset.*"
            f" ({', '.join(DATASET_FIELDS)}), dataset.rgb_encoder.* ({', '.join(ENCODER_FIELDS)}), resume)"
        )
    return out, encoder


def merge_encoder(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """Encoder fields ``base`` with ``changes``; a new codec drops the old codec's preset (and svtav1 gets crf 30)."""
    out = {**base, **changes}
    if "codec" in changes and changes["codec"] != base.get("codec"):
        if "preset" not in changes:
            out["preset"] = None
        if changes["codec"] == "libsvtav1" and "crf" not in changes:
            out["crf"] = 30
    preset = out.get("preset")
    if isinstance(preset, str) and preset.isdigit():
        out["preset"] = int(preset)
    return out


def ignored_keys(data: Mapping[str, Any]) -> list[str]:
    """Keys of a nested config that robopipe accepts without effect, with the reason."""
    found = []
    for key in data:
        if key in IGNORED and data[key] not in (None, False):
            found.append(f"{key} ({IGNORED[key]})")
    ds = data.get("dataset")
    if isinstance(ds, dict):
        for dk, dv in ds.items():
            if f"dataset.{dk}" in IGNORED and dv not in (None, False, 0, 1):
                found.append(f"dataset.{dk} ({IGNORED[f'dataset.{dk}']})")
    return found
