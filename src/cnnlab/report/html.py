"""Self-contained HTML pages from plain building blocks: no JavaScript, images embedded.

A page is a title and a list of sections; a section is a heading and a list of blocks:

    page = Page("Run a", subtitle="cifar_model on cifar10", sections=[
        Section("Model", [Preformatted(summary_text)]),
        Section("Curves", [Image.from_file(png_path, alt="training curves")]),
        Section("Metrics", [Table(["metric", "value"], [["test accuracy", "71.2%"]])]),
    ])
    write_page(page, "runs/a/index.html")

Blocks: Paragraph (text; `backticks` become code), Notice (a highlighted remark),
BulletList, Preformatted (summaries, code), Image (PNG bytes, embedded as base64),
Table (header + rows; numbers right-aligned), Columns (blocks side by side on wide screens).
All text is HTML-escaped; nothing is ever inserted raw. Run reports, comparisons and the
lesson page are all built from these.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cnnlab.files import as_text, atomic_write

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclasses.dataclass
class Paragraph:
    text: str


@dataclasses.dataclass
class Notice:
    """A remark the reader must not miss (a warning, an unfinished run)."""

    text: str
    level: str = "warning"  # "warning" or "info"


@dataclasses.dataclass
class BulletList:
    items: list[str]


@dataclasses.dataclass
class Preformatted:
    text: str
    caption: str = ""


@dataclasses.dataclass
class Image:
    png: bytes
    alt: str
    caption: str = ""

    def __post_init__(self):
        assert self.png.startswith(PNG_SIGNATURE), f"Image({self.alt!r}) needs PNG bytes"

    @classmethod
    def from_file(cls, path: str | Path, alt: str, caption: str = "") -> Image:
        return cls(Path(path).read_bytes(), alt, caption)

    @classmethod
    def from_figure(cls, fig, alt: str, caption: str = "", dpi: int = 110) -> Image:
        """A matplotlib Figure rendered to PNG in memory."""
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        return cls(buffer.getvalue(), alt, caption)


@dataclasses.dataclass
class Table:
    headers: list[str]
    rows: list[list[Any]]
    caption: str = ""
    align_numbers: bool = True  # right-align cells that hold numbers (columns of figures)


@dataclasses.dataclass
class Columns:
    """Blocks side by side on a wide screen, stacked on a narrow one or on paper."""

    blocks: list[Block]


Block = Paragraph | Notice | BulletList | Preformatted | Image | Table | Columns


@dataclasses.dataclass
class Section:
    heading: str
    blocks: list[Block]
    anchor: str = ""  # the id used by the table of contents; made from the heading if empty


@dataclasses.dataclass
class Page:
    title: str
    sections: list[Section]
    subtitle: str = ""
    notices: list[Notice] = dataclasses.field(default_factory=list)  # shown above everything
    footer: str = ""


def key_value_table(items: dict[str, Any] | Sequence[tuple[str, Any]], caption: str = "",
                    headers: Sequence[str] = ("setting", "value")) -> Table:
    """A two-column table from a mapping, e.g. settings or the environment."""
    pairs = items.items() if isinstance(items, dict) else items
    return Table(list(headers), [[k, v] for k, v in pairs], caption, align_numbers=False)


def write_page(page: Page, path: str | Path) -> Path:
    return atomic_write(Path(path), as_text(render_page(page)))  # a folder name may not be UTF-8


def render_page(page: Page) -> str:
    anchors = _anchors(page.sections)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(page.title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<header>",
        f"<h1>{_esc(page.title)}</h1>",
    ]
    if page.subtitle:
        out.append(f'<p class="subtitle">{_inline(page.subtitle)}</p>')
    out.append("</header>")
    if len(page.sections) > 2:
        links = "".join(
            f'<li><a href="#{a}">{_esc(s.heading)}</a></li>' for s, a in zip(page.sections, anchors)
        )
        out.append(f'<nav aria-label="contents"><ul>{links}</ul></nav>')
    out.append("<main>")
    out.extend(_block(n) for n in page.notices)
    for section, anchor in zip(page.sections, anchors):
        out.append(f'<section id="{anchor}">')
        out.append(f"<h2>{_esc(section.heading)}</h2>")
        out.extend(_block(b) for b in section.blocks)
        out.append("</section>")
    out.append("</main>")
    if page.footer:
        out.append(f"<footer>{_inline(page.footer)}</footer>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Notice):
        return f'<p class="notice {_esc(block.level)}">{_inline(block.text)}</p>'
    if isinstance(block, BulletList):
        return "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Preformatted):
        caption = f"<figcaption>{_inline(block.caption)}</figcaption>" if block.caption else ""
        return f'<figure class="pre"><pre>{_esc(block.text)}</pre>{caption}</figure>'
    if isinstance(block, Image):
        data = base64.b64encode(block.png).decode("ascii")
        caption = f"<figcaption>{_inline(block.caption)}</figcaption>" if block.caption else ""
        return (f'<figure><img src="data:image/png;base64,{data}" alt="{_esc(block.alt)}">'
                f"{caption}</figure>")
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Columns):
        return '<div class="columns">' + "".join(f"<div>{_block(b)}</div>" for b in block.blocks) + "</div>"
    raise TypeError(f"not a page block: {type(block).__name__}")


def _table(table: Table) -> str:
    parts = ["<table>"]
    if table.caption:
        parts.append(f"<caption>{_inline(table.caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in table.headers) + "</tr></thead>")
    parts.append("<tbody>")
    for row in table.rows:
        cells = "".join(
            f'<td class="num">{_esc(_cell(v))}</td>' if table.align_numbers and _is_number(v)
            else f"<td>{_inline(_cell(v))}</td>"
            for v in row
        )
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</tbody></table>")
    return '<div class="table">' + "".join(parts) + "</div>"


_NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+\s*(%|s|x|×)?$")


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, (int, float)) or bool(_NUMBER.match(str(value).strip()))


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _inline(text: str) -> str:
    """Escaped text where `backtick spans` become <code>."""
    parts = _esc(text).split("`")
    if len(parts) % 2 == 0:  # an unmatched backtick stays a backtick
        return _esc(text)
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _anchors(sections: Sequence[Section]) -> list[str]:
    seen: dict[str, int] = {}
    anchors = []
    for s in sections:
        base = s.anchor or re.sub(r"[^a-z0-9]+", "-", s.heading.lower()).strip("-") or "section"
        seen[base] = seen.get(base, 0) + 1
        anchors.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return anchors


CSS = """
:root { --ink: #1d2330; --muted: #5b6472; --line: #d8dde5; --soft: #f4f6f9; --accent: #2b5fab; }
* { box-sizing: border-box; }
html { font-size: 15px; }
body { margin: 0 auto; max-width: 1180px; padding: 1.2rem 2rem 3rem; color: var(--ink);
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; line-height: 1.5; }
header { border-bottom: 2px solid var(--accent); margin-bottom: 0.8rem; }
h1 { font-size: 1.7rem; margin: 0.2rem 0 0.1rem; }
h2 { font-size: 1.25rem; margin: 1.8rem 0 0.6rem; padding-bottom: 0.2rem; border-bottom: 1px solid var(--line); }
.subtitle { color: var(--muted); margin: 0 0 0.6rem; }
nav ul { list-style: none; padding: 0; margin: 0 0 0.5rem; display: flex; flex-wrap: wrap; gap: 0.3rem 1.1rem; }
nav a { color: var(--accent); text-decoration: none; font-size: 0.93rem; }
nav a:hover { text-decoration: underline; }
p { margin: 0.5rem 0; max-width: 80ch; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.9em;
  background: var(--soft); padding: 0 0.25em; border-radius: 3px; }
.notice { padding: 0.55rem 0.8rem; border-left: 4px solid #c98a00; background: #fff7e0; max-width: none; }
.notice.info { border-left-color: var(--accent); background: #eef3fb; }
figure { margin: 0.8rem 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 0.88rem; text-align: center; margin-top: 0.25rem; }
figure.pre figcaption { text-align: left; }
pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.8rem; line-height: 1.25;
  background: var(--soft); border: 1px solid var(--line); border-radius: 4px; padding: 0.6rem 0.8rem;
  overflow-x: auto; margin: 0; }
.table { overflow-x: auto; margin: 0.6rem 0; }
table { border-collapse: collapse; font-size: 0.9rem; }
caption { text-align: left; color: var(--muted); font-size: 0.88rem; padding-bottom: 0.25rem; }
th, td { padding: 0.3rem 0.7rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) td { background: #fafbfc; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 0 1.6rem; align-items: start; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: 0.85rem; border-top: 1px solid var(--line); padding-top: 0.5rem; }
@media print {
  html { font-size: 11pt; }
  body { max-width: none; padding: 0; }
  nav { display: none; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; }
  figure, table, .notice, pre { break-inside: avoid; }
  pre { white-space: pre-wrap; overflow: visible; font-size: 7.5pt; }
  .table { overflow: visible; }
  .columns { display: block; }
  tbody tr:nth-child(even) td, th, pre, code { background: none; }
}
@page { margin: 14mm; }
"""
