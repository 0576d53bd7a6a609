"""The page's machinery: one Jinja2 environment over the package's templates (autoescaped: every value
from a run is escaped, whatever it holds), and pictures described for the templates (relative links only)."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import jinja2
from markupsafe import Markup
from PIL import Image

TEMPLATES = resources.files(__package__) / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    """The templates of ``templates/``, HTML-escaped by default; an unknown name in a template is an error."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


def asset(name: str) -> Markup:
    """A static file of ``templates/`` (the style sheet, the browser's script), inlined as it is: the page
    needs nothing beside it."""
    return Markup((TEMPLATES / name).read_text(encoding="utf-8"))


def render_page(context: dict) -> str:
    """``index.html`` from the sections' context (``report.write_report``)."""
    page = {"style": asset("style.css"), "script": asset("browser.js"), **context}
    return environment().get_template("page.html.j2").render(page)


def picture(out_dir: Path, path: Path, alt: str, lazy: bool = True) -> dict:
    """A linked picture for the templates, with its size (read from the file's header) so the page does
    not shift while lazy pictures above the reader load: {href, alt, width, height, lazy}."""
    width = height = None
    try:
        with Image.open(path) as opened:
            width, height = opened.width, opened.height
    except (OSError, ValueError):  # unreadable: the browser finds out its size (or shows it broken)
        pass
    return {
        "href": Path(path).relative_to(out_dir).as_posix(),
        "alt": alt,
        "width": width,
        "height": height,
        "lazy": lazy,
    }
