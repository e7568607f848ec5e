"""A crisis case read in its people's language (issue 23), through a real Temporal dev server and PostgreSQL.

Under CRISIS_LOCALE=zh-CN and CRISIS_TIMEZONE=Asia/Shanghai the reporter's acknowledgement, every staff
notification, the Web UI case sheet, a refusal and `crisis report` are Chinese with Shanghai times and no
ISO timestamp in a sentence; under `en` the same case reads in English.
"""

import re

import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata

from activities.reports import render_case_report
from crisisdesk import i18n
from tests.helpers import eventually
from tests.test_catalogue import english_left

pytestmark = pytest.mark.asyncio(loop_scope="session")

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|\bUTC\b")
SUMMARY = "三号楼外墙渗水，业主在群里聚集"
HEAD = "王总"


@pytest.fixture(params=["zh-CN", "en"])
def settings(settings, request):
    """The worker's settings under test: the language and zone of the whole desk."""
    return settings.model_copy(update={"locale": request.param, "timezone": "Asia/Shanghai"})


async def notes_of(pool, case_id: str, kinds: set[str]) -> dict[str, tuple[str, str]]:
    async def read():
        rows = await pool.fetch("SELECT kind, subject, body FROM notifications WHERE case_id = $1", case_id)
        return {r["kind"]: (r["subject"], r["body"]) for r in rows}
    return await eventually(read, lambda found: kinds <= set(found), timeout=30)


async def test_a_crisis_case_reads_in_the_desks_language(open_case, settings, pool):
    zh = settings.locale == "zh-CN"
    case = await open_case(potential_crisis=True, summary=SUMMARY, project={"id": "P-7", "name": "河畔二期", "region": "华东"},
                           roles={"head": HEAD, "regional_cs": "李经理", "cs_owner": "陈客服", "department:engineering": "赵工"},
                           reporter={"name": "业主", "contact": "owner@example.com", "role": "owner",
                                     "locale": settings.locale})
    await case.skip(minutes=31)  # the head did not acknowledge the alert in time: a breach alert
    await case.wait_for("breach", "alert_acknowledgement")
    notes = await notes_of(pool, case.id, {"acknowledgement", "alert", "risk_warning", "breach"})
    for kind, (subject, body) in notes.items():
        assert not ISO.search(subject + body), (kind, subject, body)
        if zh:
            assert english_left(subject + body) == [], (kind, subject, body)
    ack_subject, ack_body = notes["acknowledgement"]
    if zh:
        assert ack_subject.endswith(f"我们已收到您的反馈：{SUMMARY}") and "我们将在" in ack_body
        assert re.search(r"\d+月\d+日（周.）\d\d:\d\d前答复您", ack_body), ack_body
        assert notes["alert"][0].endswith("疑似危机：请立即电话联系") and "反馈时即标记为疑似危机" in notes["alert"][1]
        assert "预警确认" in notes["breach"][0]
    else:
        assert ack_subject.endswith(f"We received your report: {SUMMARY}")
        assert re.search(r"by \w{3} \d+ \w{3}, \d\d:\d\d", ack_body), ack_body
        assert notes["alert"][0].endswith("Potential crisis: phone now")

    # The Web UI's case sheet, as the UI reads it.
    meta = await case.handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    sheet = meta.current_details
    assert not ISO.search(sheet), sheet
    if zh:
        assert "**阶段** 预警中" in sheet and "**轮到：**" in sheet and "还剩" not in sheet or "已超时" in sheet
        assert english_left(sheet) == [], english_left(sheet)
    else:
        assert "**Stage** alerting" in sheet and "Whose turn" in sheet

    # A refusal, answered in the project's language (the Web UI shows the update's failure as it is).
    reason = await case.refused("approve_revision", by=HEAD)
    assert reason == i18n.text(settings.locale, "refuse.wrong_stage", action="approve_revision", stage="alerting",
                               stages=["awaiting_answer", "revising", "explaining", "executing"]) or (
        ("approve_revision：" in reason) if zh else reason.startswith("approve_revision: "))

    # `crisis report` (what the command calls), in the project's language with Shanghai times.
    await case.act("acknowledge", by=HEAD)
    report = await eventually(lambda: render_case_report(pool, case.id, locale=settings.locale, tz=settings.timezone),
                              lambda r: r is not None, timeout=30)
    text = report["markdown"]
    assert not ISO.search(text), text
    if zh:
        assert "## 摘要" in text and "## 时间线" in text and re.search(r"\d+月\d+日（周.）", text)
    else:
        assert "## Summary" in text and "## Timeline" in text
