"""Writes the text corpus shipped for int8 calibration and its quality report
(src/embedhub/backends/calibration/*.txt). Run once by a maintainer; the files are committed.

Source: CPython's own documentation, under the PSF License 2.0 (see SOURCE.md there): the
docstrings of the standard library's modules, classes and functions, and the reference
manual's topics (`pydoc_data.topics`). Two disjoint halves, split by source file, so no
document gives text to both: calibration texts (what the quantizer sees) and held-out texts
(what the quality report is computed on)."""

from __future__ import annotations

import ast
import hashlib
import random
import re
import sysconfig
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src/embedhub/backends/calibration"
CALIBRATION, HELD_OUT = 1000, 1200
_SPLIT = re.compile(r"\n\s*\n")


def paragraphs(text: str):
    for part in _SPLIT.split(text):
        para = " ".join(part.split())
        # Prose, not code: mostly letters and spaces; one line of a file per text.
        if 20 <= len(para) <= 1500 and sum(c.isalpha() for c in para) > len(para) * 0.6:
            yield para


def docstrings(half: int) -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if {"test", "tests", "site-packages", "idlelib"} & set(rel.parts):
            continue
        if int(hashlib.sha256(str(rel).encode()).hexdigest(), 16) % 2 != half:
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef):
                doc = ast.get_docstring(node)
                if doc:
                    out.extend(paragraphs(doc))
    return out


def topics() -> list[str]:
    from pydoc_data import topics as t

    return [p for name in sorted(t.topics) for p in paragraphs(t.topics[name])]


def sample(texts: list[str], n: int, exclude: set[str], seed: int) -> list[str]:
    unique = sorted(set(texts) - exclude)
    return random.Random(seed).sample(unique, n)


def main() -> None:
    calibration = sample(docstrings(0), CALIBRATION, set(), 1)
    held_out = sample(topics() + docstrings(1), HELD_OUT, set(calibration), 2)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "calibration.txt").write_text("\n".join(calibration) + "\n", encoding="utf-8")
    (OUT / "held_out.txt").write_text("\n".join(held_out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
