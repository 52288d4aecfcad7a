"""The texts int8 quantization is calibrated on and the held-out texts its quality report is
computed on (see SOURCE.md here for where they come from and their licence)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent


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
