from django.apps import AppConfig


class CampaignsConfig(AppConfig):
    name = "usher.campaigns"
    label = "campaigns"
