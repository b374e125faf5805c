"""Run a management command as ``manage.py`` runs it, in this process: an argparse error or a
CommandError ends in its exit status and message, as a user at a shell sees them.

``call_command`` turns argparse's errors into exceptions instead, and ``run_from_argv`` closes
the database connections a test is still using.
"""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout

from django.core.management import CommandError, get_commands, load_command_class


def run_from_command_line(name: str, *argv: str) -> tuple[int, str, str]:
    """``manage.py NAME ARGV...``: its exit status, standard output and standard error."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = _run(name, list(argv))
    return status, out.getvalue(), err.getvalue()


def _run(name: str, argv: list[str]) -> int:
    command = load_command_class(get_commands()[name], name)
    command._called_from_command_line = True
    parser = command.create_parser("manage.py", name)
    try:
        options = vars(parser.parse_args(argv))
        command.execute(*options.pop("args", ()), **options)
    except CommandError as error:
        command.stderr.write(f"CommandError: {error}")
        return error.returncode
    except SystemExit as exit:
        return exit.code if isinstance(exit.code, int) else int(exit.code is not None)
    return 0
