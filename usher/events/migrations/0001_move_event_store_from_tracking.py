"""The event store moves here from the tracking app, keeping its tables and rows.

State only: the models are declared on the tables `tracking` created (no SQL runs);
`0002_rename_event_store_tables` then gives the tables this app's names.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('tracking', '0004_trackingcode_refresh_token'),
        ('marketplace', '0006_marketplaceclient_allow_organizer_tag_managers'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='TrackingEvent',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('fbc', models.CharField(blank=True, max_length=500)),
                        ('gclid', models.CharField(blank=True, max_length=200)),
                        ('gbraid', models.CharField(blank=True, max_length=200)),
                        ('wbraid', models.CharField(blank=True, max_length=200)),
                        ('ttclid', models.CharField(blank=True, max_length=200)),
                        ('utm_source', models.CharField(blank=True, max_length=200)),
                        ('utm_medium', models.CharField(blank=True, max_length=200)),
                        ('utm_campaign', models.CharField(blank=True, max_length=200)),
                        ('utm_content', models.CharField(blank=True, max_length=200)),
                        ('utm_term', models.CharField(blank=True, max_length=200)),
                        ('event_id', models.CharField(max_length=100)),
                        ('name', models.CharField(choices=[('page_view', 'Page view'), ('view_item', 'View item'), ('add_to_cart', 'Add to cart'), ('begin_checkout', 'Begin checkout'), ('purchase', 'Purchase')], max_length=20)),
                        ('occurred_at', models.DateTimeField()),
                        ('received_at', models.DateTimeField(auto_now_add=True)),
                        ('visitor_id', models.CharField(blank=True, max_length=64)),
                        ('page_url', models.URLField(blank=True, max_length=2000)),
                        ('ip_address', models.GenericIPAddressField(blank=True, null=True)),
                        ('user_agent', models.CharField(blank=True, max_length=500)),
                        ('network_data_purged_at', models.DateTimeField(blank=True, null=True)),
                        ('fanned_out_at', models.DateTimeField(blank=True, null=True)),
                        ('value', models.DecimalField(blank=True, decimal_places=2, max_digits=12, null=True)),
                        ('currency', models.CharField(blank=True, max_length=3)),
                        ('content_ids', models.JSONField(blank=True, default=list)),
                        ('num_items', models.PositiveIntegerField(blank=True, null=True)),
                        ('order_external_id', models.CharField(blank=True, max_length=100)),
                        ('fbp', models.CharField(blank=True, max_length=200)),
                        ('ttp', models.CharField(blank=True, max_length=200)),
                        ('ga_client_id', models.CharField(blank=True, max_length=100)),
                        ('consent', models.JSONField(blank=True, default=dict)),
                        ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='marketplace.marketplaceclient')),
                        ('marketplace_event', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='tracking_events', to='marketplace.marketplaceevent')),
                        ('organizer', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='tracking_events', to='marketplace.marketplaceorganizer')),
                    ],
                    options={
                        'db_table': 'tracking_trackingevent',
                        'ordering': ['-occurred_at'],
                        'indexes': [models.Index(fields=['client', 'visitor_id', 'occurred_at'], name='tracking_visitor_idx'), models.Index(fields=['marketplace_event', 'name', 'occurred_at'], name='tracking_event_name_idx'), models.Index(condition=models.Q(('fanned_out_at__isnull', True)), fields=['received_at'], name='tracking_not_fanned_out_idx')],
                        'constraints': [models.UniqueConstraint(fields=('client', 'event_id'), name='uniq_tracking_event_id')],
                    },
                ),
                migrations.CreateModel(
                    name='VisitorTouch',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('fbc', models.CharField(blank=True, max_length=500)),
                        ('gclid', models.CharField(blank=True, max_length=200)),
                        ('gbraid', models.CharField(blank=True, max_length=200)),
                        ('wbraid', models.CharField(blank=True, max_length=200)),
                        ('ttclid', models.CharField(blank=True, max_length=200)),
                        ('utm_source', models.CharField(blank=True, max_length=200)),
                        ('utm_medium', models.CharField(blank=True, max_length=200)),
                        ('utm_campaign', models.CharField(blank=True, max_length=200)),
                        ('utm_content', models.CharField(blank=True, max_length=200)),
                        ('utm_term', models.CharField(blank=True, max_length=200)),
                        ('visitor_id', models.CharField(max_length=64)),
                        ('touched_at', models.DateTimeField()),
                        ('landing_url', models.URLField(blank=True, max_length=2000)),
                        ('touch_key', models.CharField(max_length=64)),
                        ('client', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='marketplace.marketplaceclient')),
                        ('marketplace_event', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='marketplace.marketplaceevent')),
                    ],
                    options={
                        'db_table': 'tracking_visitortouch',
                        'ordering': ['-touched_at'],
                        'indexes': [models.Index(fields=['client', 'visitor_id', 'touched_at'], name='touch_visitor_time_idx')],
                        'constraints': [models.UniqueConstraint(fields=('client', 'visitor_id', 'touch_key'), name='uniq_visitor_touch')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
