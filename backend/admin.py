"""Django admin: accounts and tokens for administrators; read-mostly views of the graph."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from backend import models as m


@admin.register(m.User)
class TipGraphUserAdmin(UserAdmin):
    list_display = ("username", "role", "agency", "office", "is_active", "last_login")
    list_filter = ("role", "is_active", "agency")
    fieldsets = (*UserAdmin.fieldsets, ("Role", {"fields": ("role", "agency", "office")}))


@admin.register(m.ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "user", "created_at", "expires_at", "last_used_at", "revoked_at")
    readonly_fields = ("key_hash", "created_at", "last_used_at")
    list_filter = ("revoked_at",)


@admin.register(m.Office)
class OfficeAdmin(admin.ModelAdmin):
    list_display = ("name", "region", "contact_point")


@admin.register(m.Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "country")
    list_filter = ("kind",)


@admin.register(m.Tip)
class TipAdmin(admin.ModelAdmin):
    list_display = ("source_reference", "source", "category", "status", "priority", "received_at")
    list_filter = ("status", "category", "handling_caveat")
    search_fields = ("source_reference",)
    raw_id_fields = ("reviewed_by", "created_by")


@admin.register(m.Identifier)
class IdentifierAdmin(admin.ModelAdmin):
    list_display = ("kind", "qualifier", "value", "first_seen", "last_seen")
    list_filter = ("kind",)
    search_fields = ("value",)
