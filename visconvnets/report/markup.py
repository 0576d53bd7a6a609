"""The page's building blocks: style, escaping, pictures, figures and tables (relative links only)."""

from __future__ import annotations

import html
from pathlib import Path

from PIL import Image

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;
color:#222}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0} td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
.warning{background:#fff4d6;border:1px solid #e0b44a;padding:.6em 1em;border-radius:4px}
.health.ok{background:#eaf6ea;border:1px solid #8c8;padding:.6em 1em;border-radius:4px}
.gallery{display:flex;flex-wrap:wrap;gap:12px} .gallery figure{margin:0;max-width:100%}
.gallery img{max-width:100%;height:auto;border:1px solid #ddd} figcaption{font-size:.85em;color:#555}
details{margin:.4em 0} summary{cursor:pointer;font-weight:600}
.browser .controls{display:flex;flex-wrap:wrap;align-items:center;gap:.5em} #browser-slider{flex:1;min-width:200px}
#browser-pictures{overflow:auto;max-height:85vh;border:1px solid #ddd;padding:2px}
#browser-pictures figure{margin:.3em 0 .8em} .frame{overflow:hidden} .frame img{display:block;max-width:none}
.layer-name{font-weight:600;font-family:monospace} ul.files{font-size:.8em}
nav a{margin-right:1em} code{background:#f4f4f4;padding:0 .2em}
"""


def escape(value) -> str:
    return html.escape(str(value), quote=True)


def image(out_dir: Path, path: Path, alt: str, lazy: bool = True) -> str:
    """A linked picture with its size in the markup (read from the file's header), so the page does not
    shift while lazy pictures above the reader load."""
    relative = Path(path).relative_to(out_dir).as_posix()
    loading = ' loading="lazy"' if lazy else ""
    try:
        with Image.open(path) as opened:
            size = f' width="{opened.width}" height="{opened.height}"'
    except (OSError, ValueError):  # unreadable: the browser finds out its size (or shows it broken)
        size = ""
    return f'<a href="{escape(relative)}"><img src="{escape(relative)}" alt="{escape(alt)}"{size}{loading}></a>'


def figure(out_dir: Path, name: str, alt: str, caption: str) -> str:
    """One picture of OUT (loaded at once, not lazily) with its caption, in a gallery row."""
    picture = image(out_dir, out_dir / name, alt, lazy=False)
    return f"<div class='gallery'><figure>{picture}<figcaption>{escape(caption)}</figcaption></figure></div>"


def table(header: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
