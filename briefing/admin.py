"""The stored morning packs, read-only (``morning_pack`` and POST /api/briefing/generate/ write
them), each linking to its printable page."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from pms_project.formatting import money, pct
from portfolio.admin import ReadOnlyAdmin

from .models import MorningPack


@admin.register(MorningPack)
class MorningPackAdmin(ReadOnlyAdmin):
    list_display = ["date", "portfolio", "as_of", "nav", "twr_mtd", "page", "generated_at"]
    list_filter = ["portfolio"]
    date_hierarchy = "date"
    fields = ["portfolio", "date", "as_of", "page", "generated_at", "generated_by", "content"]
    readonly_fields = ["page"]

    @admin.display(description="NAV")
    def nav(self, obj: MorningPack) -> str:
        return money(obj.content["header"]["nav"])

    @admin.display(description="TWR MTD")
    def twr_mtd(self, obj: MorningPack) -> str:
        return pct(obj.content["header"]["twr"]["MTD"])

    @admin.display(description="printable page")
    def page(self, obj: MorningPack) -> str:
        url = reverse("briefing-page", args=[obj.date.isoformat()])
        return format_html('<a href="{}?portfolio={}">open</a>', url, obj.portfolio.code)
