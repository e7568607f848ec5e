"""How the API says no: one shape for every 4xx, never an echo of the input.

`error(status, message)` is `{"detail": "<one line>"}`; `validation_failed(errors)` is a 422 with
`{"detail": [{"loc", "msg", "type"}…], "message": "<one line>"}`, the first MAX_ERRORS errors only.
"""

from typing import Any

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from crisisdesk.models.actions import MAX_ERRORS, error_message


def error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"detail": message, **extra}, status_code=status)


def describe_errors(errors: list[dict[str, Any]], total: int | None = None) -> str:
    """`summary: Field required; reporter.name: String should have at most 200 characters` (the first
    MAX_ERRORS, then how many more)."""
    parts = []
    for e in errors[:MAX_ERRORS]:
        loc = [str(p)[:100] for p in e.get("loc", ()) if p != "body"]
        parts.append(f"{'.'.join(loc) or 'body'}: {e.get('msg')}")
    total = len(errors) if total is None else total
    if total > MAX_ERRORS:
        parts.append(f"and {total - MAX_ERRORS} more")
    return "; ".join(parts)


def public_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Never echo the input back: it can be megabytes of evidence or someone's phone number. The first
    # MAX_ERRORS only: a body of 50,000 unknown keys is not answered with 50,000 errors.
    return [{"loc": [str(p)[:100] if isinstance(p, str) else p for p in e.get("loc", ())],
             "msg": error_message(e) if "type" in e and "msg" in e else e.get("msg"), "type": e.get("type")}
            for e in errors[:MAX_ERRORS]]


def validation_failed(errors: list[dict[str, Any]]) -> JSONResponse:
    public = public_errors(errors)
    return JSONResponse(jsonable_encoder({"detail": public, "message": describe_errors(public, len(errors))}),
                        status_code=422)
