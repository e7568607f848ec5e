"""Every operator action of docs/contract.md: one model each, `by` always, `note` optional.

Handlers accept raw JSON and validate it here, so a malformed action is refused with the field
and the reason instead of being dropped by the SDK's deserializer.
"""

import difflib
from typing import Any, Literal

from crisisdesk import i18n
from pydantic import AwareDatetime, ConfigDict, Field, ValidationError, field_validator

from crisisdesk.operator_words import say
from crisisdesk.models.intake import INTAKE_ID_PATTERN, Category, Channel, Reporter, Severity
from crisisdesk.models.roles import valid_role
from crisisdesk.models.text import SURROGATE, Name, StorableModel, Text

class Action(StorableModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    by: Name
    note: str | None = Field(None, max_length=5000)


class Triage(Action):
    severity: Severity
    category: Category
    potential_crisis: bool = False


class Acknowledge(Action):
    pass


class AssignRole(Action):
    role: str
    person: Name

    _role = field_validator("role")(classmethod(lambda cls, v: valid_role(v)))


class Delegate(Action):
    to: Name
    scope: list[Name] = Field(min_length=1, max_length=30)
    until: AwareDatetime
    outside_scope: Text


class RevokeDelegation(Action):
    pass


class AddStakeholder(Action):
    name: Name
    contact: str | None = Field(None, max_length=200)
    unit: str | None = Field(None, max_length=100)
    employer: str | None = Field(None, max_length=200)
    household: str | None = Field(None, max_length=500)
    intermediary: str | None = Field(None, max_length=200)
    key_contact: bool = False
    concerns: str | None = Field(None, max_length=5000)


class SetPosition(Action):
    concerns: str | None = Field(None, max_length=5000)
    their_bottom_line: str | None = Field(None, max_length=5000)
    our_bottom_line: str | None = Field(None, max_length=5000)
    compromise_point: str | None = Field(None, max_length=5000)
    options: list[Text] = Field(default_factory=list, max_length=50)
    risks: list[Text] = Field(default_factory=list, max_length=50)


class DecidePlan(Action):
    summary: Text
    department: Name


class CustomerContacted(Action):
    channel: Channel = Channel.phone


class CustomerAnswer(Action):
    satisfied: bool


class RevisePlan(Action):
    kind: Literal["principled", "specific"]
    summary: Text


class ApproveRevision(Action):
    pass


class ReclassifyRevision(Action):
    """4.4.1.1: the head sees every `specific` revision and may call it a change of principle."""
    reason: Text


class PlanNotAdjustable(Action):
    reason: Text


class Explained(Action):
    understood: bool


class ExecutionStarted(Action):
    department: Name


class ProgressReported(Action):
    milestone: Name | None = Field(None, description="a milestone of the implementation plan this progress meets")
    progress: str | None = Field(None, max_length=2000, description="what the customer was told, in a few words "
                                                                   "(e.g. 防护棚已搭好)")


class ExecutionDone(Action):
    pass


class ExternalInvolvement(Action):
    party: Literal["media", "government", "police", "regulator", "organiser", "lawyer", "forum"]
    level: Literal["local", "provincial", "national"] = "local"
    source: str | None = Field(None, max_length=1000)


class AddEvidence(Action):
    kind: Name
    description: Text
    content_base64: str | None = None
    uri: str | None = Field(None, max_length=2000)
    captured_at: AwareDatetime | None = None
    location: str | None = Field(None, max_length=500)

    def model_post_init(self, _context) -> None:
        if (self.content_base64 is None) == (self.uri is None):
            raise ValueError("give exactly one of content_base64 or uri")


class MonitorCheckin(Action):
    """002 §4.5.2: owner groups, forums and the media were watched; what was seen."""
    watched: list[Name] = Field(default_factory=list, max_length=20)
    findings: Text | None = None


class PoliceLiaison(Action):
    contact: Name
    conditions: Text
    channel: Name


class MediaStatement(Action):
    text: Text
    filed_with: Name


class ContingencyTaskDone(Action):
    """A contingency task's work is done (002 §4.4.1.4): by its owner or the head."""

    name: Name


class ContingencyStandDown(Action):
    """The head stands the contingency down, saying why: the open tasks close."""

    reason: Text


class Milestone(StorableModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    name: Name
    due_at: AwareDatetime


class ImplementationPlan(StorableModel):
    """Who carries the solution out, and the milestones they answer for (004 §四(三))."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    owner: Name
    milestones: list[Milestone] = Field(default_factory=list, max_length=30)

    @field_validator("milestones")
    @classmethod
    def _unique(cls, v: list[Milestone]) -> list[Milestone]:
        names = [m.name for m in v]
        if len(set(names)) != len(names):
            raise ValueError("milestone names must be unique")
        return v


class SolutionProposed(Action):
    summary: Text
    experts: list[Name] = Field(default_factory=list, max_length=50)
    implementation: ImplementationPlan | None = None


class ConveneExperts(Action):
    """Important and urgent problems: the experts who consult (会诊) and propose the solution."""

    experts: list[Name] = Field(min_length=1, max_length=50)
    question: str | None = Field(None, max_length=5000)


class AdjustPlan(Action):
    """The implementation plan changes during execution (004 §四(四)): a reason, and what changes."""

    reason: Text
    owner: Name | None = None
    milestones: list[Milestone] | None = Field(None, max_length=30)
    summary: str | None = Field(None, max_length=5000)

    def model_post_init(self, _context) -> None:
        if self.owner is None and self.milestones is None and self.summary is None:
            raise ValueError("give at least one of owner, milestones or summary to change")


class ResolutionConfirmed(Action):
    satisfied: bool


class CustomerCalledBack(Action):
    """Customer service called back a customer who never confirmed the resolution (issue 24)."""
    reached: bool
    satisfied: bool | None = None


class Compensation(Action):
    kind: Name
    amount: float | None = Field(None, ge=0, allow_inf_nan=False)


class SurveyResponse(Action):
    score: int = Field(ge=1, le=5)
    timeliness: int | None = Field(None, ge=1, le=5)
    effectiveness: int | None = Field(None, ge=1, le=5)
    attitude: int | None = Field(None, ge=1, le=5)
    comment: str | None = Field(None, max_length=5000)


class FollowUp(StorableModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    what: Text
    owner: Name
    due_at: AwareDatetime


class ReviewDone(Action):
    cause: Text
    lessons: Text
    knowledge_title: Name
    knowledge_body: Text
    follow_ups: list[FollowUp] = Field(default_factory=list, max_length=30)


class Escalate(Action):
    severity: Severity
    reason: Text
    potential_crisis: bool = False


class Note(Action):
    text: Text


class ResetNoticed(Action):
    """The case audit (signed as crisisdesk's `system`) tells a running case that Temporal reset it: the
    case records the fact itself, so the event takes the case's own next seq (a row the audit wrote
    beside the new run's record was overwritten when that run reached the same seq)."""
    run_id: str = Field(min_length=1, max_length=100)  # the run that was reset
    reset_at: AwareDatetime
    reason: str | None = Field(None, max_length=5000)
    temporal_identity: str | None = Field(None, max_length=500)  # the Temporal client's identity: not a verified person


class Cancel(Action):
    reason: Text


class LinkReport(Action):
    """Another report of the same problem joins this case as one more reporter (a group complaint)."""

    intake_id: str = Field(min_length=1, max_length=200, pattern=INTAKE_ID_PATTERN)
    channel: Channel = Channel.internal
    received_at: AwareDatetime | None = None
    summary: str | None = Field(None, max_length=500)
    location: str | None = Field(None, max_length=500)
    reporter: Reporter = Field(default_factory=Reporter)


class UnlinkReport(Action):
    """A report the intake matcher joined by mistake leaves this case (`crisis case unlink`); it opens its own."""

    intake_id: str = Field(min_length=1, max_length=200, pattern=INTAKE_ID_PATTERN)
    reason: Text


class EvidenceRead(Action):
    """System action: the API or CLI served a piece of the case's evidence to `by` (verified against its
    SHA-256 on the way out); the case puts the read on its timeline. PostgreSQL's custody trail has it too."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    evidence_id: int | None = Field(None, ge=1)
    reason: str | None = Field(None, max_length=500)


class Link(Action):
    """This case reports the same problem as an open case: it joins that case and closes here."""

    case_id: Name


class Reopen(Action):
    """The customer called again about a closed case: sent to that case (the API, `crisis act`), it opens a new
    case linked to it; an open case refuses it, naming its stage."""


ACTION_MODELS: dict[str, type[Action]] = {
    "triage": Triage,
    "acknowledge": Acknowledge,
    "assign_role": AssignRole,
    "delegate": Delegate,
    "revoke_delegation": RevokeDelegation,
    "add_stakeholder": AddStakeholder,
    "set_position": SetPosition,
    "decide_plan": DecidePlan,
    "customer_contacted": CustomerContacted,
    "customer_answer": CustomerAnswer,
    "revise_plan": RevisePlan,
    "approve_revision": ApproveRevision,
    "reclassify_revision": ReclassifyRevision,
    "plan_not_adjustable": PlanNotAdjustable,
    "explained": Explained,
    "execution_started": ExecutionStarted,
    "progress_reported": ProgressReported,
    "execution_done": ExecutionDone,
    "external_involvement": ExternalInvolvement,
    "add_evidence": AddEvidence,
    "police_liaison": PoliceLiaison,
    "media_statement": MediaStatement,
    "convene_experts": ConveneExperts,
    "solution_proposed": SolutionProposed,
    "adjust_plan": AdjustPlan,
    "resolution_confirmed": ResolutionConfirmed,
    "compensation": Compensation,
    "customer_called_back": CustomerCalledBack,
    "survey_response": SurveyResponse,
    "review_done": ReviewDone,
    "escalate": Escalate,
    "note": Note,
    "cancel": Cancel,
    "reset_noticed": ResetNoticed,
    "link_report": LinkReport,
    "link": Link,
    "unlink_report": UnlinkReport,
    "evidence_read": EvidenceRead,
    "monitor_checkin": MonitorCheckin,
    "contingency_task_done": ContingencyTaskDone,
    "contingency_stand_down": ContingencyStandDown,
    "reopen": Reopen,
}
ACTION_NAMES = tuple(ACTION_MODELS)


class ActionRefused(ValueError):
    """An action that is malformed, unknown, out of order or unauthorised; says why. `shown`: the reason
    in words made only of crisisdesk's own text and directory ids, never of the input, so an encrypted
    stack may show it in clear where the sender reads it (the Web UI's dialog: crisisdesk.converter)."""

    def __init__(self, reason: str, shown: str | None = None, said: dict | None = None) -> None:
        super().__init__(reason)
        self.shown = shown
        self.said = said  # the reason as facts (crisisdesk/i18n.py): each reader gets it in their locale


def refused(msg_id: str, /, **args: Any) -> ActionRefused:
    """A refusal from the catalogue (`refuse.<id>` in crisisdesk/locale): its English words are the
    record's `reason` (logs, machine readers); the case sheet, the Web UI, the API and the CLI write
    it in their reader's locale from `said`."""
    said = i18n.said(msg_id, **args)
    return ActionRefused(i18n.say(said, "en"), said=said)


MAX_MESSAGE = 300


def error_message(error: dict) -> str:
    """pydantic's reason for one field, in words a sender can act on (at most MAX_MESSAGE characters: a
    validator that quotes the input never quotes all of it)."""
    if error["type"] == "string_unicode":  # pydantic-core cannot even read the text: say why
        return SURROGATE
    message = str(error["msg"])
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


# A refusal names at most this many bad fields (a body of 50,000 unknown keys is one line, not 50,000).
MAX_ERRORS = 20


def describe_validation_error(err: ValidationError) -> str:
    """One line naming each bad field (the first MAX_ERRORS) and the reason: `severity: Input should be ...`."""
    errors = err.errors()
    parts = []
    for e in errors[:MAX_ERRORS]:
        field = ".".join(str(p)[:100] for p in e["loc"]) or "input"
        parts.append(f"{field}: {error_message(e)}")
    if len(errors) > MAX_ERRORS:
        parts.append(f"and {len(errors) - MAX_ERRORS} more")
    return "; ".join(parts)


def closest(name: str, n: int = 3) -> list[str]:
    """The action names nearest a misspelt one (`triag` -> `triage`), best first."""
    text = name[:64].strip().lower().replace("-", "_").replace(" ", "_")
    return difflib.get_close_matches(text, list(ACTION_MODELS), n=n, cutoff=0.6)


def unknown_action(name: str, open_now: list[str] | None = None) -> str:
    """The refusal of an unknown action, on every channel: the closest names, and what the case takes now
    (`open_now`, its open actions; None: not known at this edge, so every action is listed)."""
    near = closest(name)
    maybe = say("unknown.did_you_mean", names=" or ".join(f"`{n}`" for n in near)) if near else ""
    if open_now is None:
        return say("unknown.action_any", name=name[:64], maybe=maybe, open=", ".join(ACTION_MODELS))
    return say("unknown.action", name=name[:64], maybe=maybe,
               open=", ".join(open_now) if open_now else say("unknown.none_open"))


def parse_action(name: str, payload: object) -> Action:
    """Validate raw JSON into the action's model, or raise ActionRefused naming the fields."""
    model = ACTION_MODELS.get(name)
    if model is None:
        raise ActionRefused(unknown_action(name))
    if not isinstance(payload, dict):
        raise ActionRefused(f"{name}: expected one JSON object with at least 'by', got {type(payload).__name__}")
    try:
        return model.model_validate(payload)
    except ValidationError as err:
        raise ActionRefused(f"{name}: {describe_validation_error(err)}") from None
