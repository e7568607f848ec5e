"""Channels people answer (issue 10): rosters resolve at send time, each person's channels in their
order, every channel for an urgent kind, fall-through on a rate limit or a refusal, one-time links.
Real PostgreSQL, and loopback doubles of the WeCom, DingTalk and Feishu robots and the SMS API that
check each request as the vendor documents it (tests/helpers/reach_doubles.py)."""

import re
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from activities.directory import save_person
from activities.notify import Notifier
from activities.rosters import set_roster
from activities.teams import set_contacts, set_team
from crisisdesk.acklinks import AckRefused, make_token, read_token
from crisisdesk.models.effects import Notification, Recipient
from crisisdesk.models.people import Person
from crisisdesk.models.rosters import ContactPoint, Contacts, Roster
from crisisdesk.models.teams import Team
from crisisdesk.settings import Settings
from tests.helpers.reach_doubles import reach_doubles

CST = timezone(timedelta(hours=8))
ACK_SECRET = "ack-test-secret"


def uid(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}"


async def people(pool, *names: str) -> list[str]:
    ids = [uid(n) for n in names]
    for person in ids:
        await save_person(pool, Person(person_id=person, display_name=person.split("-")[0].title()))
    return ids


async def reach(pool, person: str, *contacts: tuple[str, str]) -> None:
    await set_contacts(pool, person, [ContactPoint(channel=c, address=a) for c, a in contacts])


def note(project: str, *recipients: Recipient, kind: str = "alert", at: datetime, level: int = 0) -> Notification:
    case_id = f"crisis-t-{uuid.uuid4().hex[:8]}"
    return Notification(key=f"{case_id}:1:notify:{kind}", case_id=case_id, kind=kind, subject=f"{kind}: phone now",
                        body="Leak in block 3.", recipients=list(recipients), at=at, project_id=project,
                        escalation_level=level)


def test_rosters_refuse_gaps_overlaps_and_unknown_zones_and_hand_over_at_local_time():
    t = datetime(2025, 3, 1, 9, tzinfo=CST)

    def shift(person, a, b):
        return {"person": person, "start": (t + timedelta(hours=a)).isoformat(), "end": (t + timedelta(hours=b)).isoformat()}

    for spec, why in [({"shifts": [shift("a", 0, 12), shift("b", 13, 24)]}, "shifts: a gap from"),
                      ({"shifts": [shift("a", 0, 12), shift("b", 11, 24)]}, "shifts: a and b overlap"),
                      ({"people": ["a"], "starts": "2025-03-01", "overrides": [shift("a", 0, 5), shift("b", 4, 6)]},
                       "overrides: a and b overlap"),
                      ({"people": ["a"], "starts": "2025-03-01", "tz": "Mars/Olympus"}, "not a known time zone"),
                      ({"people": ["a"]}, "starts: a rotation needs"),
                      ({"people": ["a"], "shifts": [shift("a", 0, 1)], "starts": "2025-03-01"}, "people: give either")]:
        with pytest.raises(ValidationError, match=why):
            Roster.model_validate(spec)
    roster = Roster(tz="Asia/Shanghai", handover="daily", handover_at="09:00", starts=date(2025, 3, 1),
                    people=["ann", "bo"], overrides=[shift("cy", 72, 96)])  # cy covers 4 March 09:00 to 5 March 09:00

    def at(d, h):
        return datetime(2025, 3, d, h, tzinfo=CST)

    assert [roster.on_duty(at(1, 8)), roster.on_duty(at(1, 9)), roster.on_duty(at(2, 8)), roster.on_duty(at(2, 9)),
            roster.on_duty(at(3, 10)), roster.on_duty(at(4, 10)), roster.on_duty(at(5, 10))] == \
        [None, "ann", "ann", "bo", "ann", "cy", "ann"]
    weekly = Roster(starts=date(2025, 3, 3), people=["ann", "bo"])  # UTC, Mondays 09:00
    assert [weekly.on_duty(datetime(2025, 3, d, 10, tzinfo=timezone.utc)) for d in (3, 9, 10, 17)] == \
        ["ann", "ann", "bo", "ann"]
    with pytest.raises(ValidationError, match="person: give either person or roster"):
        Team.model_validate({"head": {"person": "a", "roster": "r"}})
    with pytest.raises(ValidationError, match="sms: at most once"):
        Contacts.model_validate({"contacts": [{"channel": "sms", "address": "+861"}, {"channel": "sms", "address": "+862"}]})
    with pytest.raises(ValidationError, match="channel"):
        Contacts.model_validate({"contacts": [{"channel": "pager", "address": "1"}]})


