"""Reads a generated page back: its embedded images decoded, its text, no scripts."""

from __future__ import annotations

import base64
import io
from html.parser import HTMLParser

from PIL import Image


class PageReader(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images: list[tuple[str, str]] = []  # (src, alt)
        self.tags: set[str] = set()
        self.text: list[str] = []
        self.external: list[str] = []  # any src/href that would fetch something

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        if tag == "img":
            self.images.append((attrs.get("src", ""), attrs.get("alt", "")))
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            if value and not value.startswith(("data:", "#")):
                self.external.append(value)

    def handle_data(self, data):
        self.text.append(data)


def read_page(html_text: str) -> PageReader:
    reader = PageReader()
    reader.feed(html_text)
    return reader


def decode_images(reader: PageReader) -> list[tuple[int, int]]:
    """Every embedded image opened with Pillow: their sizes."""
    sizes = []
    for src, _ in reader.images:
        head, _, data = src.partition(",")
        assert head == "data:image/png;base64", head[:40]
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as im:
            im.load()
            sizes.append(im.size)
    return sizes


def self_contained(reader: PageReader) -> bool:
    return "script" not in reader.tags and not reader.external
