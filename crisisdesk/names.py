"""Names shared by the worker, the starters and the tests: one place, never retyped."""

from temporalio.common import SearchAttributeKey

WORKFLOW_TYPE = "CrisisWorkflow"
DEFAULT_TASK_QUEUE = "crisis"
CASE_ID_PREFIX = "crisis-"
# The detail of a refused update whose refusal the case recorded itself (its handler refused, not its
# validator): starters need not mirror it as a signal.
REFUSAL_RECORDED = "recorded"


def case_id_for(intake_id: str) -> str:
    """The workflow id of the case an intake opens: the same intake is always the same case."""
    return f"{CASE_ID_PREFIX}{intake_id}"


SA_STAGE = SearchAttributeKey.for_keyword("CrisisStage")
SA_SEVERITY = SearchAttributeKey.for_keyword("CrisisSeverity")
SA_CATEGORY = SearchAttributeKey.for_keyword("CrisisCategory")
SA_PATH = SearchAttributeKey.for_keyword("CrisisPath")
SA_PROJECT = SearchAttributeKey.for_keyword("CrisisProject")
SA_REGION = SearchAttributeKey.for_keyword("CrisisRegion")
SA_OWNER = SearchAttributeKey.for_keyword("CrisisOwner")
SA_NEXT_DEADLINE = SearchAttributeKey.for_datetime("CrisisNextDeadline")
SA_BREACHED = SearchAttributeKey.for_bool("CrisisBreached")
# The contingency (escalation) flag, for the "contingency on" saved view (docs/operators.md).
SA_CONTINGENCY = SearchAttributeKey.for_bool("CrisisContingency")
# The engine a case runs (workflows.case.ENGINE): `crisis engines` counts open cases by it.
SA_ENGINE = SearchAttributeKey.for_int("CrisisEngine")

SEARCH_ATTRIBUTES = [
    SA_STAGE, SA_SEVERITY, SA_CATEGORY, SA_PATH, SA_PROJECT,
    SA_REGION, SA_OWNER, SA_NEXT_DEADLINE, SA_BREACHED, SA_CONTINGENCY, SA_ENGINE,
]


def search_attribute_flags() -> list[str]:
    """`--search-attribute Name=Type` arguments for `temporal server start-dev`."""
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool", "INT": "Int"}
    flags: list[str] = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={kinds[key.indexed_value_type.name.removeprefix('INDEXED_VALUE_TYPE_')]}"]
    return flags
