"""The approvers' desk: trade proposals with their risk impact, decided here or in the API.

Every decision goes through ``trades.services`` (the same four-eyes, locks, pre-trade check and
audit as the API). Proposals, signals and the audit trail are read-only screens: nothing here
saves a model form. Users without ``trades.approve_tradeproposal`` see no decision action.
"""

from __future__ import annotations

import re

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.contenttypes.admin import GenericTabularInline
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from pms_project.errors import PMSError
from pms_project.formatting import DASH, money, pct, qty

from . import services
from .choices import ProposalStatus
from .models import AuditEvent, Signal, TradeProposal


def _error_text(exc: PMSError) -> str:
    return f"{exc.field}: {exc.message}" if exc.field != "non_field_errors" else exc.message


# --- The audit trail --------------------------------------------------------------------------


class ReadOnlyMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditInline(ReadOnlyMixin, GenericTabularInline):
    """The proposal's audit trail, oldest first, read-only."""

    model = AuditEvent
    ct_field = "content_type"
    ct_fk_field = "object_id"
    extra = 0
    can_delete = False
    ordering = ["at", "id"]
    fields = ["at", "actor_name", "action", "changes"]
    readonly_fields = fields
    verbose_name_plural = "audit trail"

    @admin.display(description="what changed")
    def changes(self, obj: AuditEvent) -> str:
        return _changes(obj)


DECIMAL = re.compile(r"^-?\d+\.\d+$")
# Kept in the trail, too long or too raw for one line of the inline (the change page shows them).
NOT_SHOWN = frozenset({"risk_impact", "strategy", "instrument"})


def _changes(event: AuditEvent) -> str:
    before, after = event.before or {}, event.after or {}
    keys = [k for k in after if before.get(k) != after.get(k) and k not in NOT_SHOWN]
    if not keys:
        return DASH
    return format_html_join(
        "; ",
        "{}: {} → {}",
        ((k, _short(before.get(k)), _short(after.get(k))) for k in keys),
    )


def _short(value) -> str:
    """A stored value for reading: decimals without trailing zeros, long texts cut."""
    if value is None or value == "":
        return DASH
    text = str(value)
    if isinstance(value, str) and DECIMAL.match(text):
        return qty(text)
    return text if len(text) <= 80 else text[:77] + "…"


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "portfolio", "object_repr"]
    list_filter = ["action", "portfolio", "actor_name"]
    search_fields = ["object_repr", "actor_name", "object_id"]
    date_hierarchy = "at"
    fields = [
        "at",
        "actor_name",
        "action",
        "portfolio",
        "content_type",
        "object_id",
        "object_repr",
        "before",
        "after",
    ]
    readonly_fields = fields


@admin.register(Signal)
class SignalAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["date", "strategy", "instrument", "value_display", "generator"]
    list_filter = ["strategy", "generator", "date"]
    search_fields = ["instrument__symbol", "strategy__code"]
    date_hierarchy = "date"
    list_select_related = ["strategy", "instrument"]

    @admin.display(description="value", ordering="value")
    def value_display(self, obj: Signal) -> str:
        return f"{obj.value:+.2f}"


# --- Proposals --------------------------------------------------------------------------------


class RejectForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000)


class ApproveForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000)
    override_reason = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Required when the trade would breach a hard limit; it is audited.",
    )


class ModifyApproveForm(ApproveForm):
    quantity = forms.DecimalField(
        max_digits=24, decimal_places=8, help_text="Unsigned contracts; the side stays."
    )
    price = forms.DecimalField(max_digits=24, decimal_places=10, required=False)


