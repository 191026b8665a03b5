"""The record of scheduled jobs: one row per run, visible to staff in the admin."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from usher.marketplace.models import MarketplaceClient


class JobOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (another run held the lock)"
    LOST = "lost", "Lost (its worker stopped before it finished)"


class JobRun(models.Model):
    """One run of a periodic job, or of one of its per-budget/per-audience parts.

    `key` names the part (`budget:12`, `audience:7`; empty for the whole job). At most
    one run per (job, key) is `running` at a time — a partial unique index, so the lock
    holds across processes and machines without any other server — and a run whose
    lease has passed is taken to be lost (its worker died) so the next one may start.
    """

    job = models.CharField(max_length=100)
    # The marketplace a per-budget/per-audience part works for (staff see their own);
    # NULL for a run over every marketplace (superusers only).
    client = models.ForeignKey(
        MarketplaceClient, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=10, choices=JobOutcome.choices)
    started_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["job", "-started_at"], name="ops_jobrun_job_started")]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "key"],
                condition=Q(outcome="running"),
                name="ops_jobrun_one_running_per_key",
            )
        ]

    def __str__(self) -> str:
        part = f" [{self.key}]" if self.key else ""
        return f"{self.job}{part} {self.outcome} at {self.started_at:%Y-%m-%d %H:%M:%S}"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
