"""The jinja2 environment reports are written with: templates in activities/templates, HTML autoescaped,
a missing value an error (StrictUndefined), and `cell` for a Markdown table cell."""

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape


def cell(value: object) -> str:
    """A value as one Markdown table cell: pipes escaped, on one line."""
    return str(value).replace("|", "\\|").replace("\n", " ")


TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).with_name("templates")), undefined=StrictUndefined,
                        autoescape=select_autoescape(["html.j2"]), trim_blocks=True, lstrip_blocks=True,
                        keep_trailing_newline=True)
TEMPLATES.filters["cell"] = cell
