"""The static HTML gallery of counterexamples (``racekit gallery -o DIR``).

Templates ship as package data in ``racekit/gallery/templates/`` and are read
through :mod:`importlib.resources`, so an installed wheel works like a checkout.
"""

from __future__ import annotations

from racekit.gallery.render import Site as Site
from racekit.gallery.render import build as build
from racekit.gallery.render import environment as environment
from racekit.gallery.render import render_page as render_page

__all__ = ["Site", "build", "environment", "render_page"]
