"""Marketplace staff's admin for clients, organizers, events, orders, tokens and users.

Secrets are never displayed after creation: keys and tokens are shown once, in the
message that follows the action that created them.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from usher.lib.admin import ClientScopedAdmin
from usher.marketplace.models import (
    MarketplaceClient,
    MarketplaceEvent,
    MarketplaceOrganizer,
    Order,
    OrderLine,
    OrganizerApiToken,
    User,
)


class OrderLineInline(admin.TabularInline):
    """An order's ticket lines, as the core sent them (read-only: the core owns them)."""

    model = OrderLine
    fields = ["ticket_type_id", "name", "quantity", "unit_price"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(MarketplaceClient)
class MarketplaceClientAdmin(ClientScopedAdmin):
    client_path = "pk"
    list_display = [
        "name",
        "slug",
        "currency",
        "timezone",
        "site_key",
        "api_key_prefix",
        "is_active",
    ]
    search_fields = ["name", "slug"]
    readonly_fields = ["site_key", "api_key_prefix", "created_at", "updated_at"]
    actions = ["rotate_api_key"]

    # Marketplaces are created by Usher's operators (`manage.py create_client`), and
    # deleting one would cascade to everything it owns: superusers only.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(
        self, request: HttpRequest, obj: MarketplaceClient | None = None
    ) -> bool:
        return request.user.is_superuser

    @admin.action(description="Issue a new secret API key (shown once)")
    def rotate_api_key(self, request: HttpRequest, queryset: QuerySet[MarketplaceClient]) -> None:
        for client in queryset:
            secret = client.rotate_api_key()
            self.message_user(
                request,
                f"New API key for {client}: {secret} — copy it now, it will not be shown again.",
                messages.WARNING,
            )


@admin.register(MarketplaceOrganizer)
class MarketplaceOrganizerAdmin(ClientScopedAdmin):
    list_display = ["name", "external_id", "client", "status", "created_at"]
    list_filter = ["status", ("client", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "external_id", "email"]
    actions = ["issue_api_token"]

    @admin.action(description="Issue an organizer API token (shown once)")
    def issue_api_token(
        self, request: HttpRequest, queryset: QuerySet[MarketplaceOrganizer]
    ) -> None:
        for organizer in queryset:
            _, secret = OrganizerApiToken.issue(organizer, name=f"issued by {request.user}")
            self.message_user(
                request,
                f"API token for {organizer}: {secret} — copy it now, it will not be shown again.",
                messages.WARNING,
            )


@admin.register(MarketplaceEvent)
class MarketplaceEventAdmin(ClientScopedAdmin):
    list_display = ["name", "slug", "organizer", "city", "genre", "starts_at", "status"]
    list_filter = [
        "status",
        "category",
        "genre",
        "country",
        ("client", admin.RelatedOnlyFieldListFilter),
    ]
    search_fields = ["name", "slug", "external_id", "city", "venue"]
    list_select_related = ["organizer"]
    date_hierarchy = "starts_at"


@admin.register(Order)
class OrderAdmin(ClientScopedAdmin):
    list_display = [
        "external_id",
        "event",
        "organizer",
        "value",
        "currency",
        "tickets_count",
        "status",
        "placed_at",
    ]
    list_filter = ["status", "currency", ("client", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["external_id", "visitor_id"]
    list_select_related = ["event", "organizer"]
    date_hierarchy = "placed_at"
    readonly_fields = ["hashed_user_data"]
    inlines = [OrderLineInline]


@admin.register(OrganizerApiToken)
class OrganizerApiTokenAdmin(ClientScopedAdmin):
    client_path = "organizer__client"
    list_display = ["token_prefix", "name", "organizer", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["token_prefix", "name", "organizer__name"]
    # A token never changes hands: moving it would let its holder act as another organizer.
    readonly_fields = ["organizer", "token_prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["organizer", "name", "token_prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Tokens are issued from the organizer list, where the plaintext can be shown once.
        return False

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[OrganizerApiToken]) -> None:
        count = queryset.revoke()
        self.message_user(request, f"Revoked {count} token(s).")


@admin.register(User)
class UsherUserAdmin(UserAdmin, ClientScopedAdmin):
    list_display = ["username", "email", "client", "organizer", "is_staff", "is_superuser"]
    list_filter = ["is_staff", "is_superuser", ("client", admin.RelatedOnlyFieldListFilter)]
    fieldsets = [
        *UserAdmin.fieldsets,
        ("Marketplace", {"fields": ["client", "organizer"]}),
    ]

    def save_model(self, request: HttpRequest, obj: User, form: object, change: bool) -> None:
        if not request.user.is_superuser:
            obj.client_id = request.user.client_id  # staff add people to their own marketplace
        super().save_model(request, obj, form, change)

    def get_readonly_fields(self, request: HttpRequest, obj: User | None = None) -> list[str]:
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # Client staff manage their own people but cannot mint superusers or move them
            # to another marketplace.
            readonly += [
                "is_superuser",
                "user_permissions",
                "groups",
                ("client", admin.RelatedOnlyFieldListFilter),
            ]
        return readonly