def test_a_signed_channel_without_its_secret_is_refused_naming_the_setting_and_tokens_are_bound():
    with pytest.raises(ValidationError, match="CRISIS_FEISHU_SECRET: required when CRISIS_FEISHU_WEBHOOK is set"):
        Settings(CRISIS_FEISHU_WEBHOOK="https://open.feishu.cn/open-apis/bot/v2/hook/x")
    with pytest.raises(ValidationError, match="CRISIS_DINGTALK_SECRET: required"):
        Settings(CRISIS_DINGTALK_WEBHOOK="https://oapi.dingtalk.com/robot/send?access_token=x")
    with pytest.raises(ValidationError, match="CRISIS_SMS_TOKEN: required when CRISIS_SMS_PROVIDER is set"):
        Settings(CRISIS_SMS_PROVIDER="twilio", CRISIS_SMS_ACCOUNT="AC1", CRISIS_SMS_FROM="+15005550006")
    with pytest.raises(ValidationError, match="CRISIS_ACK_SECRET: required when CRISIS_PUBLIC_URL is set"):
        Settings(CRISIS_PUBLIC_URL="https://desk.example.com")
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    token = make_token("s3cret", "ann", "crisis-1", later, "n1")
    claim = read_token("s3cret", token)
    assert (claim.person, claim.case_id, claim.nonce) == ("ann", "crisis-1", "n1")
    with pytest.raises(AckRefused, match="signature does not match"):
        read_token("other", token)
    forged = make_token("s3cret", "bo", "crisis-1", later, "n1").split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(AckRefused, match="signature does not match") as caught:
        read_token("s3cret", forged)
    assert caught.value.claim is None  # a forged link names no case anyone vouched for
    with pytest.raises(AckRefused, match="expired") as caught:
        read_token("s3cret", token, now=later + timedelta(seconds=1))
    assert caught.value.claim.case_id == "crisis-1"  # an expired one does: the refusal goes on the case
    with pytest.raises(AckRefused, match="signature does not match"):  # any text a URL carries: refused, no error
        read_token("s3cret", token.split(".")[0] + ".Ê;\U000fc3dd")


