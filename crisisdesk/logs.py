"""One structlog configuration for every process: console for people, JSON for machines.

Personal data and secrets never reach a log line: the `redact` processor masks every key that
can carry them, whatever the call site passed. No value is longer than `MAX_VALUE` characters either
(`truncate`): a hostile request's 5,000-character name or 50,000 validation errors cost one short line.
The token of a link that is its own credential (`/ack/<token>`, the customer's `/c/<token>`) never reaches
a line either (`hide_link_tokens`, and `LinkTokenFilter` on uvicorn's access log).
"""

import itertools
import logging
import re
import sys

import structlog

SENSITIVE_KEYS = frozenset({
    "contact", "contacts", "email", "phone", "address", "password", "token",
    "secret", "dsn", "database_url", "smtp_url", "webhook_url", "recipients",
    "authorization", "content_base64", "household", "employer",
})


MAX_VALUE = 300
PLAIN = (bool, int, float, type(None))
# A path segment after /ack/ or /c/: the signed token that is the link's whole credential.
LINK_TOKEN = re.compile(r"(/(?:ack|c)/)[^/\s?#\"']+")
HIDDEN_TOKEN = "***"  # as `redact` masks a value


def _cut(text: str) -> str:
    return text if len(text) <= MAX_VALUE else f"{text[:MAX_VALUE]}… ({len(text)} characters)"


def truncate(_logger, _method, event_dict: dict) -> dict:
    """Every value (the message too) cut to MAX_VALUE characters, saying how long it was; a large
    container becomes its first few items as text. Tracebacks are rendered after this, whole."""
    for key, value in list(event_dict.items()):
        if key in ("exc_info", "exception", "stack_info"):
            continue
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
            event_dict[key] = f"(a number of {value.bit_length()} bits)"  # str() of a huge int raises
        elif isinstance(value, PLAIN):
            continue
        elif isinstance(value, str):
            event_dict[key] = _cut(value)
        elif isinstance(value, (dict, list, tuple, set, frozenset)) and len(value) > 20:
            first = list(itertools.islice(value.items() if isinstance(value, dict) else value, 20))
            event_dict[key] = _cut(f"({len(value)} items) {first!r}")
        elif isinstance(value, (dict, list, tuple, set, frozenset)) and len(text := repr(value)) > MAX_VALUE:
            event_dict[key] = _cut(text)
    return event_dict


def hide_tokens_in(text: str) -> str:
    """`/ack/<token>` and `/c/<token>` with the token replaced, wherever they appear in the text."""
    return LINK_TOKEN.sub(rf"\1{HIDDEN_TOKEN}", text) if "/" in text else text


def hide_link_tokens(_logger, _method, event_dict: dict) -> dict:
    """Every string value (the message too) without a link's token: a path in a request log, an URL in an error."""
    for key, value in list(event_dict.items()):
        if isinstance(value, str):
            event_dict[key] = hide_tokens_in(value)
    return event_dict


class LinkTokenFilter(logging.Filter):
    """On uvicorn's access logger: the request line's path without a link's token, whatever handler
    (ours, uvicorn's own, a --log-config) writes the record afterwards."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(hide_tokens_in(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = hide_tokens_in(record.msg)
        return True


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
        hide_link_tokens,
        truncate,
    ]
    renderer = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        # Plain tracebacks: rich's formatter touches os.path, which the workflow sandbox forbids.
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback)
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, hide_link_tokens, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=_Stderr()),
        # Not cached: a cached logger keeps the processors of its first use, so a later configure (a
        # CLI command, a test capturing logs) would silently miss it. The saving is a dict lookup.
        cache_logger_on_first_use=False,
    )
    # The SDK's own stdlib logging (workflow.logger included) goes through the same renderer.
    handler = logging.StreamHandler(_Stderr())
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(processors=[
        structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact, hide_link_tokens, truncate, renderer,
    ], foreign_pre_chain=[structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


log = structlog.get_logger("crisisdesk")
