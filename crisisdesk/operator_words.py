"""The operator's day (issue 30): every sentence its features add, in one table keyed by id.

The case sheet's lead and closing summary, the "as of" of relative figures, "did you mean", the re-opening's
answers and what a refusal says to do next. Filled with `say(id, **facts)`; the callers pass facts (names,
times, counts), never sentences. One place, so the language work (issue 23: gettext catalogues) moves these
ids into its catalogues as they are. Pure: safe inside the workflow sandbox.
"""

WORDS: dict[str, str] = {
    # -- the case sheet: nobody forgotten -----------------------------------------------------------
    "lead.nobody_alerted": "**Nobody was alerted — seat the {role} now.** The alert for {roles} reached no one "
                           "(no seat, no project team, no CRISIS_DEFAULT_TEAM, no directory admin).",
    "lead.fallback_only": "**The alert for {roles} reached only {people} (the fallback) — seat the {role} now.**",
    "lead.paste": "Update dialog: `{action}`, then paste:",
    "lead.no_candidate": "Nobody in the directory may hold {role} yet: `crisis users add ID --name NAME --role {role}`, "
                         "then seat them with `assign_role`.",
    "lead.no_assigner": "Whoever seats the {role} puts their own id in `by` (an admin or manager, with sign-in on).",
    "turn.seat_first": "nobody may take it yet: seat the {role} first (`assign_role`)",
    # -- the case sheet: nothing stale --------------------------------------------------------------
    "due.line": "- {name}: due {due}{local} ({state}, as of {as_of})",
    "due.local": " · local {at} {zone}",
    "due.left": "{left} left",
    "due.breached": "BREACHED, escalation level {level}",
    "sheet.as_of": "as of {as_of}",
    # -- the case sheet: a closed case --------------------------------------------------------------
    "closed.title": "**Closing summary** · the case is {stage}",
    "closed.outcome.closed": "- Outcome: closed after review{by}",
    "closed.outcome.cancelled": "- Outcome: cancelled{by}: {reason}",
    "closed.outcome.linked": "- Outcome: joined case {case} (the same problem)",
    "closed.took": "- Took {took}: received {received}, ended {ended}",
    "closed.breaches": "- Deadlines breached on the way: {count}",
    "closed.satisfaction": "- Satisfaction: {score}/5{parts}",
    "closed.no_survey": "- Satisfaction: no survey answer recorded",
    "closed.review": "- Review: cause {cause}; lessons {lessons}",
    "closed.no_review": "- Review: none (the case did not go through review)",
    "closed.reopen": "The customer calls again? `crisis case reopen {case}` opens a new case linked to this one.",
    # -- re-opened cases ----------------------------------------------------------------------------
    "reopened.title": "**Re-opens {case}** ({stage}; playbook {playbook}). Its last events:",
    # -- refusals: what to do next ------------------------------------------------------------------
    "unknown.action": "unknown action {name!r}{maybe} This case's open actions: {open}",
    "unknown.action_any": "unknown action {name!r}{maybe} The actions: {open}",
    "unknown.did_you_mean": ": did you mean {names}?",
    "unknown.none_open": "none (it takes no more actions)",
    "refused.open_now": "; what moves it now: {actions}",
    "final.refused": "{name}: the case is {stage}: it takes no more actions; if the customer calls again, "
                     "`crisis case reopen {case}` (or POST /cases/{case}/reopen) opens a new case linked to it",
    "reopen.done": "case {case} re-opened as {new}: the new case shows the old one's last events",
    "reopen.not_found": "case {case} does not exist: nothing to reopen; `crisis cases` lists the cases",
    "reopen.open": "case {case} is open ({stage}): it takes actions as it is, nothing to reopen",
    "reopen.not_closed": "case {case} is {state} in Temporal: it cannot be reopened; open a new case "
                         "(`crisis intake`)",
    # -- an accepted update's answer names what changed ---------------------------------------------
    "changed.stage": "stage {before} → {after}",
    "changed.met": "met {names}",
    "changed.started": "started {names}",
    "changed.seated": "{role} is {person}",
    "changed.answer": "{message} ({changes})",
}


def say(key: str, **facts: object) -> str:
    """The sentence `key`, filled with `facts`."""
    return WORDS[key].format(**facts)
