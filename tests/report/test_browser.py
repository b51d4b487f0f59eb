"""A real browser opens a run report and a comparison: the page renders, every image decodes.

Needs Debian's chromium (`make test` installs it where apt and root allow); skips otherwise.
"""

from helpers.browser import assert_rendered, screenshot
from helpers.pages import decode_images, read_page, self_contained
from helpers.runs import history_rows, write_run

from cnnlab.report import compare
from cnnlab.report.run_report import write_run_report


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
