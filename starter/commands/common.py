"""What every `crisis` command shares: settings from the environment (and the running `crisis dev`),
JSON input, and how a failure becomes one line on stderr with an exit code (starter.cli's docstring
lists the codes). Commands import from here, never from `starter.cli`, which imports them.
"""

import asyncio
import inspect
import os
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console

from activities.credentials import CredentialRefused
from activities.holds import UnderHold
from crisisdesk.codec import PayloadDecryptionError
from crisisdesk.models.actions import ActionRefused, describe_validation_error
from crisisdesk.playbooks import PlaybookError
from crisisdesk.settings import Settings
from starter.client import (
    ActionInvalid, ActionRejected, CaseNotFound, CaseUnavailable, CrisisClientError, IntakeInvalid,
    TemporalUnavailable, UnknownAction,
)

T = TypeVar("T")
err_console = Console(stderr=True, soft_wrap=True)
JSON_OPTION = typer.Option(False, "--json", help="machine-readable JSON on stdout")


class BadInput(Exception):
    pass


class KeyMissing(Exception):
    """The case data is encrypted and this command has no key to read it."""


KEY_MISSING = ("the case data is encrypted (payload encoding binary/encrypted) and CRISIS_ENCRYPTION_KEY is not set: "
               "set it to the key the worker and `crisis dev` use")


def parse_json(raw: str, what: str) -> Any:
    """JSON within the edges' limits (starter/bodies.py: depth, keys, numbers), or BadInput naming `what`."""
    from starter.bodies import BodyRefused, read_json

    try:
        return read_json(raw)
    except BodyRefused as refused:
        raise BadInput(f"{what}: {refused}" if refused.limit else f"{what} is {refused}") from None


def load_settings() -> Settings:
    """Settings from the environment; what is unset comes from the running `crisis dev` (.data/stack.json)."""
    from starter.discovery import apply_stack

    apply_stack()
    try:
        return Settings()
    except ValidationError as err:
        raise BadInput(f"environment: {describe_validation_error(err)}") from None


EXIT_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (BadInput, 2), (KeyMissing, 2), (PayloadDecryptionError, 2), (ActionInvalid, 2), (IntakeInvalid, 2), (UnknownAction, 2), (PlaybookError, 2), (ActionRefused, 2),
    (CaseNotFound, 3), (LookupError, 3), (ActionRejected, 4), (CredentialRefused, 4), (UnderHold, 4),
    (TemporalUnavailable, 5), (CaseUnavailable, 5), (CrisisClientError, 1),
)


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def run(body: Awaitable[T] | Callable[[], T]) -> T:
    """Run a command body; every failure becomes one line on stderr and an exit code."""
    try:
        return asyncio.run(body) if inspect.isawaitable(body) else body()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as err:
        if os.environ.get("CRISIS_DEBUG"):
            raise
        if "binary/encrypted" in str(err):  # the SDK's "Unknown payload encoding": no codec, no key
            fail(KEY_MISSING, 2)
        for kind, code in EXIT_CODES:
            if isinstance(err, kind):
                fail(str(err), code)
        if "invalid search attribute" in str(err):  # a Temporal server nobody set up for crisisdesk
            fail(f"Temporal does not know crisisdesk's search attributes ({err}); `crisis dev` and the compose "
                 "stack register them, elsewhere see docs/contract.md", 5)
        if _is_postgres_error(err):
            fail(f"PostgreSQL unavailable: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''} "
                 "(check DATABASE_URL, or run `crisis dev`)", 5)
        fail(f"unexpected {type(err).__name__}: {err} (CRISIS_DEBUG=1 shows the traceback)")


def _is_postgres_error(err: BaseException) -> bool:
    return type(err).__module__.startswith("asyncpg") or isinstance(err, (ConnectionError, OSError))


async def with_pool(settings: Settings, use: Callable[[Any], Awaitable[T]]) -> T:
    from activities.db import create_pool

    pool = await create_pool(settings.dsn())
    try:
        return await use(pool)
    finally:
        await pool.close()
