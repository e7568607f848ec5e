"""The roles a case seats people in: named once, for the intake, the actions and the playbooks."""

ROLES = ("head", "regional_cs", "cs_owner", "spokesperson", "technician", "expert", "monitor")


def valid_role(role: str) -> str:
    if role in ROLES or (role.startswith("department:") and len(role) > len("department:")):
        return role
    raise ValueError(f"unknown role {role[:100]!r}: use one of {', '.join(ROLES)} or department:<name>")
