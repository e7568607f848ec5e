"""`crisis backup` and `crisis restore`: the embedded stack into one file while it runs, and back into a
new data directory (activities/backup.py and starter/restore.py say how, and what is refused)."""

import asyncio
import os
from pathlib import Path

import typer

from starter.discovery import STACK_FILE_ENV, read_stack, stack_file
from starter.commands.common import fail, load_settings, run


def backup(out: Path = typer.Option(..., "--out", help="the backup file to write (must not exist yet)"),
           data_dir: Path | None = typer.Option(None, "--data-dir", help="the running stack's data directory "
                                                "(default: the one .data/stack.json or CRISIS_STACK_FILE names)")) -> None:
    """Back up the running `crisis dev`: Temporal, PostgreSQL, evidence, reports and its key file."""
    from activities.backup import NoStackToBackUp, StackLayout, key_id, take_backup

    if out.exists():
        fail(f"--out {out} already exists: choose a new file name", 2)
    if data_dir is not None:
        os.environ[STACK_FILE_ENV] = str(stack_file(data_dir.expanduser().resolve()))
    where = os.environ.get(STACK_FILE_ENV) or str(stack_file())

    def body():
        settings = load_settings()  # reads the stack file: its key when the stack has its own
        try:
            layout = StackLayout.from_stack(read_stack(Path(where)), where)
        except NoStackToBackUp as err:
            fail(str(err), 5)
        return asyncio.run(take_backup(layout, out, key_id(settings)))

    receipt = run(body)
    print(f"wrote {receipt.file}: {receipt.bytes} bytes, {receipt.members} members, {receipt.seconds} s "
          "(it holds the stack's key when the stack has its own: keep it as private as the key)")


def restore(file: Path = typer.Argument(..., help="a file `crisis backup` wrote"),
            data_dir: Path = typer.Option(..., "--data-dir", help="a new or empty directory to restore into")) -> None:
    """Restore a backup into a new data directory; then `crisis dev --data-dir DIR` starts on it."""
    from activities.backup_format import BackupInvalid
    from starter.restore import restore as restore_into

    def body():
        try:  # the key this restore must match: CRISIS_ENCRYPTION_KEY when set, else the backup's own key file
            return restore_into(file, data_dir, os.environ.get("CRISIS_ENCRYPTION_KEY"))
        except BackupInvalid as err:
            fail(str(err), 2)

    done = run(body)
    print(f"restored {done.members} members into {done.data_dir}: start it with `crisis dev --data-dir {done.data_dir}`")
