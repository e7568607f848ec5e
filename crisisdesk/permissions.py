"""Who may do what: the one permission matrix, read by the API, the CLI and docs/access.md.

A person's directory roles (`people.roles`) grant permissions; a service account (`people.service`)
may only open cases, whatever roles it lists. The case's own authority rules (only the head decides
the plan, a delegate acts within scope until expiry, only the spokesperson speaks to the media) are
enforced by the case on top of this: a permission lets a request reach the case, the case decides.

`docs/access.md` shows `matrix_markdown()`; a test keeps the two identical.
"""

from collections.abc import Iterable
from enum import StrEnum

from crisisdesk.models.roles import ROLES as CASE_ROLES


class Permission(StrEnum):
    open_case = "case:open"            # POST /intakes
    read_case = "case:read"            # status and timeline (redacted without personal:read)
    read_personal = "personal:read"    # personal data unredacted: stakeholders, reporters, survey comments
    act = "case:act"                   # actions and evidence, as oneself; /codec/encode (the UI's input)
    decode = "payload:decode"          # /codec/decode in full: the Web UI reads encrypted histories in clear
    #                                    (case:read alone decodes only the case sheet, handlers and refusals)
    reports = "reports:read"           # metrics, reports, Prometheus
    erase = "privacy:erase"            # purge after retention, erasure requests, re-encryption
    manage_users = "users:manage"      # crisis users add / list / revoke
    manage_projects = "projects:manage"  # project teams (PUT /projects/{id}/team)


P = Permission
CUSTOMER_FACING = frozenset({P.open_case, P.read_case, P.read_personal, P.act, P.decode})
CASE_WORKER = frozenset({P.open_case, P.read_case, P.act})

# Directory roles and what they grant. Case roles (head, cs_owner, ...) are directory roles too:
# holding one in the directory says the person may serve in it, and grants what it needs.
ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "operator": CASE_WORKER,                   # customer service, the crisis team
    "head": CUSTOMER_FACING,                   # project head: decides, talks to the customer
    "regional_cs": CUSTOMER_FACING,            # regional customer service head
    "cs_owner": CUSTOMER_FACING,               # the customer service owner of a case: calls the customer
    "spokesperson": CASE_WORKER,
    "technician": CASE_WORKER,
    "expert": CASE_WORKER,
    "department": CASE_WORKER,                 # department:<name>, any name
    "privacy": frozenset({P.read_case, P.read_personal, P.decode, P.erase}),  # data protection officer
    "manager": frozenset({P.read_case, P.reports, P.manage_projects}),
    "admin": frozenset({P.read_case, P.reports, P.manage_users, P.manage_projects}),
}
SERVICE_PERMISSIONS = frozenset({P.open_case})
# Directory roles that see every project's and region's cases; everyone else sees the projects and
# regions their directory entry lists (starter/scope.py, docs/access.md "Scope").
EVERY_CASE_ROLES = ("admin", "manager")
SYSTEM_ROLES = ("operator", "privacy", "manager", "admin")
# Everything: the embedded stack's one local user (CRISIS_AUTH=none).
ALL_PERMISSIONS = frozenset(Permission)


def role_key(role: str) -> str:
    return "department" if role.startswith("department:") else role


def valid_directory_role(role: str) -> str:
    """The role itself, or ValueError naming the choices."""
    key = role_key(role)
    if key in ROLE_PERMISSIONS and (key != "department" or len(role) > len("department:")):
        return role
    choices = ", ".join([*SYSTEM_ROLES, *CASE_ROLES, "department:<name>"])
    raise ValueError(f"unknown role {role!r}: one of {choices}")


def permissions_for(roles: Iterable[str], service: bool = False) -> frozenset[Permission]:
    if service:
        return SERVICE_PERMISSIONS
    granted: set[Permission] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(role_key(role), frozenset())
    return frozenset(granted)


def matrix_markdown() -> str:
    """The matrix as the Markdown table docs/access.md carries."""
    perms = list(Permission)
    rows = [("service account (`--service`)", SERVICE_PERMISSIONS)]
    rows += [(f"`{role}`" if role != "department" else "`department:<name>`", granted)
             for role, granted in ROLE_PERMISSIONS.items()]
    head = "| role | " + " | ".join(f"`{p.value}`" for p in perms) + " |"
    rule = "| --- |" + " :-: |" * len(perms)
    body = ["| " + name + " | " + " | ".join("✓" if p in granted else "" for p in perms) + " |" for name, granted in rows]
    return "\n".join([head, rule, *body])
