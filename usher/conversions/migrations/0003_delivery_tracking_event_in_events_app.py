"""Deliveries point at the event store in its new app; the foreign key's table and
constraint are unchanged, so this changes the migration state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('conversions', '0002_alter_conversiondelivery_organizer'),
        ('events', '0001_move_event_store_from_tracking'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='conversiondelivery',
                    name='tracking_event',
                    field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='deliveries', to='events.trackingevent'),
                ),
            ],
            database_operations=[],
        ),
    ]
