"""Every management command given a bad argument exits 2 with argparse's message, never a
traceback (2 is a usage error, as the README says of every command).

The arguments come from each command's own parser: an option is sent values its ``type`` or
``choices`` refuses, a flag a value, a required positional is left out, an unknown option is
added. The demo and the sandbox start servers, so only their argument parsing is run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli import run_from_command_line
from tests.test_fuzz_views import hostile

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
RUN = [
    "sync_inventory",
    "export_inventory",
    "verify_audit_log",
    "verify_export",
    "verify_report",
    "write_audit_digest",
]
PARSE_ONLY = ["demo", "sandbox"]
ROOT = Path(__file__).resolve().parent.parent


def _parser(name: str) -> argparse.ArgumentParser:
    command = load_command_class(get_commands()[name], name)
    command._called_from_command_line = True  # argparse errors exit 2 instead of raising
    return command.create_parser("manage.py", name)


def _own_actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    """The command's own arguments (not Django's --settings, --verbosity and the like)."""
    common = {action.dest for action in _parser("check")._actions}
    return [action for action in parser._actions if action.dest not in common]


def _refused(action: argparse.Action, value: str) -> bool:
    if action.choices is not None:
        return value not in action.choices
    try:
        (action.type or str)(value)
    except (argparse.ArgumentTypeError, TypeError, ValueError):
        return True
    return False


@st.composite
def bad_arguments(draw: st.DrawFn, name: str) -> list[str]:
    """One refused argument (or an unknown option), after some others (also refused)."""
    parser = _parser(name)
    actions = [a for a in _own_actions(parser) if a.option_strings]
    mistakes = []
    for action in draw(st.lists(st.sampled_from(actions), max_size=3)) if actions else []:
        option = action.option_strings[-1]
        if action.nargs == 0:  # a flag given a value
            mistakes.append(f"{option}={draw(hostile)}")
        else:
            value = draw(hostile.filter(lambda text, a=action: _refused(a, text)))
            mistakes += [option, value]
    if not mistakes or draw(st.booleans()):
        mistakes.append(draw(st.sampled_from(["--bogus", "-x", "--account=", "stray"])))
    return mistakes  # a required positional (verify_export's file) is missing too


def _check(status: int, err: str, argv: list[str]) -> None:
    assert status == 2, (argv, err)
    assert "error" in err.lower(), (argv, err)
    assert "Traceback" not in err, (argv, err)


@pytest.mark.django_db
@pytest.mark.parametrize("name", RUN)
def test_it_exits_2_for_bad_arguments(name: str) -> None:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(argv=bad_arguments(name))
    def fuzz(argv: list[str]) -> None:
        status, _out, err = run_from_command_line(name, *argv)
        _check(status, err, argv)

    fuzz()


@pytest.mark.parametrize("name", PARSE_ONLY)
def test_it_refuses_bad_arguments_of_the_server_commands(name: str, capsys) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(argv=bad_arguments(name))
    def fuzz(argv: list[str]) -> None:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exited:
            _parser(name).parse_args(argv)
        _check(exited.value.code, capsys.readouterr().err, argv)

    fuzz()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sync_inventory", "--account", "\u00b9\u00b2"], "exactly 12 digits"),
        (["sync_inventory", "--concurrency", "9" * 30], "Enter a number from 1 to 64"),
        (["write_audit_digest", "--digest-dir", "digests\x1b[2J"], "control character"),
        (["verify_export"], "the following arguments are required: file"),
    ],
)
def test_it_says_why_at_a_real_command_line(argv: list[str], message: str) -> None:
    finished = subprocess.run(
        [sys.executable, "manage.py", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DEBUG": "true"},
    )
    assert finished.returncode == 2
    assert message in finished.stderr
    assert "Traceback" not in finished.stderr
