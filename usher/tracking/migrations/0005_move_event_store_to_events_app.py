"""The event store now belongs to the events app: forget its models here without
dropping their tables (events/0001 took them over)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('conversions', '0003_delivery_tracking_event_in_events_app'),
        ('events', '0001_move_event_store_from_tracking'),
        ('tracking', '0004_trackingcode_refresh_token'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='visitortouch',
                    name='client',
                ),
                migrations.RemoveField(
                    model_name='visitortouch',
                    name='marketplace_event',
                ),
                migrations.DeleteModel(
                    name='TrackingEvent',
                ),
                migrations.DeleteModel(
                    name='VisitorTouch',
                ),
            ],
            database_operations=[],
        ),
    ]
