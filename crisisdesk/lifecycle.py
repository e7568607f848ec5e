"""The case's lifecycle as one table: the rule in one place, everything else derived from it.

Per stage: whose turn it is and what the case waits on. Per action: the stages and path it belongs
to, who may take it, the deadlines it meets and starts, what it does and an example to paste. The
rules core (`workflows.steps.apply` checks stage and path here; each step asks `authority` for the
seats its row names), the case sheet, `status.open_actions`, `crisis stuck`, the Web UI's handler
descriptions and the docs' tables all read it; `tests/test_lifecycle_table.py` fails when any of
them drifts.

Adding an action: a model (`crisisdesk.models.actions`), a step (`workflows.steps`), a row here.
"""

import json
from typing import Any, NamedTuple

from crisisdesk.models.case import Stage
from crisisdesk.models.intake import Path

# Seats: who may take an action. `workflows.authority` checks each against the case.
SEATS: dict[str, str] = {
    "head": "the head, or a delegate with the action in scope",
    "head_only": "the head only",
    "regional_cs": "regional customer service",
    "cs": "customer service (cs_owner or regional_cs)",
    "department": "the plan's department",
    "technician": "the technician",
    "experts": "a convened expert",
    "plan_owner": "the implementation plan's owner",
    "task_owner": "the contingency task's owner (the seat the playbook names)",
    "spokesperson": "the spokesperson",
    "monitor": "the monitor",
    "alerted": "anyone an alert reached",
    "on_case": "anyone holding a role on the case",
    "reporter": "the reporter (the customer's page)",
    "intake": "intake services",
    "edge": "crisisdesk's API or CLI, for the person it served (not typed by hand)",
    "system": "crisisdesk itself (the case audit), signed as `system` (not typed by hand)",
    "staff": "any member of staff (with authentication on: anyone signed in)",
}
# Seats that carry the head's or the spokesperson's authority: with authentication on, an action that
# names one is taken only with a verified identity equal to its `by` (crisisdesk.stamps).
AUTHORITY_SEATS = frozenset({"head", "head_only", "spokesperson"})

ANY_STAGE: tuple[Stage, ...] = tuple(s for s in Stage if not s.is_final)


class StageRow(NamedTuple):
    turn: str | None  # the case role whose turn it is ("department": the plan's department)
    waits_on: str | None = None  # the playbook's `customer_waits` period the stage waits for the customer
    owes: str | None = None  # what the customer owes while it waits
    entered: bool = True  # False: named by the contract, never entered (cases go from triage on)


STAGES: dict[Stage, StageRow] = {
    Stage.reported: StageRow("cs_owner"),
    Stage.triaged: StageRow("technician", entered=False),
    Stage.solving: StageRow("technician"),
    Stage.alerting: StageRow("head"),
    Stage.planning: StageRow("head"),
    Stage.contacting: StageRow("cs_owner"),
    Stage.awaiting_answer: StageRow("cs_owner", "answer", "an answer to the plan"),
    Stage.revising: StageRow("department"),
    Stage.explaining: StageRow("cs_owner"),
    Stage.executing: StageRow("department"),
    Stage.confirming: StageRow("cs_owner", "confirmation", "confirmation of the resolution"),
    Stage.surveying: StageRow("cs_owner", "survey", "the satisfaction survey"),
    Stage.reviewing: StageRow("head"),
    Stage.closed: StageRow(None),
    Stage.cancelled: StageRow(None),
}
WAITING_STAGES = {stage: row for stage, row in STAGES.items() if row.waits_on}


