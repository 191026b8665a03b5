"""The event store's tables take this app's names, and its content types (with their
permissions and admin history) follow the models instead of being recreated.

Renaming keeps every row, index and foreign key (PostgreSQL and SQLite both carry
references along with a table rename).
"""

from django.db import migrations

MOVED_MODELS = ("trackingevent", "visitortouch")


def relabel_content_types(old_label: str, new_label: str):
    def relabel(apps, schema_editor) -> None:
        content_type = apps.get_model("contenttypes", "ContentType")
        db = schema_editor.connection.alias
        for model in MOVED_MODELS:
            if content_type.objects.using(db).filter(app_label=new_label, model=model).exists():
                continue  # already created for the new app: keep it, leave the old one
            content_type.objects.using(db).filter(app_label=old_label, model=model).update(
                app_label=new_label
            )

    return relabel


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("events", "0001_move_event_store_from_tracking"),
        ("tracking", "0005_move_event_store_to_events_app"),
    ]

    operations = [
        migrations.AlterModelTable(name="trackingevent", table=None),
        migrations.AlterModelTable(name="visitortouch", table=None),
        migrations.RunPython(
            relabel_content_types("tracking", "events"),
            relabel_content_types("events", "tracking"),
        ),
    ]
