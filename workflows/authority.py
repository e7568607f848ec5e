"""Who may decide what (002 §4.3.3, §4.6): the seats of the lifecycle table, checked against the case.

Every action's row in `crisisdesk.lifecycle` names its seats; a step calls `authorize` (with fewer
seats where its own rule narrows them, say a principled revision is the head's alone), which says
in which seat `by` acts or refuses naming who may instead. The first seat of a row is taken by
whoever does its work while nobody holds it (the first to record the customer's confirmation becomes
`cs_owner`); with authentication on, only a person whose directory roles allow the seat takes it.

With authentication on (`state.auth_required`), an action taken in a seat of authority (the head's,
the spokesperson's) or a role assignment needs a verified identity (`crisisdesk.stamps`) equal to
its `by`: the head's decisions cannot be typed in someone else's name.
"""

from datetime import datetime

from crisisdesk.customerlinks import reporter_id
from crisisdesk.lifecycle import ACTIONS, AUTHORITY_SEATS
from crisisdesk.i18n import said
from crisisdesk.models.actions import ActionRefused, refused
from workflows.casefile import CaseFile
from workflows.state import CaseState

CS_SEATS = ("cs_owner", "regional_cs")
# Directory roles that let a person hold a case's seat (with authentication on): `operator` is customer
# service and the crisis team (crisisdesk.permissions).
ELIGIBLE: dict[str, frozenset[str]] = {
    "head": frozenset({"head"}),
    "regional_cs": frozenset({"regional_cs"}),
    "cs_owner": frozenset({"cs_owner", "regional_cs", "operator"}),
    "spokesperson": frozenset({"spokesperson"}),
    "technician": frozenset({"technician", "expert"}),
    "expert": frozenset({"expert", "technician"}),
    "monitor": frozenset({"monitor", "operator"}),
}
# Who may seat the first head or regional customer service of a case that has neither.
BOOTSTRAP = frozenset({"admin", "manager", "head", "regional_cs"})
EDGES = ("http", "cli")


def may_hold(role: str, directory_roles: tuple[str, ...] | list[str]) -> bool:
    """Whether a person with these directory roles may hold the case's seat `role`."""
    if role.startswith("department:"):
        return role in directory_roles
    return bool(ELIGIBLE.get(role, frozenset({role})) & set(directory_roles))


def eligible_for(role: str) -> str:
    wanted = ELIGIBLE.get(role, frozenset({role})) if not role.startswith("department:") else {role}
    return " or ".join(sorted(wanted))


# -- the head and the delegate (002 §4.3.3) -----------------------------------------------------------
def require_head(state: CaseState, action: str, by: str, now: datetime, delegable: bool = True) -> str:
    """Pass when `by` is the head, or a delegate whose unexpired scope covers `action`; returns in what capacity."""
    head = state.roles.get("head")
    if head is None:
        raise refused("refuse.no_head", action=action)
    if by == head:
        return "head"
    grant = state.delegation
    if delegable and grant is not None and grant.to == by:
        if grant.until <= now:
            raise refused("refuse.delegation_expired", action=action, by=by, until_at=grant.until.isoformat(), head=head)
        if action not in grant.scope:
            raise refused("refuse.outside_scope", action=action, by=by, scope=list(grant.scope),
                          outside=grant.outside_scope, head=head)
        return "delegate"
    raise refused("refuse.only_head_or_delegate" if delegable else "refuse.only_head", action=action, head=head, by=by)


def spokesperson_of(state: CaseState) -> str | None:
    return state.roles.get("spokesperson") or state.roles.get(state.playbook.spokesperson_default_role)


# -- the seats ------------------------------------------------------------------------------------------
def _department(case: CaseFile) -> str | None:
    """The department whose seat this is: the plan's (crisis path), else the one the action names."""
    state = case.state
    name = state.plan.department if state.plan else case.department or (state.implementation or {}).get("department")
    return f"department:{name}" if name else None


def _holder(case: CaseFile, seat: str) -> list[str]:
    """The people who hold `seat` now (for the refusal, and for the check)."""
    s = case.state
    if seat in ("head", "head_only"):
        return [s.roles["head"]] if "head" in s.roles else []
    if seat == "cs":
        return [s.roles[r] for r in CS_SEATS if r in s.roles]
    if seat == "department":
        role = _department(case)
        return [s.roles[role]] if role and role in s.roles else []
    if seat == "plan_owner":
        return [s.implementation["owner"]] if s.implementation else []
    if seat == "task_owner":
        role = case.task_owner
        holder = spokesperson_of(s) if role == "spokesperson" else s.roles.get(role) if role else None
        return [holder] if holder else []
    if seat == "experts":
        return list(s.experts)
    if seat == "spokesperson":
        return [p for p in [spokesperson_of(s)] if p]
    if seat in ("regional_cs", "technician", "monitor"):
        return [s.roles[seat]] if seat in s.roles else []
    if seat == "alerted":
        return list(s.alerted)
    if seat == "on_case":
        return sorted({*s.roles.values(), *s.alerted, *s.experts})
    return []


def who_may(case: CaseFile, action: str) -> str | None:
    """The person the case would take `action` from now: the first holder of its row's seats (the
    case sheet's examples are written in their name)."""
    for seat in ACTIONS[action].who:
        if seat == "head" and case.state.roles.get("head"):
            return case.state.roles["head"]
        if holders := _holder(case, seat):
            return holders[0]
    return None


