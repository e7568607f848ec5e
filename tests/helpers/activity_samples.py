"""Builders and tiny real servers for the activity tests: case status, events, an HTTP server."""

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from crisisdesk.models.case import CaseStatus, DeadlineStatus, TimelineEvent

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def new_case_id() -> str:
    return f"crisis-t-{uuid.uuid4().hex[:10]}"


def make_status(case_id: str, stage: str = "planning", updated_at: datetime | None = None, **changes) -> CaseStatus:
    values = dict(
        case_id=case_id, intake_id=case_id.removeprefix("crisis-"), summary="Water leaking through the ceiling",
        stage=stage, path="crisis", severity="important", category="technical", contingency=False,
        roles={"head": "Zhang San <zhang.san@example.com>", "regional_cs": "Li Si"}, delegation=None,
        deadlines=[DeadlineStatus(name="first_contact", due_at=T0 + timedelta(hours=12))],
        open_actions=["decide_plan"], plan=None, counts={"actions": 2},
        updated_at=updated_at or T0 + timedelta(hours=2), received_at=T0,
        project={"id": "P1", "name": "Garden Court", "region": "east"}, playbook="delivery", playbook_version=1,
    )
    values.update(changes)
    return CaseStatus(**values)


def make_events(*names: str, start: int = 1) -> list[TimelineEvent]:
    return [
        TimelineEvent(seq=start + i, at=T0 + timedelta(minutes=10 * (start + i)), kind="action", name=name,
                      by="Zhang San", detail={"note": f"event {name}"})
        for i, name in enumerate(names)
    ]


class RecordingHTTPServer:
    """A real HTTP server on 127.0.0.1 that answers with `status` and records what it was sent."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b"ok"
        self.content_type = "text/plain"
        self.requests: list[tuple[str, str, dict, bytes]] = []  # (method, path, headers, body)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                outer.requests.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
                self.send_response(outer.status)
                self.send_header("content-type", outer.content_type)
                self.send_header("content-length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def posts(self) -> list[bytes]:
        return [body for method, _, _, body in self.requests if method == "POST"]


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[None]:
    """Serve on a daemon thread for the duration of the block, then shut the server down."""
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def http_server() -> Iterator[RecordingHTTPServer]:
    recorder = RecordingHTTPServer()
    with serving(recorder.server):
        yield recorder
