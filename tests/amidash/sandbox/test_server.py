"""`manage.py sandbox`: its endpoint, its control endpoint, its arguments and how it stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
import pytest

from tests.amidash.sandbox.process import REPOSITORY, SandboxProcess


def control(endpoint: str, method: str, path: str, body: bytes | None = None):
    """(status, JSON answer) of one control request."""
    request = urllib.request.Request(f"{endpoint}/_sandbox/{path}", data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def run_command(*arguments: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBUG": "true"}
    return subprocess.run(
        [sys.executable, "manage.py", "sandbox", *arguments],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_prints_an_endpoint_that_boto3_reaches_through_aws_endpoint_url(server_aws):
    assert server_aws.endpoint_url.startswith("http://127.0.0.1:")
    assert os.environ["AWS_ENDPOINT_URL"] == server_aws.endpoint_url

    ec2 = boto3.client("ec2", region_name="us-east-1")  # standard configuration only

    assert ec2.describe_images(Owners=["self"])["Images"] == []
    assert control(server_aws.endpoint_url, "GET", "health") == (200, {"ok": True})


def test_it_answers_bad_json_with_400_and_a_clear_message(sandbox_server):
    status, answer = control(sandbox_server, "POST", "faults", b"{not json")

    assert status == 400
    assert answer["error"].startswith("the body is not valid JSON")
    assert control(sandbox_server, "GET", "faults") == (200, {"faults": []})


def test_it_answers_an_unknown_fault_with_400(sandbox_server):
    status, answer = control(sandbox_server, "POST", "faults", b'{"kind": "meteor"}')

    assert status == 400
    assert "unknown fault 'meteor'" in answer["error"]


def test_it_answers_an_unknown_control_operation_with_404(sandbox_server):
    status, answer = control(sandbox_server, "GET", "teleport")

    assert status == 404
    assert answer == {"error": "no control operation /_sandbox/teleport"}


def test_it_refuses_a_non_numeric_clock_advance(sandbox_server):
    status, answer = control(sandbox_server, "POST", "clock", b'{"advance": "soon"}')

    assert status == 400
    assert "advance" in answer["error"]


def test_it_moves_its_clock_forward_and_back_to_now_on_reset(server_aws):
    before = server_aws.now()
    later = server_aws.advance_clock(86400)

    assert (later - before).total_seconds() >= 86400
    server_aws.reset()
    assert (server_aws.now() - before).total_seconds() < 86400


def test_it_serves_the_estate_summary_with_the_accounts_to_register(server_aws):
    assert server_aws.estate() is None
    summary = server_aws.load_estate("demo", seed=3)

    status, answer = control(server_aws.endpoint_url, "GET", "estate")
    assert status == 200
    assert answer["estate"]["counts"] == summary["counts"]
    prod = next(a for a in answer["estate"]["accounts"] if a["name"] == "prod")
    assert prod["role_arn"] == "arn:aws:iam::210987654321:role/AmidashReadOnly"
    assert prod["external_id"]
    listed = server_aws.client("ec2", account_id="210987654321").describe_images(
        Owners=["self"], IncludeDeprecated=True, IncludeDisabled=True
    )["Images"]
    assert len(listed) == summary["images_by_account_region"]["210987654321"]["us-east-1"]


def test_it_refuses_an_unknown_estate(sandbox_server):
    status, answer = control(sandbox_server, "POST", "estate", b'{"name": "galaxy"}')

    assert status == 400
    assert "unknown estate 'galaxy'" in answer["error"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--estate", "galaxy"], "invalid choice: 'galaxy'"),
        (["--port", "70000"], "argument --port: Enter a number from 0 to 65535."),
        (["--port", "many"], "argument --port: Enter a whole number in digits 0-9."),
    ],
)
def test_it_rejects_bad_arguments_with_a_usage_error(arguments, message):
    finished = run_command(*arguments)

    assert finished.returncode == 2
    assert message in finished.stderr
    assert "Traceback" not in finished.stderr


def test_it_stops_cleanly_on_sigterm():
    server = SandboxProcess("--port", "0", "--estate", "empty")
    assert control(server.endpoint, "GET", "health") == (200, {"ok": True})

    assert server.stop() == 0
    assert "Sandbox stopped." in "".join(server.output)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{server.endpoint}/_sandbox/health", timeout=5)
