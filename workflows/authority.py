"""Who may decide what (002 §4.3.3, §4.6): the head, a scoped delegate, the department, the spokesperson.

Every refusal names who may do it instead.
"""

from datetime import datetime

from crisisdesk.models.actions import ActionRefused
from workflows.state import CaseState


def require_head(state: CaseState, action: str, by: str, now: datetime, delegable: bool = True) -> str:
    """Pass when `by` is the head, or a delegate whose unexpired scope covers `action`; returns in what capacity."""
    head = state.roles.get("head")
    if head is None:
        raise ActionRefused(f"{action}: no head is assigned to this case; assign_role head first")
    if by == head:
        return "head"
    grant = state.delegation
    if delegable and grant is not None and grant.to == by:
        if grant.until <= now:
            raise ActionRefused(f"{action}: {by}'s delegation expired at {grant.until.isoformat()}; the head ({head}) decides")
        if action not in grant.scope:
            raise ActionRefused(
                f"{action} is outside {by}'s delegated scope ({', '.join(grant.scope)}): "
                f"{grant.outside_scope}; otherwise the head ({head}) decides"
            )
        return "delegate"
    who = f"the head ({head})" + (" or a delegate with it in scope" if delegable else "")
    raise ActionRefused(f"{action}: only {who} may do this, not {by}")


def require_spokesperson(state: CaseState, by: str) -> None:
    spokesperson = state.roles.get("spokesperson") or state.roles.get(state.playbook.spokesperson_default_role)
    if spokesperson is None:
        raise ActionRefused("media_statement: no spokesperson is named; the head assigns one with assign_role spokesperson")
    if by != spokesperson:
        raise ActionRefused(f"media_statement: only the spokesperson ({spokesperson}) speaks to the media, not {by}")


def require_department(state: CaseState, action: str, department: str, by: str, now: datetime) -> str:
    """A specific (non-principled) change needs only the responsible department's consent (4.4.1.1)."""
    person = state.roles.get(f"department:{department}")
    if person is not None and by == person:
        return "department"
    try:
        return require_head(state, action, by, now)
    except ActionRefused:
        who = f"the {department} department ({person})" if person else f"the {department} department (assign_role department:{department})"
        raise ActionRefused(f"{action}: a specific revision is approved by {who} or the head, not {by}") from None


def require_role_holder(state: CaseState, action: str, by: str) -> None:
    if by not in state.roles.values():
        raise ActionRefused(f"{action}: {by} holds no role on this case; assign_role first")


EDGES = ("http", "cli")


def require_edge(case_via: str | None, action: str) -> None:
    """System actions the API and the CLI send for the person they served, never typed by hand."""
    if case_via not in EDGES:
        raise ActionRefused(f"{action}: recorded by the API or the CLI for the person they served; it is not sent "
                            f"by hand (this came via {case_via or 'an unknown channel'})")