class ActionRow(NamedTuple):
    stages: tuple[Stage, ...]  # where the action may be taken (ANY_STAGE: any open stage)
    who: tuple[str, ...]  # SEATS that may take it
    what: str
    example: dict[str, Any]
    path: Path | None = None  # the only path it belongs to
    offered: tuple[Stage, ...] | None = None  # where it is an open action (default: `stages`, unless ANY_STAGE)
    meets: tuple[str, ...] = ()  # deadlines it meets
    starts: tuple[str, ...] = ()  # deadlines it starts
    on_crisis_path: tuple[Stage, ...] | None = None  # its stages on the crisis path, where they differ

    def stages_on(self, path: Path) -> tuple[Stage, ...]:
        return self.on_crisis_path if path == Path.crisis and self.on_crisis_path is not None else self.stages

    @property
    def open_at(self) -> tuple[Stage, ...]:
        if self.offered is not None:
            return self.offered
        return () if self.stages == ANY_STAGE else self.stages


S = Stage
ACTIONS: dict[str, ActionRow] = {
    # -- 2. triage (004 §四(二), 002 §4.2.2) ---------------------------------------------------------
    "triage": ActionRow(
        (S.reported,), ("cs",),
        "sets severity, category and whether it is a potential crisis; chooses the ordinary or crisis path",
        {"by": "Chen", "severity": "important", "category": "complaint", "potential_crisis": True},
        meets=("acknowledgement",)),
    # -- 3. ordinary path (004 §四) --------------------------------------------------------------------
    "convene_experts": ActionRow(
        (S.triaged, S.solving), ("cs", "technician", "head"),
        "convenes the experts who consult on an important or urgent problem; they are told what is expected and by when",
        {"by": "Chen", "experts": ["Dr. Hu", "Eng. Ma"]}, path=Path.ordinary),
    "solution_proposed": ActionRow(
        (S.triaged, S.solving), ("technician", "experts"),
        "the ordinary path's solution with its implementation plan (owner, milestones with due dates); "
        "experts are required from 'important'",
        {"by": "Dr. Hu", "summary": "Replace the valve", "experts": ["Dr. Hu"],
         "implementation": {"owner": "Sun", "milestones": [{"name": "parts ordered", "due_at": "2030-01-02T00:00:00Z"}]}},
        path=Path.ordinary, meets=("response",)),
    "adjust_plan": ActionRow(
        (S.executing,), ("plan_owner", "technician", "experts", "head"),
        "changes the implementation plan during execution (owner, milestones, summary), with a reason",
        {"by": "Sun", "reason": "parts arrive a day late",
         "milestones": [{"name": "parts ordered", "due_at": "2030-01-03T00:00:00Z"}]},
        path=Path.ordinary),
    # -- 4. crisis path (002 §4.3-4.4) ------------------------------------------------------------------
    "acknowledge": ActionRow(
        ANY_STAGE, ("alerted", "on_case"), "confirms the alert was received; stops that alert's escalation",
        {"by": "Zhang"}, offered=(S.alerting,), meets=("alert_acknowledgement", "acknowledgement")),
    "decide_plan": ActionRow(
        (S.alerting, S.planning), ("head",), "records the handling plan; starts the first-contact deadline",
        {"by": "Zhang", "summary": "Repair the roof membrane within 3 days", "department": "engineering"},
        path=Path.crisis, meets=("alert_acknowledgement", "acknowledgement"), starts=("first_contact",)),
    "customer_contacted": ActionRow(
        ANY_STAGE, ("cs",), "the customer was told the plan; meets the first-contact deadline",
        {"by": "Chen", "channel": "phone"}, offered=(S.contacting,), meets=("first_contact", "response"),
        on_crisis_path=(S.contacting,)),
    "customer_answer": ActionRow(
        (S.awaiting_answer,), ("cs", "reporter"),
        "satisfied: the department carries the plan out (the execution-start deadline starts); not satisfied: the "
        "department is told the reason and the revision deadline starts",
        {"by": "Chen", "satisfied": False, "note": "wants a full repaint"}, starts=("revision", "execution_start")),
    "revise_plan": ActionRow(
        (S.revising,), ("department", "cs"), "proposes a revised plan within the revision deadline; principled or specific",
        {"by": "Chen", "kind": "specific", "summary": "Repair in 2 days instead of 3"},
        meets=("revision",), starts=("revision_approval",)),
    "approve_revision": ActionRow(
        (S.revising,), ("head", "department"),
        "approves the pending revision (principled: the head or a delegate in scope; specific: the plan's "
        "department or the head; never its proposer)", {"by": "Zhang"},
        meets=("revision_approval",), starts=("first_contact",)),
    "reclassify_revision": ActionRow(
        (S.revising, S.contacting, S.awaiting_answer), ("head",),
        "declares a specific revision principled: it goes back to the head for approval "
        "(pending, or approved and not yet put to the customer)",
        {"by": "Zhang", "reason": "a refund instead of a repair changes the plan in principle"},
        offered=(S.revising,), starts=("revision_approval",)),
    "plan_not_adjustable": ActionRow(
        (S.revising,), ("department", "cs"), "the plan cannot change; starts the explanation deadline",
        {"by": "Chen", "reason": "the membrane warranty forbids it"},
        meets=("revision", "revision_approval"), starts=("explanation",)),
    "explained": ActionRow(
        (S.explaining,), ("cs",), "the customer was told why the plan cannot change; did they understand",
        {"by": "Chen", "understood": True}, meets=("explanation",), starts=("execution_start",)),
    # -- execution and closing (004 §四(三)-(六), 002 4.4.1.3) --------------------------------------------
    "execution_started": ActionRow(
        (S.executing,), ("department", "plan_owner", "technician", "experts"), "the department starts the plan; starts the progress deadline",
        {"by": "Sun", "department": "engineering"}, meets=("execution_start",), starts=("progress_update",)),
    "progress_reported": ActionRow(
        (S.executing,), ("cs",),
        "the customer was told how it goes (`progress`: in a few words); meets the progress deadline (and the "
        "milestone named, if any: on a path without milestones the name is kept as the progress note)",
        {"by": "Chen", "progress": "scaffolding up, roof half repaired"}, meets=("progress_update",)),
    "execution_done": ActionRow(
        (S.executing,), ("department", "plan_owner", "technician", "experts"), "the plan is carried out; confirmation with the customer follows",
        {"by": "Sun"}, meets=("progress_update",)),
    "resolution_confirmed": ActionRow(
        (S.confirming,), ("cs", "reporter"), "the customer confirms the resolution; not satisfied sends the case back",
        {"by": "Chen", "satisfied": True}, meets=("resolution", "response")),
    "customer_called_back": ActionRow(
        ANY_STAGE, ("cs",),
        "customer service called back a customer who never confirmed the resolution; satisfied confirms it "
        "(by phone), not satisfied sends the case back", {"by": "Chen", "reached": True, "satisfied": True},
        offered=(), meets=("customer_callback",)),
    "survey_response": ActionRow(
        (S.surveying,), ("cs", "reporter"), "records the satisfaction survey, scores 1-5",
        {"by": "Chen", "score": 4, "timeliness": 4, "effectiveness": 5, "attitude": 4}),
    "review_done": ActionRow(
        (S.reviewing,), ("head", "cs"), "post-incident review; adds a knowledge article; closes the case",
        {"by": "Zhang", "cause": "membrane joint", "lessons": "inspect joints at handover",
         "knowledge_title": "Roof leaks at joints", "knowledge_body": "Seal the joints."}),
    # -- at any time: roles, authority, stakeholders, outside parties, evidence, media --------------------
    "assign_role": ActionRow(
        ANY_STAGE, ("head_only", "regional_cs"),
        "names a person for a role (head, regional_cs, cs_owner, spokesperson, technician, expert, monitor, "
        "department:<name>)", {"by": "Zhang", "role": "spokesperson", "person": "Liu"}),
    "delegate": ActionRow(
        ANY_STAGE, ("head_only",), "gives scoped, expiring head authority and says how matters outside it are handled",
        {"by": "Zhang", "to": "Wang", "scope": ["decide_plan", "approve_revision"],
         "until": "2030-01-03T00:00:00Z", "outside_scope": "phone Zhang at once"}),
    "revoke_delegation": ActionRow(ANY_STAGE, ("head_only",), "ends the delegation", {"by": "Zhang"}),
    "add_stakeholder": ActionRow(
        ANY_STAGE, ("on_case",), "records an affected customer; personal data is stored apart, never on the timeline",
        {"by": "Chen", "name": "Owner 3-201", "unit": "3-201", "key_contact": True, "concerns": "leak damage"}),
    "set_position": ActionRow(
        ANY_STAGE, ("cs",), "records concerns, both bottom lines, the predicted compromise, options and risks",
        {"by": "Chen", "concerns": "compensation", "our_bottom_line": "repair + 1 month fee"}),
    "external_involvement": ActionRow(
        ANY_STAGE, ("staff",),
        "media, government, police, regulator, organiser, lawyer or forum is involved; alerts the crisis team at once",
        {"by": "Chen", "party": "media", "level": "provincial", "source": "city evening paper"}),
    "add_evidence": ActionRow(
        ANY_STAGE, ("staff",),
        "stores on-site evidence with its SHA-256 and custody record (content_base64 up to the inline limit, or a uri)",
        {"by": "Sun", "kind": "photo", "description": "ceiling stain, bedroom",
         "uri": "file:///srv/uploads/3-201.jpg", "location": "3-201"}),
    "monitor_checkin": ActionRow(
        ANY_STAGE, ("monitor", "head"),
        "reports that owner groups, forums and the media were watched (and what was seen); restarts the "
        "monitoring clock, whose miss is escalated",
        {"by": "Sun", "watched": ["owner WeChat group", "city forum"], "findings": "no new posts"},
        meets=("monitor_checkin",), starts=("monitor_checkin",)),
    "police_liaison": ActionRow(
        ANY_STAGE, ("head", "on_case"), "records the arrangements with the police: contact, conditions and channel",
        {"by": "Zhang", "contact": "Station 4 duty desk", "conditions": "blocking the sales office",
         "channel": "duty phone"}),
    "media_statement": ActionRow(
        ANY_STAGE, ("spokesperson",), "files a statement with regional marketing",
        {"by": "Liu", "text": "We are repairing the roof.", "filed_with": "regional marketing"}),
    # -- the contingency's tasks (002 §4.4.1.4, 4.5.1, 4.5.3, 4.6) -----------------------------------------
    "contingency_task_done": ActionRow(
        ANY_STAGE, ("task_owner", "head"),
        "a contingency task's work is done (police liaison, on-site reception, evidence, statement filed, media "
        "report, government, third-party support); meets its deadline",
        {"by": "Zhao HR", "name": "police_liaison", "note": "Station 4 duty desk briefed"}),
    "contingency_stand_down": ActionRow(
        ANY_STAGE, ("head",), "stands the contingency down with a reason: its open tasks close; reported at once",
        {"by": "Zhang", "reason": "the owners accepted the revised plan"}),
    "compensation": ActionRow(
        ANY_STAGE, ("head", "cs"), "records compensation given", {"by": "Zhang", "kind": "fee waiver", "amount": 600}),
    "escalate": ActionRow(
        ANY_STAGE, ("staff",), "raises severity; potential_crisis true moves an ordinary case to the crisis path",
        {"by": "Chen", "severity": "urgent", "reason": "owners gathering at the site"}),
    "note": ActionRow(ANY_STAGE, ("staff",), "adds a note to the timeline",
                      {"by": "Chen", "text": "owner will call back at 18:00"}),
    "cancel": ActionRow(ANY_STAGE, ("head_only",), "ends a duplicate or a false alarm",
                        {"by": "Zhang", "reason": "false alarm"}),
    "reset_noticed": ActionRow(
        ANY_STAGE, ("system",), "the case audit found this case reset in Temporal: the case records it on its timeline",
        {"by": "case-audit", "run_id": "0b6c…", "reset_at": "2026-11-25T08:00:00Z", "reason": "rewind"}, offered=()),
    "link_report": ActionRow(
        ANY_STAGE, ("intake", "cs"), "another report of the same problem joins this case as one more reporter",
        {"by": "Chen", "intake_id": "CALL-1002", "channel": "phone", "summary": "Same leak, unit 3-202"}),
    "link": ActionRow(
        ANY_STAGE, ("cs",), "this case reports the same problem as an open case: it joins that case and closes",
        {"by": "Chen", "case_id": "crisis-CALL-1001"}),
    "unlink_report": ActionRow(
        ANY_STAGE, ("cs",), "a report joined by mistake leaves this case (`crisis case unlink` then opens its own case)",
        {"by": "Chen", "intake_id": "CALL-1002", "reason": "another building"}),
    "reopen": ActionRow(
        ANY_STAGE, ("cs", "head"),
        "the customer called again about a closed case: opens a new case linked to it (sent to the closed case "
        "through the API or `crisis act`, or `crisis case reopen`); an open case refuses it", {"by": "Chen"},
        offered=()),
    "evidence_read": ActionRow(
        ANY_STAGE, ("edge",), "puts a read of the case's evidence on the timeline (sent by the API and `crisis evidence "
        "get` for the reader)", {"by": "Chen", "sha256": "0" * 64, "reason": "insurer's request"}),
}
del S


