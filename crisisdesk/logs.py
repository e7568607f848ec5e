"""One structlog configuration for every process: console for people, JSON for machines.

Personal data and secrets never reach a log line: the `redact` processor masks every key that
can carry them, whatever the call site passed.
"""

import logging
import sys

import structlog

SENSITIVE_KEYS = frozenset({
    "contact", "contacts", "email", "phone", "address", "password", "token",
    "secret", "dsn", "database_url", "smtp_url", "webhook_url", "recipients",
    "authorization", "content_base64", "household", "employer",
})


def redact(_logger, _method, event_dict: dict) -> dict:
    for key in list(event_dict):
        if key.lower() in SENSITIVE_KEYS:
            event_dict[key] = "***"
    return event_dict


class _Stderr:
    """sys.stderr as it is when a line is written: a CLI runner or a test may swap (and close) the one
    that was current when logging was configured."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(log_format: str = "console", level: int = logging.INFO) -> None:
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        # Plain tracebacks: rich's formatter touches os.path, which the workflow sandbox forbids.
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),
        # Not cached: a cached logger keeps the processors of its first use, so a later configure (a
        # CLI command, a test capturing logs) would silently miss it. The saving is a dict lookup.
        cache_logger_on_first_use=False,
    )
    # The SDK's own stdlib logging (workflow.logger included) goes through the same renderer.
    handler = logging.StreamHandler(_Stderr())
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(processors=[
        structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact, renderer,
    ], foreign_pre_chain=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


log = structlog.get_logger("crisisdesk")
