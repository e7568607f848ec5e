"""What a request body may be before anything reads it as an intake or an action (issue 21).

JSON is read with limits, so a hostile body is a one-line 413/422 instead of a RecursionError or a
ValueError from deep inside the parser (a traceback, a 500): at most `MAX_DEPTH` levels of nesting,
`MAX_KEYS` keys in one object, `MAX_VALUES` values in all and numbers of at most `MAX_NUMBER_CHARS`
characters. An action's body is also no larger than the action can legitimately be: its model's
fields at their longest (`action_limit`), so a 1.4 MB note (notes hold 5,000 characters) is refused
at the door. What the case is sent when the edge refuses an action is `excerpt(...)`: `by` and the
shape of the input, never the input itself.
"""

import json
import re
from functools import cache
from typing import Any

from crisisdesk.models.actions import ACTION_MODELS
from crisisdesk.models.text import unstorable
from crisisdesk.settings import Settings

MAX_DEPTH = 32
MAX_KEYS = 1000
MAX_VALUES = 20_000
MAX_NUMBER_CHARS = 40
# A name that could be an action's (an unknown one is still sent, to be refused and recorded by the
# case): anything longer or stranger is refused before it is looked up, logged or sent.
ACTION_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
# JSON may spell one character as 12 bytes (an astral character as two \u escapes) and put
# whitespace between tokens: an action's limit allows both.
BYTES_PER_CHAR = 12
SLACK = 16 * 1024
UNBOUNDED_TEXT = 5000  # a string field without a maxLength counts as a Text
EXCERPT_FIELDS = 20


class BodyRefused(Exception):
    """A body refused before it is read as anything: `status` (413 or 422) and one line naming it.
    `limit`: one of the limits above (False: it is simply not JSON)."""

    def __init__(self, message: str, status: int = 422, loc: tuple[str, ...] = ("body",), limit: bool = True) -> None:
        super().__init__(message)
        self.status, self.loc, self.limit = status, loc, limit

    def errors(self) -> list[dict[str, Any]]:
        return [{"loc": list(self.loc), "msg": str(self), "type": "json_invalid"}]


def _number(text: str) -> int | float:
    if len(text) > MAX_NUMBER_CHARS:
        raise BodyRefused(f"a number of {len(text)} characters: at most {MAX_NUMBER_CHARS}")
    return float(text) if any(c in text for c in ".eE") else int(text)


def _constant(name: str) -> Any:
    raise BodyRefused(f"{name} is not JSON: send a number or null")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len(pairs) > MAX_KEYS:
        raise BodyRefused(f"an object with {len(pairs)} keys: at most {MAX_KEYS}")
    return dict(pairs)


def read_json(raw: bytes | str) -> Any:
    """The body as JSON within the limits, or BodyRefused (422) saying which limit or where it is not JSON."""
    try:
        value = json.loads(raw, parse_int=_number, parse_float=_number, parse_constant=_constant,
                           object_pairs_hook=_object)
    except RecursionError:
        raise BodyRefused(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as err:
        raise BodyRefused(f"not valid JSON: {err.msg} at line {err.lineno} column {err.colno}", limit=False) from None
    except UnicodeDecodeError:
        raise BodyRefused("not valid JSON (UTF-8 expected)", limit=False) from None
    except ValueError as err:  # the parser's own number limits, whatever slipped past the hooks
        raise BodyRefused(f"not valid JSON: {str(err)[:100]}") from None
    _within_limits(value)
    return value


def _within_limits(value: Any) -> None:
    stack, seen = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > MAX_DEPTH:
            raise BodyRefused(f"nested deeper than {MAX_DEPTH} levels")
        seen += len(children)
        if seen > MAX_VALUES:
            raise BodyRefused(f"more than {MAX_VALUES} values in one body")
        stack.extend((child, depth + 1) for child in children)


# -- how large an action can be ------------------------------------------------------------------

def _largest(schema: dict[str, Any], defs: dict[str, Any]) -> int:
    """The most bytes a JSON value of `schema` can take (pydantic's JSON schema of an action)."""
    if "$ref" in schema:
        return _largest(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    options = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if options:
        return max(_largest(option, defs) for option in options)
    if "enum" in schema:
        return max(len(json.dumps(v)) for v in schema["enum"]) * BYTES_PER_CHAR
    kind = schema.get("type")
    if kind == "string":
        chars = schema.get("maxLength") or (64 if schema.get("format") else UNBOUNDED_TEXT)
        return 2 + chars * BYTES_PER_CHAR
    if kind == "array":
        return 2 + schema.get("maxItems", 100) * (_largest(schema.get("items", {}), defs) + 2)
    if kind == "object":
        fields = schema.get("properties", {})
        total = 2 + sum(len(name) * BYTES_PER_CHAR + 4 + _largest(field, defs) for name, field in fields.items())
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):  # a mapping: as many entries as an object may have keys, within reason
            total += schema.get("maxProperties", 30) * (200 * BYTES_PER_CHAR + 4 + _largest(extra, defs))
        return total
    return 64  # numbers (at most MAX_NUMBER_CHARS), booleans, null


@cache
def _model_limit(action: str) -> int:
    schema = ACTION_MODELS[action].model_json_schema()
    return _largest(schema, schema.get("$defs", {})) + SLACK


def action_limit(action: str, settings: Settings) -> int:
    """The largest body `action` can legitimately have; inline evidence adds its base64 limit. An
    unknown name gets the smallest action's room (it is refused anyway, with `by` kept)."""
    if action not in ACTION_MODELS:
        return _model_limit("acknowledge")
    limit = _model_limit(action)
    if action == "add_evidence":
        limit += settings.evidence_inline_max_bytes * 4 // 3 + 4
    return limit


# -- what the case is told about an input it must not see ----------------------------------------

def _shape(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return f"({len(value)} characters)"
    if isinstance(value, (int, float)):
        return "(a number)"
    if isinstance(value, list):
        return f"({len(value)} items)"
    if isinstance(value, dict):
        return f"({len(value)} fields)"
    return f"({type(value).__name__})"


def excerpt(action: str, payload: object) -> dict[str, Any]:
    """A bounded, redacted stand-in for a refused action's input: `by` when it is a plausible name, the
    action's own fields with the size of what each held (never the text), and how many other keys came.
    Under 2 kB whatever was sent."""
    if not isinstance(payload, dict):
        return {"input": _shape(payload)}
    out: dict[str, Any] = {}
    by = payload.get("by")
    if isinstance(by, str) and 0 < len(by) <= 200 and not unstorable(by):
        out["by"] = by
    fields = ACTION_MODELS[action].model_fields if action in ACTION_MODELS else {}
    for key, value in payload.items():
        if len(out) >= EXCERPT_FIELDS:
            break
        if key in fields and key != "by":
            out[key] = _shape(value)
    others = sum(1 for key in payload if key not in fields)
    if others:
        out["unknown_fields"] = others
    return out


MAX_FORM_FIELDS = 50


async def read_form(request) -> dict[str, str]:
    """A small HTML form's fields (`application/x-www-form-urlencoded`, the body already bounded by the
    API's Guard), the first value of each; at most MAX_FORM_FIELDS fields. No multipart: nothing here
    uploads files through a form."""
    from urllib.parse import parse_qsl

    from fastapi import HTTPException

    raw = (await request.body()).decode("utf-8", "replace")
    try:
        fields = parse_qsl(raw, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise HTTPException(422, f"form: more than {MAX_FORM_FIELDS} fields") from None
    out: dict[str, str] = {}
    for name, value in fields:
        out.setdefault(name, value)
    return out
