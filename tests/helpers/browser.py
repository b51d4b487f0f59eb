"""Headless chromium for page tests: a screenshot of a page, and a check that it rendered."""

import shutil
import subprocess

from PIL import Image, ImageStat

WINDOW = (1280, 2000)
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


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
