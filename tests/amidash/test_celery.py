"""A real Celery worker over the demo's filesystem broker: no eager mode, no Redis."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_a_task_runs_through_a_real_worker_over_the_filesystem_broker(tmp_path: Path, settings):
    env = {
        **os.environ,
        "DATABASE_URL": settings.DATABASE_URL,
        "CELERY_BROKER_URL": "filesystem://localhost/",
        "CELERY_RESULT_BACKEND": f"file://{tmp_path / 'results'}",
        "AMIDASH_DATA_DIR": str(tmp_path),
        "AMIDASH_BROKER_DIR": str(tmp_path / "broker"),
        "SECRET_KEY": "test",
    }
    (tmp_path / "results").mkdir()
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "amidash",
            "worker",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        send = subprocess.run(
            [
                sys.executable,
                "-c",
                "from amidash.celery import app; from amidash.tasks import ping;"
                "print(ping.delay('hello from a test').get(timeout=60))",
            ],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert send.returncode == 0, send.stderr
        assert send.stdout.strip() == "hello from a test"
        assert list((tmp_path / "broker" / "queue").iterdir()) == []  # consumed, not left behind
        # The exchange bindings live with the broker, not in the directory the worker runs in.
        assert list((tmp_path / "broker" / "control").glob("*.exchange"))
        assert not (Path(settings.BASE_DIR) / "control").exists()
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert "amidash.tasks.ping" in output
    assert "succeeded" in output


def test_the_filesystem_broker_polls_as_often_as_configured(tmp_path: Path, settings):
    """kombu's filesystem transport waits a second between looks unless told otherwise: each
    hop of the demo's sync (run, Regions) paid it."""
    env = {**os.environ, "AMIDASH_DATA_DIR": str(tmp_path), "SECRET_KEY": "test"}
    env.pop("CELERY_BROKER_URL", None)
    read = (
        "import django; django.setup(); from amidash.celery import app;"
        "print(app.connection().transport_options['polling_interval'])"
    )

    def polling(**extra: str) -> str:
        answer = subprocess.run(
            [sys.executable, "-c", read],
            cwd=settings.BASE_DIR,
            env={**env, "DJANGO_SETTINGS_MODULE": "amidash.settings", **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert answer.returncode == 0, answer.stderr
        return answer.stdout.strip()

    assert polling() == "0.1"
    assert polling(AMIDASH_BROKER_POLLING_SECONDS="0.5") == "0.5"
