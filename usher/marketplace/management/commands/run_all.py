"""Serve everything `make run` needs: web server, Celery worker with beat, and the
ad-platform sandbox, as child processes that stop together.

With `--demo`, once the web server and the sandbox answer, the demo organizer's
campaigns are published on the sandbox and a simulated day of market played
(`usher.dashboard.demo`, first run only); then the demo's fresh credentials and links
are printed last, so they are the last thing on the screen rather than lost above the
children's start-up lines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.util import find_spec
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from usher.dashboard.demo import load_demo_campaigns
from usher.marketplace.demo import (
    DEMO_CLIENT_SLUG,
    ORGANIZERS,
    demo_banner,
    issue_demo_credentials,
)
from usher.marketplace.models import MarketplaceClient
from usher.marketplace.simulation import DriverError

POLL_INTERVAL_SECONDS = 0.5
# How long to wait for the web server before printing the banner anyway.
WEB_START_TIMEOUT_SECONDS = 30.0
DEMO_SANDBOX_TIMEOUT_SECONDS = 60.0


class Command(BaseCommand):
    help = "Run the web server, a Celery worker with beat, and the sandbox together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--sandbox-port", type=int, default=int(os.environ.get("SANDBOX_PORT", "8100"))
        )
        parser.add_argument(
            "--worker-loglevel",
            default="WARNING",
            help="The Celery worker's console log level (INFO shows every task).",
        )
        parser.add_argument(
            "--demo", action="store_true", help="Print the demo's credentials once up."
        )

    def handle(self, *args, **options) -> None:
        port, sandbox_port = options["port"], options["sandbox_port"]
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        # Every child (and the platform URLs they derive) talks to this sandbox.
        env = {**os.environ, "SANDBOX_URL": sandbox_url, "PORT": str(port)}
        python = sys.executable
        commands = {
            "web": [python, "manage.py", "runserver", f"127.0.0.1:{port}"],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "usher",
                "worker",
                "--beat",
                f"--loglevel={options['worker_loglevel']}",
                "--concurrency=2",
                # every queue: deliveries, the campaigns' and the audiences' job parts
                f"--queues={','.join(q.name for q in settings.CELERY_TASK_QUEUES)}",
            ],
        }
        if find_spec("usher.sandbox.__main__") is not None:
            commands["sandbox"] = [
                python,
                "-m",
                "usher.sandbox",
                "--port",
                str(sandbox_port),
                "--state-file",
                str(settings.VAR_DIR / "sandbox.json"),
            ]
        children = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
        stop = False

        def request_stop(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            if options["demo"]:
                self._print_demo_banner(port, sandbox_url)
            while not stop:
                exited = [name for name, child in children.items() if child.poll() is not None]
                if exited:
                    self.stderr.write(f"{', '.join(exited)} stopped; shutting down the rest.")
                    break
                time.sleep(POLL_INTERVAL_SECONDS)
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.terminate()
            for child in children.values():
                try:
                    child.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    child.kill()

    def _print_demo_banner(self, port: int, sandbox_url: str) -> None:
        _wait_for_port(port, WEB_START_TIMEOUT_SECONDS)
        base_url = f"http://127.0.0.1:{port}"
        client = MarketplaceClient.objects.get(slug=DEMO_CLIENT_SLUG)
        self._load_demo_campaigns(client, sandbox_url)
        creds = issue_demo_credentials(client, base_url)
        self.stdout.write(demo_banner(creds, base_url, sandbox_url) + "\nStop with Ctrl-C.\n")

    def _load_demo_campaigns(self, client: MarketplaceClient, sandbox_url: str) -> None:
        """The organizer panel's demo (a budget, its campaigns, a few days of market) once
        the sandbox answers; before the credentials, which it would otherwise outdate."""
        sandbox_port = urlsplit(sandbox_url).port
        if sandbox_port is None or not _wait_for_port(sandbox_port, WEB_START_TIMEOUT_SECONDS):
            self.stderr.write("The sandbox did not start: the demo has no campaigns.")
            return
        organizer = client.organizers.get(external_id=ORGANIZERS[0][0])
        with (
            httpx.Client(base_url=sandbox_url, timeout=DEMO_SANDBOX_TIMEOUT_SECONDS) as http,
            _warnings_only(),
        ):
            try:
                load_demo_campaigns(client, organizer, http, progress=self.stdout.write)
            except (DriverError, httpx.HTTPError) as exc:
                self.stderr.write(f"The demo's market stopped: {exc}")


@contextlib.contextmanager
def _warnings_only() -> Iterator[None]:
    """This process's INFO logs off while it plays the demo's day: every job and task it
    runs inline logs a line (thousands for a day), which would bury the progress lines
    and the banner. Warnings and errors still show; the servers are other processes."""
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def _wait_for_port(port: int, timeout_seconds: float) -> bool:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(POLL_INTERVAL_SECONDS)
    return False
