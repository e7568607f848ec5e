"""Issue 24 as a customer lives it: Chromium at a phone's size opens the link from the SMS the loopback
double received, answers the plan, confirms the resolution and rates the service, in Chinese; the timeline,
PostgreSQL and the metrics show it. The page passes axe-core (bundled offline by the PyPI package
axe-playwright-python; WCAG 2 A/AA: labels, contrast, names) in both languages, plus our own DOM checks: every
field labelled, no positive tabindex, the forms work from the keyboard alone.

The API runs for real (uvicorn on a loopback port, the dev server, a worker, PostgreSQL), so the browser
reaches it as a phone reaches CRISIS_PUBLIC_URL. Chromium comes from Debian (tests/helpers/web_ui.py)."""

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from importlib.resources import files

import httpx
import pytest
import pytest_asyncio
import uvicorn

from activities.metrics import compute_metrics
from crisisdesk.models.metrics import MetricsQuery
from crisisdesk.settings import Settings
from starter.api import create_app
from tests.conftest import STAMP_KEY
from tests.helpers import eventually
from tests.helpers.servers import free_port
from tests.helpers.web_ui import CHROMIUM_ARGS, chromium_path

playwright = pytest.importorskip("playwright.async_api")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True, "has_touch": True}
AXE = files("axe_playwright_python").joinpath("axe.min.js").read_text(encoding="utf-8")

# Our own checks beside axe: what a keyboard and a screen reader need from the DOM.
DOM_CHECKS = """() => {
  const problems = [];
  for (const field of document.querySelectorAll('input, select, textarea')) {
    const label = field.id && document.querySelector(`label[for="${field.id}"]`);
    if (!label || !label.textContent.trim()) problems.push(`unlabelled ${field.name || field.id}`);
  }
  for (const el of document.querySelectorAll('[tabindex]')) {
    if (parseInt(el.getAttribute('tabindex'), 10) > 0) problems.push(`positive tabindex on ${el.tagName}`);
  }
  for (const group of document.querySelectorAll('fieldset')) {
    if (!group.querySelector('legend')) problems.push('fieldset without legend');
  }
  if (!document.documentElement.lang) problems.push('no lang');
  return problems;
}"""


async def now(value):
    return value


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_path()


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def settings(dsn, tmp_path, task_queue, doubles, port) -> Settings:
    return Settings(database_url=dsn, CRISIS_TASK_QUEUE=task_queue, CRISIS_EVIDENCE_DIR=tmp_path / "evidence",
                    CRISIS_REPORT_DIR=tmp_path / "reports", CRISIS_STAMP_KEY=STAMP_KEY, CRISIS_ACK_SECRET="ack",
                    CRISIS_PUBLIC_URL=f"http://127.0.0.1:{port}", CRISIS_TIMEZONE="Asia/Shanghai", **doubles.env())


