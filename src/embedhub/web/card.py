"""A README as the repo page shows it: the YAML header as a table, the Markdown body as HTML.

Markdown is rendered by markdown-it-py (CommonMark, raw HTML allowed as on the Hub) and the
result is sanitised by nh3 (ammonia's allow-list): no script, no event handler, no
`javascript:` URL survives. The pages' Content-Security-Policy forbids inline script on top."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import nh3
import yaml
from markdown_it import MarkdownIt

_MD = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table")
_FRONT = "---"


@dataclass
class Card:
    meta: dict[str, Any] = field(default_factory=dict)
    meta_error: str | None = None
    html: str = ""

    def rows(self) -> list[tuple[str, str, bool]]:
        """(key, value as text, whether the value is a block) for the header table."""
        out = []
        for key, value in self.meta.items():
            if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
                out.append((str(key), ", ".join(str(v) for v in value), False))
            elif isinstance(value, dict | list):
                text = yaml.safe_dump(value, sort_keys=False, allow_unicode=True).strip()
                out.append((str(key), text, True))
            else:
                out.append((str(key), "" if value is None else str(value), False))
        return out


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(YAML header or None, body). The header is the block between a first line `---` and
    the next line that is exactly `---`."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != _FRONT:
        return None, text
    for i in range(1, len(lines)):
        if lines[i].strip() == _FRONT:
            return "".join(lines[1:i]), "".join(lines[i + 1 :])
    return None, text


def render_markdown(text: str) -> str:
    return nh3.clean(_MD.render(text), link_rel="noopener noreferrer nofollow")


def parse_card(text: str) -> Card:
    header, body = split_front_matter(text)
    card = Card(html=render_markdown(body))
    if header is not None:
        try:
            meta = yaml.safe_load(header)
        except yaml.YAMLError as exc:
            card.meta_error = f"The YAML header could not be read: {exc}"
        else:
            if isinstance(meta, dict):
                card.meta = meta
            elif meta is not None:
                card.meta_error = "The YAML header is not a mapping of keys to values"
    return card
