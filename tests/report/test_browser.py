"""A real browser opens a run report and a comparison: the page renders, every image decodes.

Needs Debian's chromium (`make test` installs it where apt and root allow); skips otherwise.
"""

import shutil
import subprocess

import pytest
from fakeruns import history_rows, write_run
from pagecheck import decode_images, read_page, self_contained
from PIL import Image, ImageStat

from cnnlab.report import compare
from cnnlab.report.run_report import write_run_report

WINDOW = (1280, 2000)
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    BROWSER is None, reason="no chromium on PATH (make test installs Debian's chromium where apt and root allow)"
)


def screenshot(page, tmp_path):
    shot = tmp_path / f"{page.stem}.png"
    command = [
        BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0 and shot.is_file(), done.stderr[-2000:]
    return shot


def assert_rendered(shot):
    with Image.open(shot) as im:
        assert im.size == WINDOW
        gray = im.convert("L")
        assert ImageStat.Stat(gray).stddev[0] > 20  # text and pictures, not a blank page
        dark = sum(gray.histogram()[:128]) / (WINDOW[0] * WINDOW[1])
        assert dark > 0.01  # some ink: more than 1% of the pixels are dark
        colours = im.convert("RGB").resize((320, 500)).getcolors(maxcolors=100_000)
        assert colours is not None and len(colours) > 50  # the curves and heatmaps are there


def test_run_report_renders(tmp_path):
    run = write_run(tmp_path / "run", rows=history_rows(12, overfit_after=5))
    page = write_run_report(run, mistakes=False, formats=("png",))
    reader = read_page(page.read_text())
    assert self_contained(reader) and len(decode_images(reader)) == 4
    assert_rendered(screenshot(page, tmp_path))


def test_comparison_renders(tmp_path):
    a = write_run(tmp_path / "a", rows=history_rows(12, overfit_after=5))
    b = write_run(tmp_path / "b", rows=history_rows(8))
    page = compare.write_comparison(compare.load_rows([a, b]), tmp_path / "compare.html")
    reader = read_page(page.read_text())
    assert self_contained(reader) and len(decode_images(reader)) == 2
    assert_rendered(screenshot(page, tmp_path))
