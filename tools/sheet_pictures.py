"""The case sheet in the Web UI, in Chinese and in English, for docs/pictures/ (issue 23).

    .venv/bin/python tools/sheet_pictures.py

Starts `crisis dev` once per language (CRISIS_LOCALE, CRISIS_TIMEZONE=Asia/Shanghai), opens a crisis case as
users do, acknowledges the alert, and photographs User Metadata with Debian's Chromium (Playwright).
"""

import asyncio
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.async_api import async_playwright, expect  # noqa: E402
from temporalio.client import Client  # noqa: E402

from crisisdesk.converter import data_converter  # noqa: E402
from crisisdesk.models.case import ActionResult, CaseStatus  # noqa: E402
from crisisdesk.models.intake import Intake  # noqa: E402
from crisisdesk.settings import Settings  # noqa: E402
from starter.client import start_case  # noqa: E402
from tests.helpers import eventually  # noqa: E402
from tests.helpers.dev_stack import DevStackProcess  # noqa: E402
from tests.helpers.web_ui import CHROMIUM_ARGS, chromium_path, sheet_frame  # noqa: E402

OUT = ROOT / "docs" / "pictures"
KEY = "lang-pictures-key-0123456789abcdef0123456789abcdef"


async def picture(locale: str) -> None:
    dev = DevStackProcess(Path(tempfile.mkdtemp(prefix=f"sheet-{locale}-")),
                          env={"CRISIS_LOCALE": locale, "CRISIS_TIMEZONE": "Asia/Shanghai", "CRISIS_ENCRYPTION_KEY": None})
    try:
        info = await dev.wait_ready()
        key = dev.local_key
        client = await Client.connect(info["temporal_address"], data_converter=data_converter(Settings(CRISIS_ENCRYPTION_KEY=key)))
        zh = locale == "zh-CN"
        intake = Intake.model_validate({
            "intake_id": f"pic-{uuid.uuid4().hex[:8]}", "channel": "phone", "severity": "important", "potential_crisis": True,
            "summary": "三号楼外墙渗水，业主在群里聚集" if zh else "Water through the facade of block 3; owners gathering",
            "reporter": {"name": "业主", "contact": "owner@example.com", "role": "owner"},
            "project": {"id": "P-7", "name": "河畔二期" if zh else "Riverside Phase 2", "region": "华东" if zh else "east"},
            "roles": {"head": "王总" if zh else "Wang", "regional_cs": "李经理" if zh else "Li", "cs_owner": "陈客服" if zh else "Chen",
                      "department:engineering": "赵工" if zh else "Zhao"}})
        settings = Settings(CRISIS_TASK_QUEUE=info["task_queue"], CRISIS_ENCRYPTION_KEY=key, CRISIS_LOCALE=locale,
                            CRISIS_TIMEZONE="Asia/Shanghai")
        started = await start_case(client, intake, settings)
        handle = client.get_workflow_handle(started.case_id, result_type=CaseStatus)
        await eventually(lambda: _status(handle), lambda s: s is not None, timeout=30)
        head = intake.roles["head"]
        await handle.execute_update("acknowledge", {"by": head}, result_type=ActionResult)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = await (await browser.new_context(viewport={"width": 1280, "height": 1100},
                                                    locale="zh-CN" if zh else "en-GB")).new_page()
            page.set_default_timeout(30_000)
            await page.goto(f"http://127.0.0.1:{dev.ports['ui']}/namespaces/default/workflows/{started.case_id}")
            await expect(page.get_by_role("heading", name=started.case_id)).to_be_visible()
            await page.get_by_text("User Metadata", exact=True).click()
            frame = sheet_frame(page)
            await expect(frame.frame_locator("iframe").locator("body")).to_contain_text("阶段" if zh else "Stage")
            await page.wait_for_timeout(1000)
            await page.screenshot(path=str(OUT / f"case-sheet-{locale}.png"), full_page=True)
            # `crisis report CASE --html`, as the command renders it, and the reporter's acknowledgement.
            report, ack = await _report_and_ack(info["database_url"], started.case_id, settings)
            (OUT / f"report-{locale}.html").write_text(report, encoding="utf-8")
            (OUT / f"acknowledgement-{locale}.txt").write_text(ack, encoding="utf-8")
            await page.goto((OUT / f"report-{locale}.html").as_uri())
            await page.screenshot(path=str(OUT / f"report-{locale}.png"), full_page=True)
            await browser.close()
        print(f"wrote {OUT / f'case-sheet-{locale}.png'}, report-{locale}.png, acknowledgement-{locale}.txt")
    finally:
        dev.stop()


async def _report_and_ack(dsn: str, case_id: str, settings: Settings) -> tuple[str, str]:
    from activities.db import create_pool
    from activities.reports import render_case_report

    pool = await create_pool(dsn)
    try:
        async def ack():
            return await pool.fetchrow("SELECT subject, body FROM notifications WHERE case_id = $1 AND kind = 'acknowledgement'",
                                       case_id)
        row = await eventually(ack, lambda r: r is not None, timeout=30)
        await asyncio.sleep(2)  # the acknowledge action on the record
        report = await render_case_report(pool, case_id, locale=settings.locale, tz=settings.timezone)
        return report["html"], f"{row['subject']}\n\n{row['body']}\n"
    finally:
        await pool.close()


async def _status(handle):
    try:
        return await handle.query("status", result_type=CaseStatus)
    except Exception:
        return None


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for language in sys.argv[1:] or ["zh-CN", "en"]:
        asyncio.run(picture(language))
