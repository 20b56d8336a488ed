"""Shared helpers for the benchmarks: the LeRobot reference interpreter and synthetic data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

# Same frame generator in both interpreters (pasted into the LeRobot script as source).
FRAME_SRC = """
import numpy as np
def make_frame(h, w, e, i):
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    x = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    r = (x * 200 + i * 3 + e * 17) % 256
    g = (y * 200 + np.sin(i / 10.0) * 40) % 256
    b = ((x * y) * 255 + i) % 256
    img = np.stack([np.broadcast_to(r, (h, w)), np.broadcast_to(g, (h, w)), np.broadcast_to(b, (h, w))], -1)
    rng = np.random.default_rng(e * 100000 + i)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)
def make_vec(e, i, d=6):
    rng = np.random.default_rng(7 + e * 100000 + i)
    return rng.normal(size=d).astype(np.float32)
"""


# The LeRobot reference the benchmarks compare with: ROBOPIPE_BENCH_LEROBOT=0.4.4 (default) or 0.6.1, each found
# through its variable (what .ci/run exports) or the default path the setup scripts in ../shared build.
REFERENCES = {
    "0.4.4": ("LEROBOT_PYTHON", Path.home() / ".cache/lerobot-ref/bin/python"),
    "0.6.1": ("LEROBOT061_PYTHON", Path.home() / ".cache/lerobot-061/bin/python"),
}


def lerobot_version() -> str:
    version = os.environ.get("ROBOPIPE_BENCH_LEROBOT", "0.4.4")
    if version not in REFERENCES:
        raise SystemExit(f"ROBOPIPE_BENCH_LEROBOT={version!r}: expected one of {', '.join(REFERENCES)}")
    return version


def lerobot_python() -> str | None:
    var, default = REFERENCES[lerobot_version()]
    py = os.environ.get(var)
    if py and Path(py).is_file():
        return py
    return str(default) if default.is_file() else None


def lerobot_label() -> str:
    """``LeRobot 0.6.1`` etc., for the benchmark tables."""
    return f"LeRobot {lerobot_version()}"


def run_lerobot(code: str, workdir: Path, timeout: float = 3600) -> Any:
    """Run ``code`` in the LeRobot reference interpreter offline; returns the JSON of its last line."""
    py = lerobot_python()
    if py is None:
        var = REFERENCES[lerobot_version()][0]
        raise SystemExit(
            f"{lerobot_label()} reference interpreter not found: set {var} (../shared/lerobot-reference/setup*.sh)"
        )
    workdir.mkdir(parents=True, exist_ok=True)
    script = workdir / "lerobot_bench.py"
    script.write_text(textwrap.dedent(code))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "HF_"))}
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "HF_HOME": str(workdir / "hf"),
            "HF_LEROBOT_HOME": str(workdir / "home"),
            "HF_DATASETS_CACHE": str(workdir / "hf-ds"),
        }
    )
    proc = subprocess.run([py, str(script)], env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-5000:])
        raise SystemExit(f"LeRobot side failed ({proc.returncode})")
    return json.loads([ln for ln in proc.stdout.splitlines() if ln.strip()][-1])


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"
