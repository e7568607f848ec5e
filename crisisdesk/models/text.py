"""Text that people send: storable everywhere it goes, or refused with the field named.

JSON and pydantic accept two things PostgreSQL cannot store: the NUL character (`\\u0000`) and
unpaired surrogates (`\\ud800`, not valid UTF-8). Either one would make the record of a case fail
for good, so every model that carries text from outside (the intake, every action, the directory)
derives from `StorableModel`, which refuses them in any string field, nested ones included, with
the field's name. The same models validate HTTP, CLI, signal and update input, so every channel
refuses the same text the same way.
"""

from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator


SURROGATE = "contains an unpaired surrogate (not valid UTF-8), which cannot be stored: send valid Unicode"


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored: remove it"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE
    return None


def _check(value: Any, where: str) -> None:
    if isinstance(value, str):
        if reason := unstorable(value):
            raise ValueError(f"{where} {reason}" if where else reason)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, f"key {key!r}" if isinstance(key, str) and not unstorable(key) else "a key")
            _check(item, f"[{key!r}]" if isinstance(key, str) and not unstorable(key) else "")
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            _check(item, f"[{index}]")


class StorableModel(BaseModel):
    """A model whose every string (nested ones too) can be stored in PostgreSQL and JSON."""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any, info: ValidationInfo) -> Any:
        _check(value, "")
        return value


Text = Annotated[str, Field(min_length=1, max_length=5000)]
Name = Annotated[str, Field(min_length=1, max_length=200)]


def sendable(value: Any) -> Any:
    """`value` with unpaired surrogates replaced by U+FFFD, so that it can be sent as UTF-8 JSON (to
    be refused by its receiver, which is told why: the replacement is not the person's text)."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace") if unstorable(value) else value
    if isinstance(value, dict):
        return {sendable(k): sendable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [sendable(v) for v in value]
    return value


def made_storable(value: Any, where: str = "") -> tuple[Any, list[str]]:
    """`value` with what PostgreSQL cannot store taken out (NUL removed, unpaired surrogates replaced by
    U+FFFD), and the fields that changed: for input that must not be lost for it (an intake started past
    the API opens its case with the text made storable, and says so)."""
    if isinstance(value, str):
        if not unstorable(value):
            return value, []
        return value.replace("\x00", "").encode("utf-8", "surrogatepass").decode("utf-8", "replace"), [where or "text"]
    if isinstance(value, dict):
        out, changed = {}, []
        for key, item in value.items():
            key, bad_key = made_storable(key, where) if isinstance(key, str) else (key, [])
            item, bad = made_storable(item, f"{where}.{key}" if where else str(key))
            out[key] = item
            changed += bad_key + bad
        return out, changed
    if isinstance(value, list):
        pairs = [made_storable(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return [v for v, _ in pairs], [f for _, fs in pairs for f in fs]
    return value, []
