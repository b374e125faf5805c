"""`manage.py sandbox`: serve the simulated AWS on 127.0.0.1 until interrupted."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from amidash.fields import IntegerField, argument_type

ESTATES = ("demo", "empty", "large")
PORT_ARGUMENT = argument_type(IntegerField(min_value=0, max_value=65535), "port")
SEED_ARGUMENT = argument_type(IntegerField(min_value=0), "seed")


class Command(BaseCommand):
    help = (
        "Serve the simulated AWS (moto plus amidash's extensions, faults and a generated estate) "
        "on 127.0.0.1 until SIGINT or SIGTERM. Point clients at it with AWS_ENDPOINT_URL."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--port",
            type=PORT_ARGUMENT,
            default=5055,
            help="TCP port; 0 picks a free one (printed)",
        )
        parser.add_argument(
            "--seed", type=SEED_ARGUMENT, default=42, help="seed of the estate and faults"
        )
        parser.add_argument("--estate", default="demo", choices=ESTATES, help="estate to load")
        parser.add_argument(
            "--epoch",
            type=parse_epoch,
            help="ISO 8601 time the estate's times are relative to (default: now); a fixed "
            "epoch gives the same times on every start",
        )
        parser.add_argument(
            "--outside-changes-at",
            type=parse_epoch,
            help="replay the demo's changes made outside amidash, first made at this ISO 8601 "
            "time (their CloudTrail events keep it)",
        )
        parser.add_argument(
            "--verbose-requests", action="store_true", help="log every request to stderr"
        )

    def handle(self, *args: Any, port: int, seed: int, estate: str, **options: Any) -> None:
        prepare_environment()
        from amidash.sandbox import faults, runtime
        from amidash.sandbox.server import make_sandbox_server

        if not options["verbose_requests"]:
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        started = time.monotonic()
        try:
            server = make_sandbox_server("127.0.0.1", port)
        except OSError as error:
            raise CommandError(f"cannot listen on 127.0.0.1:{port}: {error}") from error
        faults.set_default_seed(seed)
        stop_on_signals()  # also while the estate is still being generated
        try:
            summary = runtime.load_estate_state(estate, seed, options["epoch"])
            if options["outside_changes_at"]:
                try:
                    runtime.make_outside_changes_state(options["outside_changes_at"])
                except ValueError as error:
                    raise CommandError(f"--outside-changes-at: {error}") from error
            endpoint = f"http://127.0.0.1:{server.server_port}"
            self.stdout.write(
                f"Sandbox AWS ready at {endpoint} (estate {estate!r}, seed {seed}: "
                f"{summary['counts']['images']} images in {len(summary['accounts'])} accounts, "
                f"{time.monotonic() - started:.1f} s)"
            )
            self.stdout.write(f"Use it with: AWS_ENDPOINT_URL={endpoint}  (Ctrl-C stops it)")
            self.stdout.flush()
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        self.stdout.write("Sandbox stopped.")


def parse_epoch(text: str) -> datetime:
    """An ISO 8601 time with a UTC offset (naive times are read as UTC)."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from error
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def prepare_environment() -> None:
    """Settings the sandbox process needs before moto creates its backends."""
    from amidash.sandbox.runtime import REMOVED_ENVIRONMENT

    for name in REMOVED_ENVIRONMENT:
        os.environ.pop(name, None)
    os.environ["MOTO_EC2_LOAD_DEFAULT_AMIS"] = "false"


def stop_on_signals() -> None:
    """SIGINT and SIGTERM interrupt the main thread, which then stops cleanly (exit code 0)."""

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
