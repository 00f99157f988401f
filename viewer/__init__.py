"""The browser viewer: Bokeh document, JS/CSS assets and HTML templates.

The viewer talks to the server over HTTP only; the server renders these pages and serves
``viewer/static`` (see :data:`STATIC_DIR`).
"""

from pathlib import Path

from viewer.page import build_document, render_index, render_recording_page

#: Folder of the viewer's JS, CSS and favicon, served by the server under ``/static/viewer/``.
STATIC_DIR = Path(__file__).parent / "static"

__all__ = ["STATIC_DIR", "build_document", "render_index", "render_recording_page"]
