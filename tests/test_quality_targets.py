"""Quality targets as data: validated like playbooks, judged without I/O."""

import json

import pytest

from crisisdesk.models.metrics import CaseMetrics, Dimension, Satisfaction
from crisisdesk.quality import QualityTarget, QualityTargetsError, load_targets, parse_targets, worse


def test_the_shipped_targets_load_and_name_known_metrics():
    targets = load_targets()
    assert {t.metric for t in targets.targets} >= {"satisfaction", "resolution_rate", "complaint_rate"}


@pytest.mark.parametrize("target, message", [
    ({"name": "x", "metric": "hapiness", "at_least": 0.9, "warning": 0.95}, "targets.0.metric: Value error, unknown metric 'hapiness'"),
    ({"name": "x", "metric": "satisfaction", "warning": 0.95}, "give exactly one bound"),
    ({"name": "x", "metric": "satisfaction", "at_least": 0.9, "warning": 0.8}, "warning: 0.8 must be at or above at_least"),
    ({"name": "x", "metric": "complaint_rate", "at_most": 0.2, "warning": 0.3}, "warning: 0.3 must be at or below at_most"),
    ({"name": "x", "metric": "satisfaction", "at_least": 0.9, "warning": 0.95, "colour": 1}, "targets.0.colour: Extra inputs"),
])
def test_an_invalid_target_names_the_field(target, message):
    with pytest.raises(QualityTargetsError) as refused:
        parse_targets(json.dumps({"targets": [target]}), "targets.json")
    assert str(refused.value).startswith("targets.json: ") and message in str(refused.value)


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(QualityTargetsError, match="CRISIS_QUALITY_TARGETS: cannot read"):
        load_targets(tmp_path / "nope.json")


def test_levels_and_crossings():
    floor = QualityTarget(name="sat", metric="satisfaction", at_least=0.8, warning=0.9, min_cases=2)
    ceiling = QualityTarget(name="complaints", metric="complaint_rate", at_most=0.3, warning=0.2)
    assert [floor.judge(v) for v in (0.95, 0.9, 0.85, 0.5, None)] == ["ok", "ok", "warning", "missed", "no_data"]
    assert [ceiling.judge(v) for v in (0.1, 0.25, 0.31)] == ["ok", "warning", "missed"]
    too_few = CaseMetrics(cases_opened=1, satisfaction=Satisfaction(score=Dimension(answers=1, share_satisfied=0.0)))
    assert floor.value_of(too_few) is None  # one case is no evidence: no judgement, no alert
    assert worse(None, "warning") and worse("warning", "missed") and not worse("warning", "warning")
    assert not worse("missed", "ok") and not worse("warning", "no_data")
