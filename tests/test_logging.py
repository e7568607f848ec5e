"""Logs are structured, carry the case id, and never carry personal data or secrets."""

import json
import logging

import structlog
from structlog.testing import capture_logs

from crisisdesk.logs import configure_logging, redact

CONTACT = "+86 139 1234 5678"


async def test_a_case_with_personal_data_logs_none_of_it(open_case):
    configure_logging("console", level=logging.INFO)  # what a worker logs (the suite keeps warnings and up)
    with capture_logs() as logs:
        case = await open_case(reporter={"name": "Zhou Owner", "contact": CONTACT, "role": "owner"})
        await case.act("add_stakeholder", by="Chen CS", name="Zhou Owner", contact=CONTACT, unit="3-1201",
                       household="four people")
        await case.wait_for("stakeholder_stored")
        await case.wait_for("notification", "acknowledgement")
    assert logs, "the activities log what they do"
    assert all("case_id" in entry for entry in logs), [e for e in logs if "case_id" not in e]
    flat = json.dumps(logs, default=str)
    assert CONTACT not in flat and "Zhou Owner" not in flat and "3-1201" not in flat


def test_redaction_masks_sensitive_keys_whatever_the_call_site_passed(capsys):
    configure_logging("json", level=logging.INFO)
    try:
        structlog.get_logger("t").info("sent", case_id="crisis-1", contact=CONTACT, smtp_url="smtp://u:pw@h")
        line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    finally:
        structlog.reset_defaults()
    assert line["case_id"] == "crisis-1" and line["contact"] == "***" and line["smtp_url"] == "***"
    assert redact(None, "info", {"Authorization": "Bearer x"}) == {"Authorization": "***"}
