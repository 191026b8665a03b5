"""Usher's settings with the benchmarks' URLs (the trivial baseline view added)."""

from usher.settings import *  # noqa: F403

ROOT_URLCONF = "baseline_urls"
