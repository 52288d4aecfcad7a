"""Real-world English text that exists on every machine without a download.

Source, in order: the paragraphs of the Python reference documentation that CPython ships as
`pydoc_data.topics` (prose about the language), then paragraphs of docstrings from the
installed Python sources (stdlib and site-packages: prose written by hundreds of authors).
A natural mix of short lines and long paragraphs, deduplicated, in a stable order."""

from __future__ import annotations

import ast
import re
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

_SPLIT = re.compile(r"\n\s*\n")


def _paragraphs(text: str) -> Iterator[str]:
    for part in _SPLIT.split(text):
        para = " ".join(part.split())
        # Skip code-ish fragments: real prose has letters and spaces.
        if len(para) >= 20 and sum(c.isalpha() for c in para) > len(para) * 0.6:
            yield para


def _pydoc_topics() -> Iterator[str]:
    from pydoc_data import topics

    for name in sorted(topics.topics):
        yield from _paragraphs(topics.topics[name])


def _docstrings() -> Iterator[str]:
    roots = [Path(sysconfig.get_paths()["stdlib"]), Path(sysconfig.get_paths()["purelib"])]
    for root in roots:
        for path in sorted(root.rglob("*.py")):
            if "test" in path.parts or "tests" in path.parts:
                continue
            try:
                tree = ast.parse(path.read_text(encoding="utf-8"))
            except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                    doc = ast.get_docstring(node)
                    if doc:
                        yield from _paragraphs(doc)


def real_texts(n: int) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for source in (_pydoc_topics(), _docstrings()):
        for text in source:
            if text not in seen:
                seen.add(text)
                out.append(text)
                if len(out) == n:
                    return out
    raise SystemExit(f"only {len(out)} texts found on this machine, {n} asked for")


if __name__ == "__main__":
    texts = real_texts(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
    lengths = sorted(len(t) for t in texts)
    print(f"{len(texts)} texts; chars: median {lengths[len(lengths) // 2]}, max {lengths[-1]}")
