"""How the workbench's objects show themselves in a notebook: a short text ``repr`` and an HTML
one (``_repr_html_``), as pandas objects and scikit-learn estimators do. One helper for the page
markup, so that every object looks alike and every value is escaped."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any


def card(title: str, lines: Iterable[str], table: tuple[Sequence[str], Iterable[Sequence[Any]]] | None = None) -> str:
    """A small HTML block: a bold title, one line per item, and an optional table (header, rows)."""
    parts = [f"<div class='workbench-card'><b>{html.escape(title)}</b>"]
    parts += [f"<div>{html.escape(line)}</div>" for line in lines]
    if table is not None:
        header, rows = table
        parts.append(
            "<table><thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header) + "</tr></thead>"
        )
        parts.append("<tbody>")
        for row in rows:
            parts.append("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</div>")
    return "".join(parts)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
