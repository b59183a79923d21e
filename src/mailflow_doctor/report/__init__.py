"""Renderers: a finished report in, text out — they never compute.

Each renderer module has `render(report) -> str`; `RENDERERS` maps the `--format` name to it.
"""

from . import json_report, text

RENDERERS = {"text": text.render, "json": json_report.render}
