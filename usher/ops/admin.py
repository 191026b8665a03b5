from django.contrib import admin

from usher.lib.admin import ReadOnlyScopedAdmin
from usher.ops.models import JobRun


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyScopedAdmin):
    """Every scheduled job's runs: staff see their marketplace's parts, superusers all."""

    list_display = ("job", "key", "outcome", "started_at", "duration", "counts", "short_error")
    list_filter = ("outcome", "job")
    search_fields = ("job", "key", "error")
    date_hierarchy = "started_at"

    @admin.display(description="duration (s)")
    def duration(self, run: JobRun) -> str:
        seconds = run.duration_seconds
        return "—" if seconds is None else f"{seconds:.1f}"

    @admin.display(description="error")
    def short_error(self, run: JobRun) -> str:
        return run.error[:120]
