"""The viewer in a real headless Chromium (Playwright): loads, plays cameras in sync with the plot
cursor, scrubs, filters, navigates by keyboard, saves a selection; a screenshot is checked."""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from robopipe.quality import compute_quality
from robopipe.view import make_server
from tests.fixtures.defects import make_defect_dataset

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.integration,
    pytest.mark.skipif(not Path(CHROMIUM).is_file(), reason="needs Debian's /usr/bin/chromium"),
]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = make_defect_dataset(tmp_path_factory.mktemp("browser") / "ds")
    compute_quality(root)
    server = make_server(root, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def _sync_error(page: object) -> float:
    """Largest |video time - cursor time| over the cameras, in frames."""
    return float(
        page.evaluate(  # type: ignore[attr-defined]
            """() => Math.max(...viewer.videos.map(v =>
                   Math.abs((v.el.currentTime - v.from) * viewer.episode.fps - viewer.frame - 0.5)))"""
        )
    )


def test_viewer_end_to_end(browser: object, base: str, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(base)
    page.wait_for_function("window.viewer && viewer.ready && viewer.videos.length === 1", timeout=30000)
    assert page.locator("#list li").count() == 8
    assert page.evaluate("viewer.episode.index") == 0
    # video metadata loaded from the dataset's own mp4 (byte ranges), duration covers the whole file
    assert page.evaluate("viewer.videos[0].el.readyState") >= 1

    # scrubbing moves the cursor and every video to the same frame
    page.locator("#scrub").fill("40")
    page.wait_for_function("viewer.frame === 40 && viewer.cursorFrame === 40")
    page.wait_for_function("!viewer.videos[0].el.seeking")
    assert _sync_error(page) < 1.0

    # play: the cursor follows the video clock; pause and compare (JS state, no timing assert)
    page.keyboard.press("Space")
    page.wait_for_function("viewer.playing === true")
    page.wait_for_function("viewer.frame > 45 || !viewer.playing", timeout=30000)
    page.keyboard.press("Space")
    page.wait_for_function("viewer.playing === false")
    page.evaluate("seekFrame(viewer.frame)")  # settle the cursor on the paused frame
    page.wait_for_function("!viewer.videos[0].el.seeking")
    assert page.evaluate("viewer.frame") > 40
    assert _sync_error(page) < 1.0
    assert page.evaluate("viewer.cursorFrame") == page.evaluate("viewer.frame")

    # keyboard: next episode, frame step, selection toggle
    page.keyboard.press("j")
    page.wait_for_function("viewer.ready && viewer.episode.index === 1")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("viewer.frame === 1")
    page.keyboard.press("x")
    assert page.evaluate("[...viewer.selection]") == [1]

    # findings on the timeline: clicking the frozen-camera finding jumps to its first frame
    page.locator("#findings li", has_text="frozen_camera").click()
    page.wait_for_function("viewer.frame === 10")

    # filters: errors only, then a reason
    page.select_option("#f-level", "error")
    assert sorted(page.evaluate("viewer.visible.map(e => e.index)")) == [1, 4, 5]
    page.select_option("#f-kind", "black_camera")
    assert page.evaluate("viewer.visible.map(e => e.index)") == [5]
    page.select_option("#f-kind", "")
    page.select_option("#f-level", "clean")
    assert sorted(page.evaluate("viewer.visible.map(e => e.index)")) == [0, 6, 7]
    page.select_option("#f-level", "")

    # saved selection is what `robopipe filter --selection` reads
    with page.expect_download() as dl:
        page.click("#save")
    saved = tmp_path / "selection.json"
    dl.value.save_as(saved)
    assert json.loads(saved.read_text())["episodes"] == [1]

    # screenshot: not blank, the list and the plots are drawn
    assert page.evaluate("viewer.episode.index") == 1  # frozen camera: findings on the timeline
    shot = tmp_path / "viewer.png"
    page.screenshot(path=str(shot), full_page=True)
    from PIL import Image

    img = np.asarray(Image.open(shot).convert("RGB"))
    assert img.shape[0] >= 800 and img.std() > 20  # not a blank page
    assert page.locator("#plots canvas").count() == 3  # state, action, quality signals
    drawn = page.evaluate(
        """() => { const c = document.querySelector('#plots canvas');
                   const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                   let ink = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
                   return ink / (d.length / 4); }"""
    )
    assert drawn > 0.01
    if os.environ.get("ROBOPIPE_KEEP_SCREENSHOT"):  # to look at it: copy it somewhere
        shutil.copy(shot, os.environ["ROBOPIPE_KEEP_SCREENSHOT"])
    assert errors == []
    page.close()


def test_report_links_open_the_episode(browser: object, base: str) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(base + "#episode=3")
    page.wait_for_function("window.viewer && viewer.ready")
    assert page.evaluate("viewer.episode.index") == 3
    assert page.locator("#findings li", has_text="spike").count() == 1
    page.close()
