"""report.html as a person sees it: rendered by headless Chromium, with every section and picture."""

import shutil
import subprocess

import numpy as np
import pytest

from glassgrad.cli import main

SECTIONS = ("curves", "test-images", "mistakes", "per-class", "layers", "doctor", "files")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "run"
    code = main(["train", "--model", "lenet5", "--epochs", "2", "--limit", "160", "--batch-size", "32", "--quiet",
                 "--out", str(out)])  # fmt: skip
    assert code == 0
    return out / "report.html"


def _chromium():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium not installed (apt-get install chromium): the browser test of the report is skipped")
    return chromium


def _flags(tmp_path):
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]


def test_report_sections_are_in_the_rendered_page(report, tmp_path):
    chromium = _chromium()
    dom = subprocess.run(
        [chromium, *_flags(tmp_path), "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=90
    ).stdout
    for anchor in SECTIONS:
        assert f'id="{anchor}"' in dom, anchor
    assert dom.count("<img") == 7
    assert "precision (%)" in dom and "recall (%)" in dom


def test_report_screenshot_shows_the_pictures(report, tmp_path):
    from PIL import Image

    chromium = _chromium()
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, *_flags(tmp_path), "--window-size=1100,9000", f"--screenshot={shot}", report.as_uri()],
        capture_output=True,
        timeout=90,
    )
    assert shot.exists(), "chromium wrote no screenshot"
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(np.int32)
    drawn = (pixels < 245).any(axis=2)
    rows_with_ink = drawn.any(axis=1).mean()
    assert rows_with_ink > 0.3, f"the page looks empty: {rows_with_ink:.0%} of its rows have anything drawn"
    # The plots' colours and the gallery's red/green titles: the embedded images were decoded.
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    coloured = (np.abs(red - green) > 60) | (np.abs(green - blue) > 60)
    assert coloured.sum() > 5000, "no coloured pixels: the embedded plots were not drawn"
