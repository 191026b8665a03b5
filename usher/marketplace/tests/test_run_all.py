"""`manage.py run_all --demo` plays the demo's day quietly: its INFO lines (a line per
inline job and task) would bury the progress and the banner; warnings still show."""

from __future__ import annotations

import logging

from usher.marketplace.management.commands.run_all import _warnings_only


def test_the_demos_day_logs_warnings_only_and_logging_comes_back_after(caplog):
    log = logging.getLogger("usher.campaigns")
    caplog.set_level(logging.INFO)
    with _warnings_only():
        log.info("a job succeeded")
        log.warning("a platform refused")
    log.info("after the demo")
    assert [r.getMessage() for r in caplog.records] == ["a platform refused", "after the demo"]
