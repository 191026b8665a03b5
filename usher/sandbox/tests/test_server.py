"""The sandbox as its own process: `python -m usher.sandbox` on Werkzeug's threaded server."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from usher.sandbox.tests.conftest import META_PIXEL, TOKEN

STARTUP_TIMEOUT_SECONDS = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(base_url: str, process: subprocess.Popen) -> None:
    """Until the sandbox answers its health check; fails the test (killing the server)
    if it exits or does not answer in time."""
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while True:
        try:
            httpx.get(f"{base_url}/_sandbox/health", timeout=0.5)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail("the sandbox server did not start")
            time.sleep(0.05)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen, Path]]:
    port = free_port()
    state_file = tmp_path / "sandbox-state.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "usher.sandbox",
            "--port",
            str(port),
            "--state-file",
            str(state_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    wait_until_serving(base_url, process)
    yield base_url, process, state_file
    if process.poll() is None:
        process.kill()
        process.wait()


def capi_body() -> dict:
    event = {
        "event_name": "Lead",
        "event_time": int(time.time()) - 10,
        "event_id": "lead-1",
        "action_source": "system_generated",
        "user_data": {"external_id": "visitor-1"},
    }
    return {"data": [event]}


def test_the_server_drops_connections_times_out_slow_calls_and_saves_state_on_sigterm(
    server: tuple[str, subprocess.Popen, Path],
) -> None:
    base_url, process, state_file = server
    url = f"/meta/v25.0/{META_PIXEL}/events"
    with httpx.Client(base_url=base_url, params={"access_token": TOKEN}, timeout=5) as client:
        client.post("/_sandbox/faults", json={"platform": "meta", "mode": "drop"})
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(url, json=capi_body())
        client.post(
            "/_sandbox/faults", json={"platform": "meta", "mode": "slow", "delay_seconds": 1.0}
        )
        with pytest.raises(httpx.ReadTimeout):
            client.post(url, json=capi_body(), timeout=0.2)
        assert client.post(url, json=capi_body()).json()["events_received"] == 1
        deadline = time.monotonic() + 5
        while client.get("/_sandbox/requests", params={"platform": "meta"}).json()["count"] < 3:
            assert time.monotonic() < deadline, "the slow call was never answered"
            time.sleep(0.05)  # the server finishes the slow call after the client gave up
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    saved = json.loads(state_file.read_text())
    faults = [entry["fault"] for entry in saved["requests"] if entry["platform"] == "meta"]
    assert faults == ["drop", None, "slow"]  # logged when answered; the slow one came last
    assert saved["events"][-1]["event_id"] == "lead-1"


def test_under_gunicorn_a_dropped_call_is_dropped_not_answered() -> None:
    """The benchmarks serve the sandbox with gunicorn (threads, keep-alive): a drop
    fault must reach the client as a dropped connection there too, not as gunicorn's
    500 for an application error; the next call is answered."""
    port = free_port()
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "usher.sandbox.app:create_app()"),
            *("-b", f"127.0.0.1:{port}", "-k", "gthread", "--threads", "2"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base_url, process)
        url = f"/meta/v25.0/{META_PIXEL}/events"
        with httpx.Client(base_url=base_url, params={"access_token": TOKEN}, timeout=5) as client:
            client.post("/_sandbox/faults", json={"platform": "meta", "mode": "drop"})
            with pytest.raises(httpx.RemoteProtocolError):
                client.post(url, json=capi_body())
            assert client.post(url, json=capi_body()).json()["events_received"] == 1
    finally:
        process.kill()
        process.wait()
