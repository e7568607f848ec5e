"""What each action is for, who may take it, when, and an example: the operator's guide as data.

The Web UI shows these texts in its Signal and Update dialogs (handler descriptions) and the case
sheet pastes the examples; the field list is read from the same pydantic model that validates the
action, so a description cannot drift from the code.
"""

import json
import re
from typing import Any, NamedTuple

from pydantic_core import PydanticUndefined

from crisisdesk.models.actions import ACTION_MODELS


class Guide(NamedTuple):
    what: str
    who: str
    stages: str
    example: dict[str, Any]


ANY = "any open stage"
GUIDE: dict[str, Guide] = {
    "triage": Guide("sets severity, category and whether it is a potential crisis; chooses the ordinary or crisis path",
                    "customer service", "reported",
                    {"by": "Chen", "severity": "important", "category": "complaint", "potential_crisis": True}),
    "acknowledge": Guide("confirms the alert was received; stops that alert's escalation",
                         "anyone holding a role on the case, or anyone the alert reached", ANY, {"by": "Zhang"}),
    "assign_role": Guide("names a person for a role (head, regional_cs, cs_owner, spokesperson, technician, expert, "
                         "department:<name>)", "anyone; once a head is named, only the head names the head or the spokesperson",
                         ANY, {"by": "Zhang", "role": "spokesperson", "person": "Liu"}),
    "delegate": Guide("gives scoped, expiring head authority and says how matters outside it are handled", "the head only",
                      ANY, {"by": "Zhang", "to": "Wang", "scope": ["decide_plan", "approve_revision"],
                            "until": "2030-01-03T00:00:00Z", "outside_scope": "phone Zhang at once"}),
    "revoke_delegation": Guide("ends the delegation", "the head only", ANY, {"by": "Zhang"}),
    "add_stakeholder": Guide("records an affected customer; personal data is stored apart, never on the timeline",
                             "marketing, property management, customer service", ANY,
                             {"by": "Chen", "name": "Owner 3-201", "unit": "3-201", "key_contact": True, "concerns": "leak damage"}),
    "set_position": Guide("records concerns, both bottom lines, the predicted compromise, options and risks",
                          "customer service", ANY, {"by": "Chen", "concerns": "compensation", "our_bottom_line": "repair + 1 month fee"}),
    "decide_plan": Guide("records the handling plan; starts the 12 h first-contact deadline",
                         "the head, or a delegate with decide_plan in scope", "alerting, planning (crisis path)",
                         {"by": "Zhang", "summary": "Repair the roof membrane within 3 days", "department": "engineering"}),
    "customer_contacted": Guide("the customer was told the plan; meets the first-contact deadline", "customer service",
                                "contacting (crisis); any stage (ordinary)", {"by": "Chen", "channel": "phone"}),
    "customer_answer": Guide("satisfied: the plan is carried out; not satisfied: the 1 h revision deadline starts",
                             "customer service", "awaiting_answer", {"by": "Chen", "satisfied": False, "note": "wants a full repaint"}),
    "revise_plan": Guide("proposes a revised plan within the revision deadline; principled or specific",
                         "the responsible department or customer service", "revising",
                         {"by": "Chen", "kind": "specific", "summary": "Repair in 2 days instead of 3"}),
    "approve_revision": Guide("approves the pending revision", "principled: the head or a delegate in scope; "
                              "specific: the plan's department or the head", "revising", {"by": "Zhang"}),
    "reclassify_revision": Guide("declares a specific revision principled: it goes back to the head for approval "
                                 "(pending, or approved and not yet put to the customer)",
                                 "the head, or a delegate with reclassify_revision in scope", "revising, contacting, awaiting_answer",
                                 {"by": "Zhang", "reason": "a refund instead of a repair changes the plan in principle"}),
    "plan_not_adjustable": Guide("the plan cannot change; starts the 12 h explanation deadline", "customer service",
                                 "revising", {"by": "Chen", "reason": "the membrane warranty forbids it"}),
    "explained": Guide("the customer was told why the plan cannot change; did they understand", "customer service",
                       "explaining", {"by": "Chen", "understood": True}),
    "execution_started": Guide("the department starts the plan; starts the 24 h progress deadline", "the department",
                               "executing", {"by": "Sun", "department": "engineering"}),
    "progress_reported": Guide("the customer was told how it goes; meets the progress deadline (and the milestone "
                               "named, if any)", "customer service", "executing", {"by": "Chen"}),
    "execution_done": Guide("the plan is carried out; confirmation with the customer follows", "the department",
                            "executing", {"by": "Sun"}),
    "external_involvement": Guide("media, government, police, regulator, organiser, lawyer or forum is involved; "
                                  "alerts the crisis team at once", "anyone", ANY,
                                  {"by": "Chen", "party": "media", "level": "provincial", "source": "city evening paper"}),
    "add_evidence": Guide("stores on-site evidence with its SHA-256 and custody record (content_base64 up to the inline "
                          "limit, or a uri)", "anyone on site", ANY,
                          {"by": "Sun", "kind": "photo", "description": "ceiling stain, bedroom",
                           "uri": "file:///srv/uploads/3-201.jpg", "location": "3-201"}),
    "monitor_checkin": Guide("reports that owner groups, forums and the media were watched (and what was seen); "
                             "restarts the monitoring clock, whose miss is escalated", "the monitor or the head", ANY,
                             {"by": "Sun", "watched": ["owner WeChat group", "city forum"], "findings": "no new posts"}),
    "police_liaison": Guide("records the arrangements with the police: contact, conditions and channel",
                            "the head or the crisis team", ANY,
                            {"by": "Zhang", "contact": "Station 4 duty desk", "conditions": "blocking the sales office",
                             "channel": "duty phone"}),
    "media_statement": Guide("files a statement with regional marketing", "the spokesperson only", ANY,
                             {"by": "Liu", "text": "We are repairing the roof.", "filed_with": "regional marketing"}),
    "convene_experts": Guide("convenes the experts who consult on an important or urgent problem; they are told "
                             "what is expected and by when", "customer service, the technician or the head",
                             "triaged, solving (ordinary path)", {"by": "Chen", "experts": ["Dr. Hu", "Eng. Ma"]}),
    "solution_proposed": Guide("the ordinary path's solution with its implementation plan (owner, milestones with due "
                               "dates); experts are required from 'important'",
                               "general: the technician (the first proposer becomes it if none is named); important, "
                               "urgent: one of the convened experts", "triaged, solving (ordinary path)",
                               {"by": "Dr. Hu", "summary": "Replace the valve", "experts": ["Dr. Hu"],
                                "implementation": {"owner": "Sun", "milestones": [
                                    {"name": "parts ordered", "due_at": "2030-01-02T00:00:00Z"}]}}),
    "adjust_plan": Guide("changes the implementation plan during execution (owner, milestones, summary), with a reason",
                         "the plan's owner, the technician, a convened expert or the head", "executing (ordinary path)",
                         {"by": "Sun", "reason": "parts arrive a day late",
                          "milestones": [{"name": "parts ordered", "due_at": "2030-01-03T00:00:00Z"}]}),
    "resolution_confirmed": Guide("the customer confirms the resolution; not satisfied sends the case back",
                                  "customer service only (cs_owner or regional_cs; the first to record it becomes "
                                  "cs_owner if none is named)", "confirming", {"by": "Chen", "satisfied": True}),
    "compensation": Guide("records compensation given", "the head or customer service", ANY,
                          {"by": "Zhang", "kind": "fee waiver", "amount": 600}),
    "survey_response": Guide("records the satisfaction survey, scores 1-5", "customer service", "surveying",
                             {"by": "Chen", "score": 4, "timeliness": 4, "effectiveness": 5, "attitude": 4}),
    "review_done": Guide("post-incident review; adds a knowledge article; closes the case", "the head or customer service",
                         "reviewing", {"by": "Zhang", "cause": "membrane joint", "lessons": "inspect joints at handover",
                                       "knowledge_title": "Roof leaks at joints", "knowledge_body": "Seal the joints."}),
    "escalate": Guide("raises severity; potential_crisis true moves an ordinary case to the crisis path", "anyone", ANY,
                      {"by": "Chen", "severity": "urgent", "reason": "owners gathering at the site"}),
    "note": Guide("adds a note to the timeline", "anyone", ANY, {"by": "Chen", "text": "owner will call back at 18:00"}),
    "cancel": Guide("ends a duplicate or a false alarm", "the head only", ANY, {"by": "Zhang", "reason": "false alarm"}),
    "link_report": Guide("another report of the same problem joins this case as one more reporter",
                         "intake services and customer service", ANY,
                         {"by": "Chen", "intake_id": "CALL-1002", "channel": "phone", "summary": "Same leak, unit 3-202"}),
    "link": Guide("this case reports the same problem as an open case: it joins that case and closes",
                  "customer service", ANY, {"by": "Chen", "case_id": "crisis-CALL-1001"}),
    "unlink_report": Guide("a report joined by mistake leaves this case (`crisis case unlink` then opens its own case)",
                           "customer service", ANY, {"by": "Chen", "intake_id": "CALL-1002", "reason": "another building"}),
    "evidence_read": Guide("puts a read of the case's evidence on the timeline; sent by the API and `crisis evidence get`, "
                           "not typed by hand", "the system, for the person who read it", ANY,
                           {"by": "Chen", "sha256": "0" * 64, "reason": "insurer's request"}),
}


def fields(name: str) -> list[str]:
    """The action's fields beyond `by` and `note`, required ones first, with their type."""
    model = ACTION_MODELS[name]
    required, optional = [], []
    for field_name, info in model.model_fields.items():
        if field_name in ("by", "note"):
            continue
        kind = getattr(info.annotation, "__name__", None) or str(info.annotation)
        kind = re.sub(r"\b[\w.]+\.(\w+)", r"\1", kind)  # `pydantic.types.AwareDatetime` -> `AwareDatetime`
        if info.is_required() or info.default is PydanticUndefined and info.default_factory is None:
            required.append(f"{field_name} ({kind}, required)")
        else:
            optional.append(f"{field_name} ({kind})")
    return required + optional


def example(name: str) -> str:
    return json.dumps(GUIDE[name].example, ensure_ascii=False)


def describe(name: str) -> str:
    """One paragraph for the Web UI's dialog: what, who, when, fields, an example to paste."""
    guide = GUIDE[name]
    listed = "".join(f"{f}, " for f in fields(name))
    return (f"{guide.what[0].upper()}{guide.what[1:]}. Who: {guide.who}. When: {guide.stages}. "
            f"Fields: by (required), {listed}note. Example: {example(name)}")
