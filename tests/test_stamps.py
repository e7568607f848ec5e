"""Identity stamps without a server: what the case accepts, and every way a stamp is refused."""

from datetime import datetime, timedelta, timezone

import pytest

from crisisdesk.stamps import BOUND_TTL, FIELD, TTL, StampRefused, StampSigner, new_seed, split, verify

NOW = datetime(2026, 12, 2, 9, tzinfo=timezone.utc)
SIGNER = StampSigner.from_text(new_seed())
KEYS = SIGNER.public_keys()


def stamped(payload: dict, **bound) -> dict:
    fields = dict(person="wang", roles=["head"], channel="http", at=NOW, case="crisis-1", action="decide_plan") | bound
    return SIGNER.stamp(payload, **fields)


def check(message: dict, now=NOW, case="crisis-1", action="decide_plan", keys=KEYS):
    payload, raw = split(message)
    return verify(raw, payload, keys, now, case, action)


def test_a_stamp_vouches_for_the_person_roles_and_channel_it_was_made_for():
    stamp = check(stamped({"by": "wang", "summary": "Repair"}))
    assert (stamp.person, stamp.roles, stamp.channel) == ("wang", ("head",), "http")
    payload, raw = split(stamped({"by": "wang"}))
    assert FIELD not in payload and raw["kid"] in KEYS


@pytest.mark.parametrize("tamper, reason", [
    (lambda m: {**m, "summary": "Refund everything"}, "another payload"),
    (lambda m: {**m, FIELD: {**m[FIELD], "person": "li"}}, "signature is not valid"),
    (lambda m: {**m, FIELD: {**m[FIELD], "sig": m[FIELD]["sig"][::-1]}}, "signature is not valid"),
    (lambda m: {**m, FIELD: {**m[FIELD], "kid": "0" * 16}}, "does not accept"),
    (lambda m: {**m, FIELD: "not a stamp"}, "malformed"),
])
def test_a_forged_or_altered_stamp_is_refused_naming_why(tamper, reason):
    with pytest.raises(StampRefused, match=reason):
        check(tamper(stamped({"by": "wang", "summary": "Repair"})))


def test_a_stamp_lifted_onto_another_case_or_action_or_out_of_time_is_refused():
    message = stamped({"by": "wang", "summary": "Repair"})
    with pytest.raises(StampRefused, match="another case"):
        check(message, case="crisis-2")
    with pytest.raises(StampRefused, match="another action"):
        check(message, action="cancel")
    with pytest.raises(StampRefused, match="expired"):
        check(message, now=NOW + BOUND_TTL + timedelta(seconds=1))
    with pytest.raises(StampRefused, match="future"):
        check(message, now=NOW - timedelta(minutes=5))


def test_an_unbound_stamp_from_the_ui_codec_is_good_for_any_case_and_action_but_only_its_payload():
    message = stamped({"by": "chen", "text": "owner called"}, case=None, action=None, channel="ui")
    assert check(message, case="crisis-9", action="note").person == "wang"
    with pytest.raises(StampRefused, match="expired"):  # short-lived: it cannot be carried to other cases later
        check(message, case="crisis-9", action="note", now=NOW + TTL + timedelta(seconds=1))


def test_a_retired_key_is_refused_once_the_ring_no_longer_holds_it():
    old, new = new_seed(), new_seed()
    before = StampSigner.from_text(f"{old},{new}")
    after = StampSigner.from_text(new)
    message = before.stamp({"by": "wang"}, person="wang", channel="cli", at=NOW)
    assert check(message, keys=before.public_keys()).person == "wang"
    with pytest.raises(StampRefused, match="unknown or retired"):
        check(message, keys=after.public_keys())


def test_a_bad_key_ring_is_named():
    with pytest.raises(ValueError, match="CRISIS_STAMP_KEY"):
        StampSigner.from_text("not base64!")
    with pytest.raises(ValueError, match="32 bytes"):
        StampSigner.from_text("c2hvcnQ=")
