"""Usher: per-organizer ad tracking, conversions, audiences and campaigns."""

from usher.celery import app as celery_app

__all__ = ["celery_app"]
