"""Griffe extension of the reference site (``mkdocs.yml``): the docstrings' Sphinx roles as links.

The docstrings cross-reference in numpydoc's way, ``:func:`stft```, ``:class:`~nmfsep.io.AudioInfo```;
mkdocstrings reads Markdown, where these would show as they are written. Each role becomes the
name in code font, linked when the site documents the object it names (the name as written,
else relative to the docstring's module) and plain code otherwise: an *optional* cross-reference,
which never fails the strict build. ``:math:`x``` becomes code.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(class|func|meth|mod|attr|data|obj|exc|math):`(~?)([^`]+)`")


def _link(kind: str, short: bool, target: str, module: str) -> str:
    if kind == "math":
        return f"`{target}`"
    shown = target.rsplit(".", 1)[-1] if short else target
    shown = f"{shown}()" if kind in ("func", "meth") and not shown.endswith(")") else shown
    # the name as written when it is absolute, else as seen from the docstring's module
    identifier = target if target.startswith("nmfsep.") else f"{module}.{target}"
    return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'


class SphinxRoles(griffe.Extension):
    """Rewrite the roles of every docstring griffe loads (the ``::: name`` pages' objects)."""

    def on_object(self, *, obj, loader, **kwargs) -> None:
        if obj.docstring is None or ":`" not in obj.docstring.value:
            return
        module = obj.module.path
        obj.docstring.value = ROLE.sub(
            lambda m: _link(m.group(1), m.group(2) == "~", m.group(3), module), obj.docstring.value)
