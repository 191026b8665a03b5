"""The marketplace staff's dashboards, served inside the admin at /admin/staff/."""
