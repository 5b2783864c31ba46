"""MkDocs hook: Sphinx roles in docstrings (:class:`~a.B`) become code, linked when known.

The docstrings are written for both ``help()`` and Sphinx-style readers; mkdocstrings reads
them as Markdown, which leaves the role's name in front of the code span. This turns each
role into an optional cross-reference that mkdocs-autorefs resolves when the object is on a
page of the site, and leaves as plain code when it is not.
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(
    r":(?:class|func|meth|attr|mod|data|exc|obj):<code>(~?)([\w.]+)(\(\))?</code>")


def _reference(match: re.Match[str]) -> str:
    short, path, call = match.groups()
    shown = (path.rsplit(".", 1)[-1] if short else path) + (call or "")
    return f'<autoref identifier="{path}" optional><code>{shown}</code></autoref>'


def on_page_content(html: str, **kwargs: Any) -> str:
    return _ROLE.sub(_reference, html)