@admin.register(TradeProposal)
class TradeProposalAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "date_display",
        "portfolio",
        "strategy",
        "instrument",
        "side",
        "quantity_display",
        "price_display",
        "status",
        "var_99_change",
        "worst_utilization",
    ]
    list_display_links = ["id", "instrument"]
    list_filter = ["status", "date", "strategy", "portfolio", "source", "breaks_hard_limit"]
    search_fields = ["instrument__symbol", "strategy__code", "rationale", "note"]
    list_select_related = ["portfolio", "strategy", "instrument", "created_by"]
    date_hierarchy = "date"
    actions = ["approve_selected", "reject_selected"]
    inlines = [AuditInline]
    fieldsets = [
        (
            "Proposal",
            {
                "fields": [
                    "portfolio",
                    "date",
                    "strategy",
                    "instrument",
                    "side",
                    "quantity_display",
                    "price_display",
                    "source",
                    "status",
                ]
            },
        ),
        (
            "Why",
            {"fields": ["rationale", "signal_value", "target_display", "current_display"]},
        ),
        (
            "Risk impact (pre-trade check)",
            {"fields": ["var_99_change", "worst_utilization", "breaks_hard_limit", "limits_table"]},
        ),
        (
            "Decision",
            {
                "fields": [
                    "created_by",
                    "created_at",
                    "decided_by",
                    "decided_at",
                    "note",
                    "override_reason",
                    "original_display",
                    "execution",
                ]
            },
        ),
    ]
    readonly_fields = [f for _, opts in fieldsets for f in opts["fields"]]

    # --- Columns ---

    @admin.display(description="date", ordering="date")
    def date_display(self, obj: TradeProposal) -> str:
        return format_html('<span style="white-space: nowrap">{}</span>', obj.date.isoformat())

    @admin.display(description="quantity", ordering="quantity")
    def quantity_display(self, obj: TradeProposal) -> str:
        return qty(obj.quantity)

    @admin.display(description="price", ordering="price")
    def price_display(self, obj: TradeProposal) -> str:
        return qty(obj.price)

    @admin.display(description="target")
    def target_display(self, obj: TradeProposal) -> str:
        return qty(obj.target_quantity)

    @admin.display(description="held")
    def current_display(self, obj: TradeProposal) -> str:
        return qty(obj.current_quantity)

    @admin.display(description="original quantity @ price")
    def original_display(self, obj: TradeProposal) -> str:
        if obj.original_quantity is None:
            return DASH
        return f"{qty(obj.original_quantity)} @ {qty(obj.original_price)}"

    @admin.display(description="VaR 99 before → after")
    def var_99_change(self, obj: TradeProposal) -> str:
        # On two lines, so that the list keeps every column in sight.
        return format_html("{} →<br>{}", money(obj.var_99_before), money(obj.var_99_after))

    @admin.display(description="worst limit use", ordering="utilization_after")
    def worst_utilization(self, obj: TradeProposal) -> str:
        text = f"{pct(obj.utilization_before)} → {pct(obj.utilization_after)}"
        if obj.breaks_hard_limit:
            return format_html('<strong style="color:#b00">{} (hard breach)</strong>', text)
        return text

    @admin.display(description="limits before → after")
    def limits_table(self, obj: TradeProposal) -> str:
        limits = (obj.risk_impact or {}).get("limits", [])
        if not limits:
            return "no limits set for this portfolio"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (metric, pct(before), pct(after), pct(hard), pct(use), status)
                for metric, _soft, hard, before, after, use, status in limits
            ),
        )
        return format_html(
            "<table><thead><tr><th>metric</th><th>before</th><th>after</th><th>hard</th>"
            "<th>use after</th><th>status</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    # --- Permissions ---

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return services.may_decide(request.user)

    # --- Actions: each proposal through the service, one by one ---

    @admin.action(description="Approve selected", permissions=["approve"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        done, failed = [], []
        for proposal in queryset.order_by("id"):
            try:
                services.proposal_approve(proposal_id=proposal.pk, user=request.user)
                done.append(f"#{proposal.pk}")
            except PMSError as exc:
                failed.append(f"#{proposal.pk}: {_error_text(exc)}")
        self._report(request, "approved", done, failed)

    @admin.action(description="Reject selected (with a reason)", permissions=["approve"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet):
        form = RejectForm(request.POST if "reason" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(
                request,
                "admin/trades/tradeproposal/reject_selected.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Reject proposals",
                    "opts": self.model._meta,
                    "proposals": queryset.select_related("instrument", "strategy"),
                    "form": form,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                },
            )
        done, failed = [], []
        for proposal in queryset.order_by("id"):
            try:
                services.proposal_reject(
                    proposal_id=proposal.pk, user=request.user, reason=form.cleaned_data["reason"]
                )
                done.append(f"#{proposal.pk}")
            except PMSError as exc:
                failed.append(f"#{proposal.pk}: {_error_text(exc)}")
        self._report(request, "rejected", done, failed)
        return None

    def _report(self, request, verb: str, done: list[str], failed: list[str]) -> None:
        if done:
            self.message_user(request, f"{verb} {', '.join(done)}", messages.SUCCESS)
        for line in failed:
            self.message_user(request, f"not {verb}: {line}", messages.ERROR)

    # --- The decision page of one proposal ---

    def get_urls(self):
        urls = super().get_urls()
        decide = path(
            "<int:object_id>/decide/",
            self.admin_site.admin_view(self.decide_view),
            name="trades_tradeproposal_decide",
        )
        return [decide, *urls]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        proposal = self.get_object(request, object_id)
        can_decide = (
            proposal is not None
            and proposal.status == ProposalStatus.PENDING
            and self.has_approve_permission(request)
        )
        extra = {**(extra_context or {}), "can_decide": can_decide}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def decide_view(self, request: HttpRequest, object_id: int):
        """Approve (with an override reason when a hard limit would break), modify and approve,
        or reject with a reason."""
        if not self.has_approve_permission(request):
            raise PermissionDenied
        proposal = get_object_or_404(
            TradeProposal.objects.select_related("portfolio", "strategy", "instrument"),
            pk=object_id,
        )
        change_url = reverse("admin:trades_tradeproposal_change", args=[proposal.pk])
        decision = request.POST.get("decision") if request.method == "POST" else None
        forms_ = {
            "approve": ApproveForm(request.POST if decision == "approve" else None),
            "modify": ModifyApproveForm(
                request.POST if decision == "modify" else None,
                initial={
                    "quantity": proposal.quantity.normalize(),
                    "price": proposal.price.normalize(),
                },
            ),
            "reject": RejectForm(request.POST if decision == "reject" else None),
        }
        if decision in forms_ and forms_[decision].is_valid():
            data = forms_[decision].cleaned_data
            try:
                if decision == "approve":
                    services.proposal_approve(
                        proposal_id=proposal.pk,
                        user=request.user,
                        note=data["note"],
                        override_reason=data["override_reason"],
                    )
                elif decision == "modify":
                    services.proposal_modify_approve(
                        proposal_id=proposal.pk,
                        user=request.user,
                        quantity=data["quantity"],
                        price=data["price"],
                        note=data["note"],
                        override_reason=data["override_reason"],
                    )
                else:
                    services.proposal_reject(
                        proposal_id=proposal.pk, user=request.user, reason=data["reason"]
                    )
            except PMSError as exc:
                form = forms_[decision]
                field = exc.field if exc.field in form.fields else None
                form.add_error(field, exc.message)
            else:
                verb = "rejected" if decision == "reject" else "approved"
                self.message_user(request, f"proposal #{proposal.pk} {verb}", messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        return TemplateResponse(
            request,
            "admin/trades/tradeproposal/decide.html",
            {
                **self.admin_site.each_context(request),
                "title": f"Decide proposal #{proposal.pk}",
                "opts": self.model._meta,
                "original": proposal,
                "proposal": proposal,
                "summary": f"{proposal.side} {qty(proposal.quantity)} {proposal.instrument} "
                f"@ {qty(proposal.price)} in {proposal.strategy} on {proposal.date}",
                "impact": {
                    "var": f"{money(proposal.var_99_before)} → {money(proposal.var_99_after)}",
                    "use": self.worst_utilization(proposal),
                    "limits": self.limits_table(proposal),
                },
                "forms": forms_,
                "change_url": change_url,
            },
        )
