"""pyserial URL handlers for in-process simulated devices: ``stsim://<preset>[?name=<instance>&opt=value]``.

:func:`register` adds this package to ``serial.protocol_handler_packages`` so
``serial.serial_for_url("stsim://so101-follower")`` opens a simulated bus. Instances are shared by name
(default: the preset), so two opens of the same URL talk to the same arm; :func:`get_core` returns it for
tests and :func:`reset` forgets them all.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qsl, urlparse

import serial

_CORES: dict[str, Any] = {}
_LOCK = threading.Lock()
SCHEMES = ("stsim",)


def register() -> None:
    """Make ``stsim://`` URLs known to pyserial (idempotent)."""
    if __name__ not in serial.protocol_handler_packages:
        serial.protocol_handler_packages.append(__name__)


def parse(url: str) -> tuple[str, str, dict[str, Any]]:
    """``(preset, instance name, build options)`` of an ``stsim://`` URL."""
    parts = urlparse(url)
    preset = parts.netloc or parts.path.lstrip("/")
    options: dict[str, Any] = {}
    name = preset
    for key, value in parse_qsl(parts.query):
        if key == "name":
            name = value
        elif key == "calibrated":
            options[key] = value.lower() in ("1", "true", "yes")
        elif value.lower() in ("none", "null"):
            options[key] = None
        else:
            options[key] = float(value)
    return preset, name, options


def get_core(url_or_name: str) -> Any:
    """The simulator core behind a URL (or instance name), creating it on first use."""
    if "://" not in url_or_name:
        return _CORES[url_or_name]
    from hardware.sim.presets import build

    preset, name, options = parse(url_or_name)
    with _LOCK:
        if name not in _CORES:
            _CORES[name] = build(preset, **options)
        return _CORES[name]


def reset() -> None:
    """Forget every in-process simulator instance."""
    with _LOCK:
        _CORES.clear()
