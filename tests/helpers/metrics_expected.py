"""Service metrics computed here, in plain Python, from cases' `status` and `timeline` queries: the
independent side the SQL in `activities/metrics.py` is checked against."""

import math
from collections import defaultdict
from datetime import datetime

from crisisdesk.models.case import CaseStatus, TimelineEvent

Case = tuple[CaseStatus, list[TimelineEvent]]


def percentile(values: list[float], q: float) -> float | None:
    """PostgreSQL's percentile_cont: linear interpolation between the closest ranks."""
    v = sorted(values)
    if not v:
        return None
    pos = (len(v) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def share(part: int, whole: int) -> float | None:
    return None if not whole else round(part / whole, 6)


def first_event(timeline: list[TimelineEvent], kind: str, name: str) -> TimelineEvent | None:
    return min((e for e in timeline if e.kind == kind and e.name == name), key=lambda e: e.at, default=None)


def took(status: CaseStatus, met: TimelineEvent) -> float:
    """From the report to the deadline met, in the target's time: the working time it recorded, or the clock's."""
    if "working_seconds" in met.detail:
        return float(met.detail["working_seconds"])
    return (met.at - status.received_at).total_seconds()


def expected(cases: list[Case]) -> dict:
    """The figures `compute_metrics` must give for exactly these cases."""
    out: dict = {"cases_opened": len(cases)}
    stages = [{e.name for e in t if e.kind == "stage"} for _, t in cases]
    out["cases_closed"] = sum("closed" in s for s in stages)
    out["cases_cancelled"] = sum("cancelled" in s for s in stages)
    ended = [any(e.kind == "terminated" for e in t) for _, t in cases]
    out["cases_terminated"] = sum(t and not ({"closed", "cancelled"} & s) for s, t in zip(stages, ended))
    out["cases_open"] = sum(not ({"closed", "cancelled"} & s) and not t for s, t in zip(stages, ended))
    durations = {}
    for field, name in (("time_to_acknowledge", "acknowledgement"), ("time_to_first_response", "response"),
                        ("time_to_resolve", "resolution")):
        seconds = [took(s, met) for s, t in cases if (met := first_event(t, "deadline_met", name)) is not None]
        durations[field] = seconds
        out[field] = {"count": len(seconds), "median_seconds": percentile(seconds, 0.5),
                      "p90_seconds": percentile(seconds, 0.9)}
    out["cases_resolved"] = out["time_to_resolve"]["count"]
    out["resolution_rate"] = share(out["cases_resolved"], len(cases) - out["cases_cancelled"])

    # Deadlines: each (case, name, due time) once, by its outcome.
    instances: dict[tuple, dict] = defaultdict(lambda: {"on_time": False, "met": False, "breached": False, "late": []})
    for s, t in cases:
        for e in t:
            if e.kind in ("deadline_met", "breach"):
                inst = instances[(s.case_id, e.name, datetime.fromisoformat(e.detail["due_at"]))]
                if e.kind == "breach":
                    inst["breached"] = True
                else:
                    inst["met"] = True
                    if "late_by_seconds" in e.detail:
                        inst["late"].append(float(e.detail["late_by_seconds"]))
                    else:
                        inst["on_time"] = True
    by_name: dict[str, list[dict]] = defaultdict(list)
    for (_, name, _), inst in instances.items():
        by_name[name].append(inst)

    def compliance(items: list[dict]) -> dict:
        on_time = sum(i["on_time"] for i in items)
        late = [max(i["late"]) for i in items if i["late"]]
        return {"met_on_time": on_time, "missed": len(items) - on_time,
                "still_breached": sum(i["breached"] and not i["met"] for i in items),
                "compliance": share(on_time, len(items)), "late_by_median_seconds": percentile(late, 0.5),
                "late_by_p90_seconds": percentile(late, 0.9), "late_by_max_seconds": max(late, default=None)}

    out["sla_compliance"] = {name: compliance(items) for name, items in sorted(by_name.items())}
    out["sla_overall"] = compliance(list(instances.values()))

    levels: dict[str, int] = defaultdict(int)
    for _, t in cases:
        reached = [e.detail["level"] for e in t if e.kind in ("breach", "reminder", "escalated")]
        if reached:
            levels[str(max(reached) + 1)] += 1
    out["escalations"] = {
        "breaches": sum(e.kind == "breach" for _, t in cases for e in t),
        "cases_breached": sum(any(e.kind == "breach" for e in t) for _, t in cases),
        "levels_reached": dict(levels),
        "severity_raised": sum(e.kind == "action" and e.name == "escalate" for _, t in cases for e in t),
    }

    def turned_down(t: list[TimelineEvent], action: str) -> int:
        return sum(e.kind == "action" and e.name == action and e.detail.get("satisfied") is False for e in t)

    reopened = sum(turned_down(t, "resolution_confirmed") + turned_down(t, "customer_answer") > 0 for _, t in cases)
    # A closed case opened again (`crisis case reopen`): its new case's timeline starts with `reopened`.
    after_closing = sum(any(e.kind == "reopened" for e in t) for _, t in cases)
    out["reopenings"] = {"resolution_rejected": sum(turned_down(t, "resolution_confirmed") for _, t in cases),
                         "plan_rejected": sum(turned_down(t, "customer_answer") for _, t in cases),
                         "after_closing": after_closing, "cases": reopened + after_closing,
                         "rate": share(reopened + after_closing, len(cases))}

    answers = [e.detail for _, t in cases for e in t if e.kind == "action" and e.name == "survey_response"]
    sent = sum(e.kind == "survey_sent" for _, t in cases for e in t)
    satisfaction: dict = {"surveys_sent": sent, "responses": len(answers), "response_rate": share(len(answers), sent)}
    for dim in ("score", "timeliness", "effectiveness", "attitude"):
        values = [a[dim] for a in answers if a.get(dim) is not None]
        satisfaction[dim] = {"answers": len(values), "distribution": {str(k): values.count(k) for k in range(1, 6)},
                             "share_satisfied": share(sum(v >= 4 for v in values), len(values)),
                             "mean": share(sum(values), len(values))}
    out["satisfaction"] = satisfaction
    out["crises"] = sum(any(e.kind == "path" and e.name == "crisis" for e in t) for _, t in cases)
    out["contingencies"] = sum(any(e.kind == "contingency" for e in t) for _, t in cases)
    out["media_involved"] = sum(any(e.kind == "action" and e.name == "external_involvement"
                                    and e.detail.get("party") == "media" for e in t) for _, t in cases)
    out["complaints"] = sum(s.category == "complaint" for s, _ in cases)
    out["complaint_rate"] = share(out["complaints"], len(cases))
    out["working_time_cases"] = sum(any(e.kind == "deadline_met" and "working_seconds" in e.detail for e in t)
                                    for _, t in cases)
    return out
