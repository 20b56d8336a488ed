"""The dataset card: YAML header the Hub indexes, summary numbers, tasks, cameras, features, stats, citation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from robopipe.publish.card import parse_card_header, render_card


def test_card_header(dataset_factory: Callable[..., Path]) -> None:
    root = dataset_factory(cameras=True)
    card = render_card(root, "lab/so101-pick", license="mit", tags=("so101", "tabletop"), version="v1.2.0")
    header = parse_card_header(card)
    assert header["license"] == "mit"
    assert (
        header["tags"][0] == "LeRobot" and "tabletop" in header["tags"] and header["tags"].count("so101") == 1
    )
    assert header["task_categories"] == ["robotics"]
    assert header["configs"] == [{"config_name": "default", "data_files": "data/*/*.parquet"}]


def test_card_body(dataset_factory: Callable[..., Path]) -> None:
    root = dataset_factory(cameras=True, lengths=(4, 6, 5), success=(True, False, True))
    card = render_card(root, "lab/so101-pick", version="v1.2.0")
    assert "# lab/so101-pick" in card and "version **v1.2.0**" in card
    assert "| Episodes | 3 |" in card and "| Frames | 15 |" in card and "| FPS | 10 |" in card
    assert "| Episode length (frames): mean / min / max | 5.0 / 4 / 6 |" in card
    assert "| Success rate | 66.7% (2/3 episodes) |" in card
    assert "- pick the cube" in card and "- place the cube" in card
    assert "| `observation.images.front` | video | 48x64x3 | av1 | 10 |" in card
    assert "| `observation.state` | float32 | [3] | x, y, z |" in card
    assert "## Statistics" in card and "| `action` |" in card
    assert "| `index` |" not in card.split("## Statistics")[1].split("##")[0]  # default features left out
    assert '"codebase_version": "v3.0"' in card  # info.json embedded, like LeRobot's card
    assert "@misc{lab_so101_pick," in card and "version v1.2.0" in card


def test_card_without_success_or_cameras(dataset_factory: Callable[..., Path]) -> None:
    root = dataset_factory(success=None)
    card = render_card(root, "lab/x")
    assert "Success rate" not in card
    assert "| Cameras | 0 |" in card
    assert render_card(root, "lab/x") == card  # deterministic: re-publishing unchanged data is a no-op


def test_card_fields_from_the_dataset_are_sanitised(dataset_factory: Callable[..., Path]) -> None:
    import json

    import pytest

    from robopipe.errors import CorruptFileError
    from robopipe.publish.models import check_repo_id

    root = dataset_factory(lengths=(3,), success=None, tasks=("<b>grab</b>\n## injected task heading",))
    info_path = root / "meta/info.json"
    info = json.loads(info_path.read_text())
    info["robot_type"] = "<script>alert(1)</script>\n# injected heading\n```"
    info_path.write_text(json.dumps(info))
    card = render_card(root, "lab/x")
    body, _, raw_json = card.split("\n---\n", 1)[1].partition("## Dataset structure")
    assert "<script>" not in body and "<b>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; # injected heading" in body
    assert not any(line.startswith(("# injected", "## injected")) for line in body.splitlines())
    # the raw info.json block is fenced with more backticks than the data holds: the fence cannot be closed
    assert "\n````json\n" in raw_json and raw_json.count("\n````") == 2
    assert parse_card_header(card)["tags"][-1].startswith("&lt;script&gt;")
    (root / "meta/stats.json").write_text("[1, 2")
    with pytest.raises(CorruptFileError, match=r"stats\.json"):
        render_card(root, "lab/x")
    for bad in ("lab/x\n", "lab/x ", "\nlab/x"):
        with pytest.raises(ValueError, match="ORG/NAME"):
            check_repo_id(bad)
