"""The words people read about the contingency's tasks and the department's part in the plan (issue 26).

One module, keyed by id, filled from the facts the case recorded (names, seats, times): the workflow
never builds these sentences itself, and they move into the message catalogues (issue 23) as they are.
Pure, no I/O: the workflow sandbox imports it.
"""

from typing import Any

# id -> (subject, body); `{name}` fields are filled by `say`.
WORDS: dict[str, tuple[str, str]] = {
    "contingency_started": (
        "Contingency started: {count} tasks",
        "{why}. The contingency has started (002 §4.4.1.4). Tasks, each with its owner and due time:\n{tasks}\n"
        "Record each one done with contingency_task_done (name, note); work recorded by its own action "
        "(a media statement, evidence, police liaison) completes its task too.",
    ),
    "contingency_task_line": ("", "- {name}: {owner}, due {due}"),
    "contingency_stood_down": (
        "Contingency stood down",
        "{by} stood the contingency down: {reason}. Open tasks closed: {closed}.",
    ),
    "revise_after_rejection": (
        "The customer rejected the plan: revise within {within}",
        "The customer rejected the plan ({reason}). Consult with customer service and propose a revision "
        "(revise_plan) by {due}, or say it cannot be adjusted (plan_not_adjustable) (002 §4.4.1.1).",
    ),
    "no_reason": ("", "no reason given"),
}


def say(key: str, **facts: Any) -> tuple[str, str]:
    subject, body = WORDS[key]
    return subject.format(**facts), body.format(**facts)


def line(key: str, **facts: Any) -> str:
    return WORDS[key][1].format(**facts)