@pytest_asyncio.fixture(loop_scope="session")
async def served(settings, client, port) -> AsyncIterator[str]:
    server = uvicorn.Server(uvicorn.Config(create_app(settings, client), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: now(server.started), bool)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def accessible(page) -> None:
    """axe-core (WCAG 2 A and AA) finds nothing, and neither do our own DOM checks."""
    await page.add_script_tag(content=AXE)
    result = await page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}});
        return r.violations.map(v => `${v.id}: ${v.nodes.map(n => n.target.join(' ')).join(', ')}`);
    }""")
    assert result == [], result
    assert await page.evaluate(DOM_CHECKS) == []


async def press_tab_until(page, element_id: str, limit: int = 30) -> None:
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate("() => document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with the Tab key")


async def test_a_customer_answers_confirms_and_rates_on_a_phone(worker, served, settings, client, doubles, chromium, pool):
    tag = uuid.uuid4().hex[:8]
    phone = "+8613855556666"
    project = f"P-M-{tag}"
    async with httpx.AsyncClient(base_url=served, timeout=30) as http:
        opened = await http.post("/intakes", json={
            "intake_id": f"phone-{tag}", "channel": "phone", "summary": "阳台渗水，墙面起皮", "potential_crisis": True,
            "reporter": {"name": "Huang Lei", "locale": "zh-CN", "contacts": [{"type": "phone", "value": phone}]},
            "project": {"id": project},
            "roles": {"head": "Zhang Head", "cs_owner": "Chen CS", "department:engineering": "Zhao Eng"}})
        assert opened.status_code == 201, opened.text
        case_id = opened.json()["case_id"]
        for action, payload in [("decide_plan", {"by": "Zhang Head", "summary": "更换阳台防水层，三天内完工",
                                                 "department": "engineering"}),
                                ("customer_contacted", {"by": "Chen CS", "channel": "phone"})]:
            answer = await http.post(f"/cases/{case_id}/actions/{action}", json=payload)
            assert answer.status_code == 200, answer.text
        sms = await eventually(lambda: now([r for r in doubles.to(phone) if "处理方案" in r.text]), bool)
        link = re.search(rf"{re.escape(served)}/c/\S+", sms[0].text).group(0)

        async with playwright.async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            context = await browser.new_context(**PHONE, bypass_csp=True, locale="zh-CN")  # bypass_csp: to load axe
            page = await context.new_page()
            try:
                # The plan: the page in Chinese, a tap on "yes", sent.
                await page.goto(link)
                assert await page.locator("h1").inner_text() == "您的报修单"
                assert "更换阳台防水层" in await page.locator("#plan").inner_text()
                assert await page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
                await accessible(page)
                await page.get_by_label("是，我接受").tap()
                await page.get_by_role("button", name="提交回复").tap()
                await page.get_by_text("您的回复已记录").wait_for()

                # Staff carry the plan out; the reporter confirms from the keyboard alone.
                for action, payload in [("execution_started", {"by": "Zhao Eng", "department": "engineering"}),
                                        ("progress_reported", {"by": "Chen CS"}),
                                        ("execution_done", {"by": "Zhao Eng"})]:
                    answer = await http.post(f"/cases/{case_id}/actions/{action}", json=payload)
                    assert answer.status_code == 200, (action, answer.text)
                await page.goto(link)
                await accessible(page)
                await press_tab_until(page, "satisfied-yes")
                await page.keyboard.press("Space")
                await press_tab_until(page, "note")
                await page.keyboard.type("阳台已经干了")
                await page.keyboard.press("Tab")
                await page.keyboard.press("Enter")
                await page.get_by_text("您的回复已记录").wait_for()

                # The survey, in English this time (the same page, the other language).
                await page.goto(f"{link}?lang=en")
                assert await page.locator("html").get_attribute("lang") == "en"
                await accessible(page)
                for name, score in (("Timeliness", "5"), ("Effectiveness", "4"), ("Attitude", "5")):
                    await page.get_by_label(name).select_option(score)
                await page.get_by_label("Anything else (optional)").fill("Fast and polite")
                await page.get_by_role("button", name="Send my ratings").tap()
                await page.get_by_text("Your answer is recorded.").wait_for()
                await page.goto(link)
                assert "复盘" in await page.locator("#stage").inner_text()

                # A refused link is a plain page in the reader's language, also accessible.
                await page.goto(f"{served}/c/{link.rsplit('/', 1)[1][:-4]}AAAA")
                assert await page.locator("h1").inner_text() == "此链接无法使用"
                await accessible(page)
            finally:
                await context.close()
                await browser.close()

        # The timeline, PostgreSQL and the metrics have it as the reporter's own.
        timeline = (await http.get(f"/cases/{case_id}/timeline")).json()
        mine = [e for e in timeline if e["kind"] == "action" and e["by"] == f"reporter:phone-{tag}"]
        assert [e["name"] for e in mine] == ["customer_answer", "resolution_confirmed", "survey_response"]
        assert {e["detail"]["via"] for e in mine} == {"customer"}
        assert mine[1]["detail"]["note"] == "阳台已经干了"
        row = await eventually(lambda: pool.fetchrow(
            "SELECT score, timeliness, effectiveness, attitude FROM survey_responses WHERE case_id = $1", case_id), bool)
        assert tuple(row) == (5, 5, 4, 5)
        query = MetricsQuery(since=datetime.now(UTC) - timedelta(days=1), until=datetime.now(UTC) + timedelta(days=1),
                             project=project)
        report = await eventually(lambda: compute_metrics(pool, query), lambda r: r.satisfaction.responses == 1)
        assert report.cases_resolved == 1 and report.resolutions_confirmed == 1 and report.resolutions_unconfirmed == 0
