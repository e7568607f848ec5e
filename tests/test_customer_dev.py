"""Issue 24's "done when" on the stack `make run` starts (`crisis dev`): `crisis customer link CASE` prints
the reporter's link, which the worker's messages carry too; the page shows the case without contacts or
staff ids; a tampered link is refused."""

import subprocess
import sys
import uuid

import httpx

from tests.helpers.dev_stack import ROOT, DevStackProcess


async def test_crisis_dev_prints_the_reporters_link_and_serves_their_page(tmp_path):
    dev = DevStackProcess(tmp_path / "data")
    try:
        info = await dev.wait_ready()
        api = info["api_url"]
        intake_id = f"devc-{uuid.uuid4().hex[:8]}"
        async with httpx.AsyncClient(timeout=20) as http:
            created = await http.post(f"{api}/intakes", json={
                "intake_id": intake_id, "channel": "phone", "summary": "Cracked tiles in the lobby",
                "reporter": {"name": "Qian Wei", "contact": "+8613866667777", "locale": "en"},
                "roles": {"cs_owner": "Chen CS"}})
            assert created.status_code == 201, created.text
            case_id = created.json()["case_id"]
            env = {"CRISIS_STACK_FILE": str(tmp_path / "data" / "stack.json"), "PATH": "/usr/bin:/bin",
                   "HOME": str(tmp_path), "CRISIS_DEBUG": ""}
            printed = subprocess.run([sys.executable, "-m", "starter.cli", "customer", "link", case_id], cwd=ROOT,
                                     env=env, capture_output=True, text=True, timeout=60)
            assert printed.returncode == 0, printed.stderr
            url = printed.stdout.strip().splitlines()[-1]
            assert url.startswith(f"{api}/c/"), url
            page = await http.get(url)
            assert page.status_code == 200 and "Cracked tiles in the lobby" in page.text, page.text
            for hidden in ("Chen CS", "13866667777", "Qian Wei"):
                assert hidden not in page.text
            tampered = await http.get(url[:-3] + "xyz")
            assert tampered.status_code == 403 and "This link is not valid" in tampered.text
    finally:
        assert dev.stop() == 0, dev.output()[-3000:]
