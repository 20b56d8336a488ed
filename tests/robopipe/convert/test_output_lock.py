"""Conversions hold their output root's writer lock: a second writer of the same output is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from robopipe.convert.engine import ConvertRequest, run_conversion
from robopipe.convert.source import SourceSpec
from robopipe.convert.v21 import V21ConvertRequest, convert_v21
from robopipe.errors import DatasetInUseError
from robopipe.format.lock import writer_lock
from robopipe.format.reader import DatasetReader
from tests.robopipe.convert.test_custom_sources import ENC
from tests.robopipe.convert.test_v21 import make_v21


def test_v21_conversion_into_a_locked_output_is_refused(tmp_path: Path) -> None:
    make_v21(tmp_path / "v21")
    out = tmp_path / "v30"
    with writer_lock(out, command="someone else"), pytest.raises(DatasetInUseError, match="someone else"):
        convert_v21(V21ConvertRequest(src=tmp_path / "v21", out=out))
    assert not out.exists()
    assert convert_v21(V21ConvertRequest(src=tmp_path / "v21", out=out)).total_episodes == 4


def test_hook_conversion_into_a_locked_output_is_refused(tmp_path: Path) -> None:
    req = ConvertRequest(
        source=SourceSpec(kind="hook", path="tests.robopipe.convert.test_custom_sources:toy_hook"),
        out=tmp_path / "out",
        fps=10,
        encoder=ENC,
        mapping=None,
    )
    with writer_lock(req.out), pytest.raises(DatasetInUseError, match="is in use by PID"):
        run_conversion(req)
    assert not req.out.exists()
    run_conversion(req)
    assert DatasetReader(req.out).num_episodes == 4
