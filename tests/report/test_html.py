"""The page builder: escaping, blocks, embedded images, no JavaScript, nothing external."""

import io

import pytest
from helpers.pages import decode_images, read_page, self_contained
from PIL import Image as PILImage

from cnnlab.report import html


def png_bytes(size=(20, 10)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, "white").save(buffer, "PNG")
    return buffer.getvalue()


def every_block_page() -> html.Page:
    return html.Page(
        title="A <title> & more",
        subtitle="`model` on data",
        notices=[html.Notice("careful <b>"), html.Notice("fyi", level="info")],
        sections=[
            html.Section("Text", [html.Paragraph("use `val_loss` < 1"), html.BulletList(["one", "`two`"])]),
            html.Section("Code", [html.Preformatted("Model: \"x\"\n<none>", caption="as Keras prints it")]),
            html.Section("Pictures", [html.Image(png_bytes(), alt="a \"box\"", caption="cap")]),
            html.Section("Tables", [html.Columns([
                html.Table(["a", "b"], [["x", 1234567], ["y", 0.123456], ["z", None], ["w", "71.2%"]]),
                html.key_value_table({"epochs": 10}),
            ])]),
            html.Section("Text", [html.Paragraph("an unmatched ` stays")]),
        ],
        footer="by `cnnlab`",
    )


def test_every_block_renders_escaped_and_self_contained():
    page = html.render_page(every_block_page())
    reader = read_page(page)
    assert self_contained(reader)
    assert "<title>A &lt;title&gt; &amp; more</title>" in page
    assert "careful &lt;b&gt;" in page and "<b>" not in page
    assert "use <code>val_loss</code> &lt; 1" in page
    assert "an unmatched ` stays" in page
    assert "<pre>Model: &quot;x&quot;\n&lt;none&gt;</pre>" in page
    assert 'alt="a &quot;box&quot;"' in page
    assert '<td class="num">1,234,567</td>' in page and '<td class="num">0.1235</td>' in page
    assert '<td class="num">71.2%</td>' in page and "<td>–</td>" in page
    assert decode_images(reader) == [(20, 10)]
    assert '<p class="notice info">fyi</p>' in page


def test_table_of_contents_links_unique_anchors():
    page = html.render_page(every_block_page())
    assert '<a href="#text">Text</a>' in page and '<a href="#text-2">Text</a>' in page
    assert '<section id="text-2">' in page
    short = html.render_page(html.Page("t", [html.Section("Only", [])]))
    assert "<nav" not in short  # a contents list for one section is noise


def test_print_stylesheet_present():
    page = html.render_page(every_block_page())
    assert "@media print" in page and "break-inside: avoid" in page


def test_image_needs_png_bytes():
    with pytest.raises(AssertionError, match="needs PNG bytes"):
        html.Image(b"GIF89a", alt="x")


def test_write_page_is_atomic(tmp_path):
    out = html.write_page(every_block_page(), tmp_path / "sub" / "page.html")
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["page.html"]


def test_image_from_a_matplotlib_figure():
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    image = html.Image.from_figure(fig, alt="a line", dpi=50)
    assert decode_images(read_page(html.render_page(html.Page("t", [html.Section("s", [image])])))) == [(100, 50)]
