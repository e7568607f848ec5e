"""People in the directory, added as an admin adds them: `crisis users add`."""

from typer.testing import CliRunner


def add_user(dsn: str, person: str, *flags: str) -> str:
    """`crisis users add PERSON FLAGS…`; the token is the last word it prints."""
    from starter.cli import app as cli

    result = CliRunner().invoke(cli, ["users", "add", person, *flags], env={"DATABASE_URL": dsn, "CRISIS_DEBUG": ""})
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.output.split()[-1]