SEATS_NAMED = ("head", "head_only", "cs", "plan_owner", "experts", "task_owner", "spokesperson", "regional_cs", "technician", "monitor",
               "alerted", "on_case", "staff", "intake", "edge", "reporter", "system")


def _describe(case: CaseFile, seat: str) -> dict | str:
    """Who holds `seat` on this case, as facts for the refusal's words (`seat.*` in the catalogue)."""
    holders = _holder(case, seat)
    name: dict | str = said(f"seat.{seat}") if seat in SEATS_NAMED else seat
    if seat == "department":
        role = _department(case)
        name = said("seat.department_named", department=role.removeprefix("department:")) if role else said("seat.department")
    if seat == "task_owner" and case.task_owner:
        name = said("seat.task_owner_named", owner=case.task_owner)
    if seat in ("head", "head_only", "cs", "department", "plan_owner", "task_owner", "spokesperson", "regional_cs",
                "technician", "monitor") or (seat == "experts" and holders):
        name = said("seat.held", seat=name, holders=holders[:3]) if holders else \
            said("seat.nobody", seat=name, role_id=_role_of(case, seat) or seat)
    if seat == "head":
        name = said("seat.or_delegate", seat=name)
    return name


def either(names: list) -> dict | str:
    """`a or b or c`, as facts."""
    found = names[0]
    for more in names[1:]:
        found = said("seat.or", first=found, second=more)
    return found


def _role_of(case: CaseFile, seat: str) -> str | None:
    return {"head": "head", "head_only": "head", "cs": "cs_owner", "regional_cs": "regional_cs",
            "technician": "technician", "monitor": "monitor", "spokesperson": "spokesperson",
            "department": _department(case), "task_owner": case.task_owner}.get(seat)


def reporters_of(case: CaseFile) -> list[str]:
    """The case's reporters as `by` names them (crisisdesk.customerlinks.reporter_id): its own and joined reports."""
    s = case.state
    return [reporter_id(s.intake.intake_id), *(reporter_id(r.intake_id) for r in s.reporters)]


def _holds(case: CaseFile, seat: str, action: str, by: str, now: datetime) -> bool:
    s = case.state
    if case.via == "customer":
        # The customer's page speaks only for its reporter, vouched for by the API's stamp (identity == by).
        return seat == "reporter" and case.identity == by and by in reporters_of(case)
    if seat == "head":
        try:
            require_head(s, action, by, now)
        except ActionRefused:
            if s.delegation is not None and s.delegation.to == by and s.roles.get("head") != by:
                raise  # the delegate is told why their grant does not cover this
            return False
        return True
    if seat == "staff":
        return not s.auth_required or case.identity is not None
    if seat == "intake":
        return case.via in (*EDGES, "intake", "system")
    if seat == "edge":
        return case.via in EDGES
    if seat == "system":
        return case.via == "system"
    if seat == "reporter":
        return False  # only through the customer's page (above)
    return by in _holder(case, seat)


def _take(case: CaseFile, seat: str, action: str, by: str, now: datetime) -> bool:
    """The row's first seat, held by nobody: `by` takes it by doing its work (an eligible person, with
    authentication on). Returns whether they did."""
    role = _role_of(case, seat)
    if case.via == "customer":
        return False  # a customer never takes a staff seat
    if role is None or seat in ("head", "head_only", "spokesperson", "task_owner") or _holder(case, seat):
        return False
    if case.state.auth_required and not may_hold(role, case.actor_roles):
        return False
    case.state.roles[role] = by
    case.record(now, "role_taken", role, by=by, why=f"recorded {action}")
    return True


def authorize(case: CaseFile, action: str, by: str, now: datetime, seats: tuple[str, ...] | None = None,
              department: str | None = None) -> str:
    """The seat in which `by` takes `action` (the lifecycle row's seats, or `seats` where the step narrows
    them), or ActionRefused naming who may. `department` names the department seat where the case has no
    plan (the ordinary path: the action says which department works). With authentication on, a seat of
    authority also needs a verified identity equal to `by`."""
    seats = seats or ACTIONS[action].who
    case.department = department
    capacity = next((seat for seat in seats if _holds(case, seat, action, by, now)), None)
    if capacity is None and _take(case, seats[0], action, by, now):
        capacity = seats[0]
    if capacity is None:
        raise refused("refuse.only", action=action, who=either([_describe(case, seat) for seat in seats]), by=by)
    if capacity == "head" and case.state.roles.get("head") != by:
        capacity = "delegate"
    require_verified(case, action, by, capacity)
    return capacity


def require_verified(case: CaseFile, action: str, by: str, capacity: str) -> None:
    """Authority is not typed in: with authentication on, the head's and the spokesperson's actions (and
    seating people) come with a verified identity equal to `by`."""
    if not case.state.auth_required:
        return
    if capacity in (*AUTHORITY_SEATS, "delegate") or action == "assign_role":
        if case.identity != by:
            how = said("refuse.verified_as", identity=case.identity) if case.identity else said("refuse.unverified")
            raise refused("refuse.not_verified", action=action, by=by, how=how)


def require_department_or_head(case: CaseFile, action: str, by: str, now: datetime) -> str:
    """A specific (non-principled) change needs only the responsible department's consent (4.4.1.1)."""
    return authorize(case, action, by, now, seats=("department", "head"))