def carries_authority(name: str) -> bool:
    return bool(AUTHORITY_SEATS & set(ACTIONS[name].who))


def open_actions(stage: Stage, path: Path) -> list[str]:
    """The actions that move a case on from `stage` on `path`, in the table's order."""
    return [name for name, row in ACTIONS.items() if stage in row.open_at and row.path in (None, path)]


def meets(deadline: str) -> list[str]:
    """The actions that meet a deadline (`crisis stuck` says which to record)."""
    if deadline.startswith("contingency:"):  # a contingency task's (workflows.contingency)
        return ["contingency_task_done"]
    return [name for name, row in ACTIONS.items() if deadline in row.meets]


def stages_text(row: ActionRow) -> str:
    def listed(stages: tuple[Stage, ...]) -> str:
        return "any open stage" if stages == ANY_STAGE else ", ".join(s.value for s in stages)

    where = listed(row.stages)
    if row.on_crisis_path is not None:
        return f"{listed(row.on_crisis_path)} (crisis path); {where} (ordinary path)"
    return f"{where} ({row.path.value} path)" if row.path else where


def who_text(row: ActionRow) -> str:
    return "; or ".join(SEATS[seat] for seat in row.who)


# -- the docs' tables, generated (docs/operators.md carries them between markers) ------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def stages_markdown() -> str:
    rows = ["| stage | whose turn | waits for the customer | open actions |", "| --- | --- | --- | --- |"]
    for stage, row in STAGES.items():
        if stage.is_final:
            continue
        actions = sorted({a for p in Path for a in open_actions(stage, p)}, key=list(ACTIONS).index)
        rows.append(f"| {stage.value}{'' if row.entered else ' (not entered)'} | {row.turn} | "
                    f"{row.owes or ''} | {', '.join(f'`{a}`' for a in actions)} |")
    return "\n".join(rows)


def actions_markdown() -> str:
    rows = ["| action | what it does | stages | who | meets | starts | example |",
            "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, row in ACTIONS.items():
        rows.append(f"| `{name}` | {_cell(row.what)} | {stages_text(row)} | {who_text(row)} | "
                    f"{', '.join(row.meets)} | {', '.join(row.starts)} | "
                    f"`{_cell(json.dumps(row.example, ensure_ascii=False))}` |")
    return "\n".join(rows)
