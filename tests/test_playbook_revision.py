"""Plan revision: `crisis playbook list | show | diff | check`; a new version is validated and drilled
before a case can pin it, and the metrics tell the versions apart."""

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from activities.metrics import compute_metrics
from crisisdesk.models.intake import Intake
from crisisdesk.models.metrics import MetricsQuery
from crisisdesk.playbooks import PlaybookError, load_playbook
from starter.cli import app
from starter.client import start_case
from starter.drill import play
from starter.playbook_check import check_playbook
from tests.helpers.stories import ordinary, settled
from starter.worker import build_worker


def crisis(*args: str, **env: str):
    return CliRunner().invoke(app, list(args), env={"CRISIS_DEBUG": "", **env})


@pytest.fixture
def revised(tmp_path) -> Path:
    """The organisation's delivery playbook, version 2: first contact within 8 hours instead of 12."""
    book = load_playbook("delivery").model_dump(mode="json")
    book["version"], book["deadlines"]["first_contact"]["due"] = 2, "PT8H"
    directory = tmp_path / "org-playbooks"
    directory.mkdir()
    (directory / "delivery.json").write_text(json.dumps(book))
    return directory / "delivery.json"


@pytest.fixture
def settings(settings, revised):
    return settings.model_copy(update={"playbook_dir": revised.parent})


def test_list_show_diff_and_a_bad_file(revised, tmp_path):
    env = {"CRISIS_PLAYBOOK_DIR": str(revised.parent)}
    listed = {r["name"]: r for r in json.loads(crisis("playbook", "list", "--json", **env).stdout)}
    assert listed["after_sales"]["status"] == "shipped"
    assert listed["delivery"]["version"] == 2 and listed["delivery"]["status"].startswith("NOT CHECKED")
    shown = crisis("playbook", "show", "service", "--json", **env)
    assert json.loads(shown.stdout) == load_playbook("service").model_dump(mode="json")
    diff = crisis("playbook", "diff", "after_sales", str(revised), **env)
    assert diff.exit_code == 0 and 'deadlines.first_contact.due: "PT12H" → "PT8H"' in diff.stdout
    assert 'calendar: {"timezone": "Asia/Shanghai"' in diff.stdout  # after_sales counts working time (issue 25)
    assert 'version: 1 → 2' in crisis("playbook", "diff", "delivery", str(revised)).stdout
    assert "do not differ" in crisis("playbook", "diff", "service", "service").stdout

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({**json.loads(revised.read_text()), "severity": {}}))
    for args in (("check", str(broken)), ("show", str(broken))):
        result = crisis("playbook", *args, **env)
        assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith("error: ") and "severity: targets missing for general" in result.stderr
    missing = crisis("playbook", "show", "nonesuch", **env)
    assert missing.exit_code == 2 and "playbook 'nonesuch' does not exist" in missing.stderr


async def test_a_new_version_is_drilled_before_cases_pin_it(revised, settings, temporal_env, pool, open_case):
    intake = Intake(intake_id=f"pv-{uuid.uuid4().hex[:8]}", summary="Leak after handover")
    with pytest.raises(PlaybookError, match="has not passed `crisis playbook check"):
        await start_case(temporal_env.client, intake, settings)  # refused before any case exists

    async def on_session_server(drill, drill_settings):  # a private DrillStack costs about a second more; the same play here
        queue = f"check-{uuid.uuid4().hex[:6]}"
        async with build_worker(temporal_env.client, drill_settings, pool, task_queue=queue):
            return await play(drill, temporal_env, queue)

    # A short drill of the organisation's own (the shipped one plays two days of a crisis: ~10 s here):
    # contact 9 hours after the plan is decided, late under version 2's 8 hours, in time under version 1's 12.
    drills = revised.parent.parent / "drills"
    drills.mkdir()
    (drills / "slow_contact.json").write_text(json.dumps({
        "title": "Contact nine hours after the plan", "intake": {
            "intake_id": "slow-1", "summary": "Leak", "potential_crisis": True,
            "roles": {"head": "Wang Head", "cs_owner": "Chen CS", "department:engineering": "Zhao Eng"}},
        "steps": [{"act": "acknowledge", "payload": {"by": "Wang Head"}},
                  {"act": "decide_plan", "payload": {"by": "Wang Head", "summary": "Repair", "department": "engineering"}},
                  {"wait": "PT9H"},
                  {"act": "customer_contacted", "payload": {"by": "Chen CS", "channel": "phone"}},
                  {"act": "approve_revision", "payload": {"by": "Chen CS"}}]}))
    seen = []
    result = await check_playbook(revised, settings, drills, on_drill=seen.append, runner=on_session_server)
    assert result.valid and result.passed and [v.drill for v in seen] == ["slow_contact.json"]
    assert seen[0].breaches == ["first_contact"] and seen[0].refused == 1  # what the drill shows under version 2
    assert result.recorded and json.loads(Path(result.recorded).read_text())["digest"] == result.digest
    assert load_playbook("delivery", revised.parent).version == 2

    region = f"pv-{uuid.uuid4().hex[:6]}"
    case = await open_case(project={"id": "P-V", "region": region})
    assert (await case.status()).playbook_version == 2
    await ordinary(case, score=5)
    [(status, _)] = await settled([case], pool)
    grouped = await compute_metrics(pool, MetricsQuery(since=status.received_at - timedelta(minutes=1),
                                                       until=status.received_at + timedelta(minutes=1),
                                                       region=region, by="playbook"))
    assert [(g.group, g.cases_opened, g.resolution_rate) for g in grouped.groups] == [("delivery v2", 1, 1.0)]

    # Editing the file makes a new, unchecked version: refused again until checked.
    book = json.loads(revised.read_text())
    book["deadlines"]["first_contact"]["due"] = "PT6H"
    revised.write_text(json.dumps(book))
    with pytest.raises(PlaybookError, match="has not passed"):
        load_playbook("delivery", revised.parent)
