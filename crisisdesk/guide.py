"""What each action is for, who may take it, when, and an example: the operator's guide, read from the
lifecycle table (`crisisdesk.lifecycle`).

The Web UI shows these texts in its Signal and Update dialogs (handler descriptions) and the case
sheet pastes the examples; the field list is read from the same pydantic model that validates the
action, so a description cannot drift from the code.
"""

import json
import re
from typing import Any

from pydantic_core import PydanticUndefined

from crisisdesk import i18n
from crisisdesk.lifecycle import ACTIONS, stages_text, who_text
from crisisdesk.models.actions import ACTION_MODELS


def fields(name: str) -> list[str]:
    """The action's fields beyond `by` and `note`, required ones first, with their type."""
    model = ACTION_MODELS[name]
    required, optional = [], []
    for field_name, info in model.model_fields.items():
        if field_name in ("by", "note"):
            continue
        kind = getattr(info.annotation, "__name__", None) or str(info.annotation)
        kind = re.sub(r"\b[\w.]+\.(\w+)", r"\1", kind)  # `pydantic.types.AwareDatetime` -> `AwareDatetime`
        if info.is_required() or info.default is PydanticUndefined and info.default_factory is None:
            required.append(f"{field_name} ({kind}, required)")
        else:
            optional.append(f"{field_name} ({kind})")
    return required + optional


def example(name: str, by: str | None = None) -> str:
    """The row's example as JSON to paste; `by` the person who may take it on this case, when known."""
    value = ACTIONS[name].example if by is None else {**ACTIONS[name].example, "by": by}
    return json.dumps(value, ensure_ascii=False)


def example_in(name: str, locale: str | None) -> dict:
    """The row's example with its free text in `locale` (catalogue `example.<action>.<path>`, e.g.
    `example.monitor_checkin.watched.0`); ids, enum values, numbers and times stay as they are."""
    catalogue = i18n.CATALOGUES[i18n.loc(locale)]

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, f"{path}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, f"{path}.{i}") for i, v in enumerate(value)]
        return catalogue.get(path, value) if isinstance(value, str) else value

    return walk(ACTIONS[name].example, f"example.{name}")


def describe(name: str) -> str:
    """One paragraph for the Web UI's dialog: what, who, when, fields, an example to paste."""
    row = ACTIONS[name]
    listed = "".join(f"{f}, " for f in fields(name))
    english = (f"{row.what[0].upper()}{row.what[1:]}. Who: {who_text(row)}. When: {stages_text(row)}. "
               f"Fields: by (required), {listed}note. Example: {example(name)}")
    # Registered once for every case, so the Web UI cannot know its reader: both languages (issue 23).
    chinese = i18n.CATALOGUES["zh-CN"].get(f"action.{name}")
    return f"{english}\n\n{chinese}。by（操作人）必填；可粘贴上面的示例。" if chinese else english
