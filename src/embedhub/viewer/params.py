"""Query parameters as the Hub's dataset viewer reads them, with its error codes: a missing
one is 422 `MissingRequiredParameter`, a bad one 422 `InvalidParameter` (both in the body
`{"error": ...}` with the code in `X-Error-Code`)."""

from __future__ import annotations

from starlette.requests import Request

from embedhub.errors import EmbedhubError, Kind

MAX_ROWS = 100  # rows per page, as the Hub (MAX_NUM_ROWS_PER_PAGE)
MAX_OFFSET = 1 << 53  # past this an offset means nothing and breaks 64-bit row numbers
MAX_K = 100
DEFAULT_K = 10


def missing(name: str) -> EmbedhubError:
    return EmbedhubError(
        Kind.VALIDATION, f"Parameter '{name}' is required", code="MissingRequiredParameter"
    )


def invalid(message: str) -> EmbedhubError:
    return EmbedhubError(Kind.VALIDATION, message, code="InvalidParameter")


def required(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if value is None or not value.strip():
        raise missing(name)
    return value


def optional(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value is not None and value.strip() else None


def integer(value: str | int | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise invalid(f"Parameter '{name}' must be integer")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid(f"Parameter '{name}' must be integer") from None
    if number < low:
        raise invalid(f"Parameter '{name}' must be {'positive' if low == 0 else f'>= {low}'}")
    if number > high:
        raise invalid(f"Parameter '{name}' must not be greater than {high}")
    return number


def offset_length(request: Request) -> tuple[int, int]:
    q = request.query_params
    offset = integer(q.get("offset"), "offset", 0, 0, MAX_OFFSET)
    length = integer(q.get("length"), "length", MAX_ROWS, 0, MAX_ROWS)
    return offset, length


def flag(value: object, name: str) -> bool:
    if value is None or value is False:
        return False
    if value is True:
        return True
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("", "0", "false", "no"):
        return False
    raise invalid(f"Parameter '{name}' must be true or false")
