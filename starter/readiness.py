"""What a worker checks before it serves cases on a real cluster (issue 15).

A namespace set up by hand, or by Temporal's Helm chart without crisisdesk's values, may lack the
search attributes the case workflow upserts; every case would then fail its first workflow task.
The worker names what is missing and refuses to start instead; likewise a file store (the shared
evidence and report volume) it cannot write.
"""

import os

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from crisisdesk.names import SEARCH_ATTRIBUTES

EXIT_SEARCH_ATTRIBUTES = 5  # the `crisis` CLI's code for the same cause


def _type_name(value: int) -> str:
    return IndexedValueType.Name(value).removeprefix("INDEXED_VALUE_TYPE_").title()


async def missing_search_attributes(client: Client, namespace: str) -> list[str]:
    """`Name=Type` of every crisisdesk search attribute the namespace lacks or holds with another type."""
    answer = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    known = dict(answer.custom_attributes)
    return [f"{key.name}={_type_name(key.indexed_value_type)}" for key in SEARCH_ATTRIBUTES
            if known.get(key.name) != key.indexed_value_type]


def missing_message(namespace: str, missing: list[str]) -> str:
    return (f"namespace {namespace} lacks crisisdesk's search attributes {', '.join(missing)}: register them "
            "(deploy/temporal/setup-namespace.sh, or `temporal operator search-attribute create`) and start again")


def unwritable_file_stores(settings) -> list[str]:
    """`VARIABLE (path: reason)` for each file store this process cannot write: an unmounted or
    read-only volume is named at start, not at the first evidence item of a case."""
    problems = []
    for variable, directory in (("CRISIS_EVIDENCE_DIR", settings.evidence_dir), ("CRISIS_REPORT_DIR", settings.report_dir)):
        try:
            directory.mkdir(parents=True, exist_ok=True)
            probe = directory / f".write-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            problems.append(f"{variable} ({directory}: {err.strerror or type(err).__name__})")
    return problems
