"""MkDocs hook: show the Sphinx cross-reference roles of docstrings as plain code.

Docstrings name other objects the Sphinx way (``:func:`vicreg_terms```), which reads well in
``help()`` and in the source; mkdocstrings renders Markdown, where the role would show as
literal text before the code. This hook drops the role and keeps the code.
"""

from __future__ import annotations

import re

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|data|attr|obj|exc):(?=<code>)")


def on_page_content(html: str, **kwargs: object) -> str:
    """The page's HTML with ``:role:`` prefixes removed before inline code."""
    return ROLE.sub("", html)
