"""The message catalogues (issue 23): both locales complete, placeholders alike, and no English left in
what a zh-CN reader is shown: each notification kind, the case sheet at each stage (rendered, not counted)."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from activities.wording import words
from crisisdesk import i18n
from crisisdesk.lifecycle import ACTIONS
from crisisdesk.models.case import Stage
from crisisdesk.models.effects import Notification, Recipient
from crisisdesk.models.intake import Intake
from crisisdesk.playbooks import load_playbook
from workflows import sheet
from workflows.casefile import CaseFile

AT = datetime(2026, 12, 3, 6, 0, tzinfo=timezone.utc)
SUMMARY = "三号楼外墙渗水"
# What may stay Latin in a Chinese text: action names and JSON to paste, ids, product names.
# (person and service ids, role ids in assign_role's list, the names of actions to paste).
ALLOWED = re.compile(r"`[^`]*`|\b[A-Z]+(?:_[A-Z]+)+\b|\{[^{}]*\}|crisis-[\w-]+|[a-z]+(_[a-z]+)+|\b(?:Temporal|Update|JSON|SHA-256|zhang|intake|"
                     r"head|spokesperson|technician|expert|monitor|department|follow_up_done|"
                     + "|".join(ACTIONS) + r")\b")


def english_left(text: str) -> list[str]:
    return re.findall(r"[A-Za-z]{3,}", ALLOWED.sub("", text))


def test_every_message_is_in_both_locales_with_the_same_placeholders():
    en, zh = i18n.CATALOGUES["en"], i18n.CATALOGUES["zh-CN"]
    assert set(en) == set(zh), set(en) ^ set(zh)
    for msg_id in en:
        assert i18n.placeholders(en[msg_id]) == i18n.placeholders(zh[msg_id]), msg_id
    for name in ACTIONS:  # the case sheet describes every action in both
        assert f"action.{name}" in zh


FACTS = {
    "acknowledgement": dict(summary=SUMMARY, case_id="crisis-1", respond_at=AT.isoformat(), level="一级响应"),
    "customer_reminder": dict(what="awaiting_answer", until_at=AT.isoformat()),
    "alert": dict(summary=SUMMARY, why=i18n.said("why.intake_potential_crisis")),
    "risk_warning": dict(summary=SUMMARY, why=i18n.said("why.external", party="media", scope="national")),
    "contingency": dict(why=i18n.said("why.not_adjustable"), count=1, tasks=[
        i18n.said("note.contingency.task", name="police_liaison", owner="department:hr", due_at=AT.isoformat())]),
    "contingency_stood_down": dict(by="王总", reason="已平息", closed=["statement_filed"]),
    "revise_plan": dict(reason=i18n.said("note.no_reason"), due_at=AT.isoformat(), within_seconds=3600),
    "customer_callback": {},
    "breach": dict(deadline="response", due_at=AT.isoformat(), actions=["triage"]),
    "reminder": dict(deadline="first_contact", due_at=AT.isoformat(), actions=["customer_contacted"]),
    "escalated": dict(deadline="alert_acknowledgement", due_at=AT.isoformat(), actions=["acknowledge"]),
    "external": dict(party="media", scope="provincial", source=i18n.said("note.no_source")),
    "media_alert": dict(scope="national", source="某报"),
    "media_brief": dict(party="media", scope="national", source="某报", by_at=AT.isoformat()),
    "escalation": dict(severity="urgent", reason="业主聚集"),
    "approval_needed": dict(proposer="张工", summary="更换外墙", due_at=AT.isoformat()),
    "approval_reclassified": dict(summary="更换外墙", reason="涉及费用", due_at=AT.isoformat()),
    "revision_seen": dict(proposer="张工", summary="更换外墙"),
    "execute_plan": dict(why=i18n.said("why.plan_accepted"), plan="更换外墙", every_seconds=86400, first_at=AT.isoformat()),
    "cancellation_requested": {},
    "record_rejected": dict(error="无效字节"),
    "experts_convened": dict(summary=SUMMARY, question=i18n.said("why.consult"), due_at=AT.isoformat()),
    "experts_convened.soon": dict(summary=SUMMARY, question="墙体材料是否合格"),
    "follow_up_due": dict(case_id="crisis-1", what="复查外墙", due_at=AT.isoformat()),
    "survey": dict(token="Zx81qP"),
}
CUSTOMER = {"acknowledgement", "customer_reminder", "survey"}


@pytest.mark.parametrize("wording", sorted(FACTS))
def test_each_notification_reads_in_chinese_with_shanghai_times(wording):
    kinds = [True, False] if wording == "customer_reminder" else [wording in CUSTOMER]
    for customer in kinds:
        note = Notification(key="k", case_id="crisis-1", kind=wording.split(".")[0], wording=wording, facts=FACTS[wording],
                            customer=customer, recipients=[Recipient(role="head")], at=AT)
        subject, body = words(note, "zh-CN", "Asia/Shanghai")
        assert subject.strip() and body.strip(), wording
        assert english_left((subject + body).replace("Zx81qP", "")) == [], (wording, subject, body)
        assert "T06:00" not in body and "UTC" not in body
        if "_at" in "".join(FACTS[wording]):  # (a survey token is an id, not English)
            assert "12月3日（周四）14:00" in body, body
        en_subject, en_body = words(note, "en", "Asia/Shanghai")
        assert en_subject.strip() and en_body.strip() and "{" not in en_body and "周" not in en_body


def test_times_and_durations_read_as_people_write_them():
    assert i18n.when(AT, "zh-CN", "Asia/Shanghai") == "12月3日（周四）14:00"
    assert i18n.when(AT, "en", "Asia/Shanghai") == "Thu 3 Dec, 14:00"
    assert i18n.left(timedelta(hours=3, minutes=20), "zh-CN") == "还剩3小时20分"
    assert i18n.left(timedelta(hours=3, minutes=20), "en") == "3 h 20 min left"
    assert i18n.left(timedelta(minutes=-5), "zh-CN") == "已超时5分"


def test_an_unknown_locale_or_zone_is_refused_naming_the_field_and_the_choices():
    with pytest.raises(ValueError, match=r"reporter.locale: 'fr' is not a supported locale; use one of en, zh-CN"):
        i18n.check_locale("fr", "reporter.locale")
    with pytest.raises(ValueError, match="project.timezone: 'Mars/Base' is not an IANA time zone"):
        i18n.check_timezone("Mars/Base", "project.timezone")
    assert i18n.check_locale("zh_CN", "x") == "zh-CN" and i18n.check_timezone("Asia/Shanghai", "x") == "Asia/Shanghai"
    with pytest.raises(ValueError, match="reporter.locale"):
        Intake.model_validate({"intake_id": "i-1", "channel": "phone", "summary": "x", "reporter": {"locale": "fr"}})


def case_at(stage: Stage, locale: str) -> CaseFile:
    intake = Intake.model_validate({
        "intake_id": "lang-1", "channel": "phone", "summary": SUMMARY, "potential_crisis": True,
        "project": {"id": "p-1", "region": "华东", "locale": locale, "timezone": "Asia/Shanghai"},
        "reporter": {"name": "业主", "contact": "owner@example.com", "locale": locale}})
    case = CaseFile.open("crisis-lang-1", intake, load_playbook("delivery"), AT)
    case.state.stage = stage
    return case


@pytest.mark.parametrize("stage", list(Stage))
def test_the_case_sheet_at_every_stage_is_chinese_under_zh_cn(stage):
    case = case_at(stage, "zh-CN")
    text = sheet.render(case, AT + timedelta(minutes=10))
    assert english_left(text) == [], (stage, english_left(text), text)
    assert "UTC" not in text and "T06" not in text
    en = sheet.render(case_at(stage, "en"), AT + timedelta(minutes=10))
    assert "**Stage**" in en and "Thu 3 Dec" in en


@pytest.mark.parametrize("kind", ["daily", "weekly", "change", "media", "final"])
def test_each_report_kind_reads_in_chinese_with_shanghai_times(kind):
    from activities.report_render import render

    case = case_at(Stage.planning, "zh-CN")
    reason = i18n.say(i18n.said("report.crisis_path", why=i18n.said("why.intake_potential_crisis")), "zh-CN")
    rendered = render(kind, reason, case.status(), case.state.events, AT + timedelta(hours=2), "zh-CN", "Asia/Shanghai")
    body = rendered.html.split("<body>")[1]
    visible = re.sub(r"<[^>]+>", " ", body.split("<svg")[0] + body.split("</svg>")[-1])
    for text in (rendered.markdown, visible):
        assert english_left(text) in ([], ["delivery"]), (kind, english_left(text))  # the playbook's name
        assert "12月3日（周四）" in text and "UTC" not in text
    assert '<html lang="zh-CN">' in rendered.html
    en = render(kind, "test", case.status(), case.state.events, AT + timedelta(hours=2), "en", "Asia/Shanghai")
    assert "## Summary" in en.markdown and "Thu 3 Dec, 14:00" in en.markdown


def test_every_message_reads_in_chinese():
    """Every message (refusals with the seats they name, answers to actions, the CLI's words…), its
    placeholders filled: nothing English left but names a person types (action and field names)."""
    zh = i18n.CATALOGUES["zh-CN"]
    for msg_id in zh:
        args = {name: "某人" for name in i18n.placeholders(zh[msg_id])}
        text = i18n.text("zh-CN", msg_id, **args)
        assert english_left(re.sub(r"\b(API|CRISIS_TOKEN|Web UI|Terminate|Reset)\b", "", text)) == [], (msg_id, text)
    who = i18n.said("seat.or", first=i18n.said("seat.held", seat=i18n.said("seat.head"), holders=["王总"]),
                    second=i18n.said("seat.nobody", seat=i18n.said("seat.cs"), role_id="cs_owner"))
    assert i18n.text("zh-CN", "refuse.only", action="decide_plan", who=who, by="张三") == (
        "decide_plan：只有负责人（王总）或客服（尚无人：请用 assign_role 指定 cs_owner）可以执行，张三 不可以")
    assert i18n.text("en", "refuse.only", action="decide_plan", who=who, by="Zhang") == (
        "decide_plan: only the head (王总) or customer service (nobody yet: assign_role cs_owner) may do this, not Zhang")


def test_the_sheets_examples_are_in_the_readers_words():
    """What the sheet suggests pasting reads in the reader's language; the catalogue's `example.*` entries
    name paths the lifecycle table's examples have, in the same English (a renamed field fails here)."""
    from crisisdesk.guide import example_in

    for msg_id, english in i18n.CATALOGUES["en"].items():
        if msg_id.startswith("example."):
            _, action, *path = msg_id.split(".")
            value = ACTIONS[action].example
            for part in path:
                value = value[int(part)] if isinstance(value, list) else value[part]
            assert value == english, msg_id
    assert example_in("monitor_checkin", "zh-CN")["watched"] == ["业主微信群", "城市论坛"]
    assert example_in("monitor_checkin", "en") == ACTIONS["monitor_checkin"].example
    assert example_in("triage", "zh-CN") == ACTIONS["triage"].example  # ids and enum values stay as typed
    case = case_at(Stage.executing, "zh-CN")
    case.state.roles.update({"cs_owner": "陈", "head": "张"})
    text = sheet.render(case, AT + timedelta(minutes=10))
    assert '"progress": "脚手架已搭好，屋面已修复一半"' in text, text
