"""The texts int8 quantization is calibrated on and the held-out texts its quality report is
computed on (see SOURCE.md here for where they come from and their licence), and the int8
output ranges computed from them per model (ranges/, see engine/quantized.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
RANGES = HERE / "ranges"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def shipped_calibration() -> list[str]:
    return _lines((HERE / "calibration.txt").read_text(encoding="utf-8"))


def held_out() -> list[str]:
    return _lines((HERE / "held_out.txt").read_text(encoding="utf-8"))


def read_calibration(path: Path) -> list[str]:
    """A user's calibration file: UTF-8 text, one text per line. Missing, empty or binary:
    a RuntimeSettingError naming the file."""
    from embedhub.backends import RuntimeSettingError

    where = f"--calibration {path}"
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise RuntimeSettingError(f"{where}: no such file") from None
    except OSError as exc:
        raise RuntimeSettingError(f"{where}: can't be read ({exc.strerror})") from None
    if b"\0" in data:
        raise RuntimeSettingError(f"{where}: not a text file (it has NUL bytes)")
    try:
        texts = _lines(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RuntimeSettingError(f"{where}: not UTF-8 text (byte {exc.start})") from None
    if not texts:
        raise RuntimeSettingError(f"{where}: no texts in it (expected one text per line)")
    return texts


def ranges_file(model_id: str) -> Path:
    """Where the int8 output ranges of `model_id` are shipped (`org/name` -> `org--name.json`)."""
    return RANGES / (model_id.replace("/", "--") + ".json")


def shipped_ranges(model_id: str) -> dict[str, Any] | None:
    """The shipped int8 output ranges of `model_id`, as written by
    scripts/make_quantization_ranges.py; None when none ship for it."""
    path = ranges_file(model_id)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def ranged_models() -> list[str]:
    """The model ids ranges ship for."""
    return sorted(
        json.loads(p.read_text(encoding="utf-8"))["model_id"] for p in RANGES.glob("*.json")
    )