async def test_people_are_reached_on_their_channels_by_roster_urgency_and_fall_through(pool, dsn):
    head, deputy, ann, bo = await people(pool, "head", "deputy", "ann", "bo")
    roster = uid("cs")
    await set_roster(pool, roster, Roster(tz="Asia/Shanghai", handover="daily", starts=date(2025, 3, 1), people=[ann, bo]))
    project = uid("P")
    await set_team(pool, project, Team.model_validate({"head": {"person": head, "deputy": deputy},
                                                       "regional_cs": {"roster": roster}}))
    await reach(pool, head, ("sms", "+8613800000001"), ("wecom", "13800000001"))
    await reach(pool, deputy, ("dingtalk", "13800000002"))
    await reach(pool, ann, ("feishu", "ou_ann"))
    await reach(pool, bo, ("wecom", "13800000003"), ("sms", "+8613800000003"))
    with reach_doubles() as doubles:
        settings = Settings(database_url=dsn, CRISIS_ACK_SECRET=ACK_SECRET, CRISIS_PUBLIC_URL="https://desk.test",
                            **doubles.env())
        notifier = Notifier(pool, settings)
        # 2 March 12:00 in Shanghai: bo's day. An alert is urgent: every channel of each person.
        alert = note(project, Recipient(role="head"), Recipient(role="regional_cs"), at=datetime(2025, 3, 2, 12, tzinfo=CST))
        first = await notifier.notify(alert)
        assert first.people == [head, bo] and first.status == "sent"
        assert [r.vendor for r in doubles.to("+8613800000001") + doubles.to("13800000001")] == ["sms", "wecom"]
        assert {r.vendor for r in doubles.to("13800000003") + doubles.to("+8613800000003")} == {"wecom", "sms"}
        assert set(first.channels) == {"sms", "wecom", "log"}
        link = re.search(r"https://desk\.test/ack/(\S+)", doubles.to("+8613800000001")[0].text).group(1)
        claim = read_token(ACK_SECRET, link)
        assert (claim.person, claim.case_id) == (head, alert.case_id)  # bound to the person and the case
        assert "+86" not in first.model_dump_json() and "ou_" not in first.model_dump_json()  # ids, never contacts

        # After the hand-over (3 March 10:00) a breach goes to ann, on her first channel only.
        later = await notifier.notify(note(project, Recipient(role="regional_cs"), kind="breach",
                                           at=datetime(2025, 3, 3, 10, tzinfo=CST)))
        assert later.people == [ann] and later.channels == ["feishu", "log"] and len(doubles.to("ou_ann")) == 1

        # The SMS provider is rate limiting: head's breach falls through to WeCom, and the receipt says so.
        doubles.limited.add("sms")
        limited = await notifier.notify(note(project, Recipient(role="head"), kind="breach",
                                             at=datetime(2025, 3, 3, 10, tzinfo=CST)))
        assert limited.channels == ["sms:rate_limited", "wecom", "log"] and limited.status == "sent"
        assert len(doubles.to("13800000001")) == 2

        # Escalated: the seat's deputy too (DingTalk, signed); a retry of the same key tells nobody twice.
        escalated = note(project, Recipient(role="head"), kind="escalated", level=1, at=datetime(2025, 3, 3, 10, tzinfo=CST))
        receipt = await notifier.notify(escalated)
        assert receipt.people == [head, deputy] and doubles.to("13800000002")[0].text.startswith("@13800000002 ")
        again = await notifier.notify(escalated)
        assert len(doubles.to("13800000002")) == 1 and again.people == receipt.people

        # A robot with the wrong secret is refused by the vendor: that channel failed, nobody else affected.
        wrong = Notifier(pool, settings.model_copy(update={"feishu_secret": settings.dingtalk_secret}))
        refused = await wrong.notify(note(project, Recipient(role="regional_cs"), kind="breach",
                                          at=datetime(2025, 3, 3, 10, tzinfo=CST)))
        assert refused.channels == ["feishu:failed", "log"] and refused.status == "failed" and refused.failed == 1
        assert doubles.rejected == [("feishu", "sign")]


async def test_while_postgres_is_down_the_people_on_duty_it_said_last_are_still_reached(pool, dsn):
    from activities.db import create_pool

    ann, bo = await people(pool, "ann", "bo")
    roster = uid("night")
    await set_roster(pool, roster, Roster(handover="daily", starts=date(2025, 3, 1), people=[ann, bo]))
    project = uid("P")
    await set_team(pool, project, Team.model_validate({"regional_cs": {"roster": roster}}))
    await reach(pool, ann, ("sms", "+8613700000001"))
    await reach(pool, bo, ("sms", "+8613700000002"))
    own = await create_pool(dsn)
    with reach_doubles() as doubles:
        notifier = Notifier(own, Settings(database_url=dsn, **doubles.env()))
        await notifier.notify(note(project, Recipient(role="regional_cs"), at=datetime(2025, 3, 1, 10, tzinfo=timezone.utc)))
        await own.close()  # from here every acquire fails as an outage does
        # The roster is still worked out at send time from what PostgreSQL said last: the next day is bo's.
        receipt = await notifier.notify(note(project, Recipient(role="regional_cs"),
                                             at=datetime(2025, 3, 2, 10, tzinfo=timezone.utc)))
        assert receipt.people == [bo] and receipt.status == "sent" and len(doubles.to("+8613700000002")) == 1
