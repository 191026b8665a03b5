"""Serve everything `make run` needs: web server, Celery worker with beat, and the
ad-platform sandbox, as child processes that stop together."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from importlib.util import find_spec

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

POLL_INTERVAL_SECONDS = 0.5


class Command(BaseCommand):
    help = "Run the web server, a Celery worker with beat, and the sandbox together."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--sandbox-port", default="8100")

    def handle(self, *args, **options) -> None:
        python = sys.executable
        commands = {
            "web": [python, "manage.py", "runserver", options["addr"]],
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "usher",
                "worker",
                "--beat",
                "--loglevel=INFO",
                "--concurrency=2",
            ],
        }
        if find_spec("usher.sandbox.__main__") is not None:
            commands["sandbox"] = [
                python,
                "-m",
                "usher.sandbox",
                "--port",
                options["sandbox_port"],
                "--state-file",
                str(settings.VAR_DIR / "sandbox.json"),
            ]
        children = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        stop = False

        def request_stop(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
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
