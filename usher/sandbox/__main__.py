"""`python -m usher.sandbox --host 127.0.0.1 --port 8100 [--state-file PATH]`.

Runs the sandbox on Werkzeug's threaded server. With --state-file the state is
loaded at start (if the file exists), saved every few seconds while it changes, and
saved once more on exit (Ctrl-C or SIGTERM), so a restart keeps accounts, campaign
objects, audiences, events and the request log.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from werkzeug.serving import run_simple

from usher.sandbox.app import create_app
from usher.sandbox.state import SandboxState

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8100
DEFAULT_SAVE_INTERVAL_SECONDS = 2.0

log = logging.getLogger("usher.sandbox")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m usher.sandbox",
        description="Local stand-in for the Meta, Google Ads, TikTok, GA4 and Google OAuth APIs.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--state-file", type=Path, default=None, help="JSON file to load/save")
    parser.add_argument(
        "--save-interval-seconds", type=float, default=DEFAULT_SAVE_INTERVAL_SECONDS
    )
    return parser.parse_args(argv)


def load_state(path: Path | None) -> SandboxState:
    if path is not None and path.exists():
        log.info("loading sandbox state from %s", path)
        return SandboxState.load(path)
    return SandboxState()


def start_autosave(state: SandboxState, path: Path, interval: float) -> threading.Event:
    """Save in the background while the state changes; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            if state.dirty:
                state.save(path)

    threading.Thread(target=loop, name="sandbox-autosave", daemon=True).start()
    return stop


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Werkzeug's access log prints whole URLs, and GA4 carries its api_secret in the query
    # string: what was received is inspected through /_sandbox/requests instead.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    args = parse_args(argv)
    state = load_state(args.state_file)
    stop = None
    if args.state_file is not None:
        stop = start_autosave(state, args.state_file, args.save_interval_seconds)

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # let the finally block below save the state

    signal.signal(signal.SIGTERM, terminate)
    try:
        run_simple(args.host, args.port, create_app(state), threaded=True, use_reloader=False)
    except KeyboardInterrupt:
        pass
    finally:
        if stop is not None:
            stop.set()
            state.save(args.state_file)
            log.info("sandbox state saved to %s", args.state_file)


if __name__ == "__main__":
    main()
