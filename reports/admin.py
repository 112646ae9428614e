"""The moderators' queue: open reports, oldest first, with the actions that close them:
dismiss, delete the content, suspend the bunny (for a period, with a reason), ban her.
Each action calls reports.services, which writes the audit log."""

from datetime import timedelta

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html

from accounts.admin import sanction_label
from accounts.forms import NoteForm, ReasonForm, SuspensionForm
from accounts.models import ModerationAction
from bunnybook.admin import ReadOnlyAdmin, change_url, changelist_url, excerpt, link, run_with_form
from reports import services
from reports.models import Report, ReportStatus
from reports.selectors import TARGET_MODELS


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "status",
        "target_type",
        "target_link",
        "reported_text",
        "why",
        "reporter_link",
        "bunny_link",
    ]
    list_display_links = ["id"]
    list_select_related = ["reporter", "target_bunny", "resolved_by"]
    list_filter = ["status", "target_type", "created_at"]
    search_fields = ["=target_bunny__username", "=reporter__username", "snapshot", "reason"]
    ordering = ["created_at", "id"]  # a queue: oldest first
    show_full_result_count = False
    actions = ["dismiss", "delete_content", "suspend", "ban"]
    fieldsets = [
        ("Report", {"fields": ["status", "created_at", "reporter_link", "reason"]}),
        (
            "Reported",
            {"fields": ["target_type", "target_link", "bunny_link", "sanction", "snapshot"]},
        ),
        ("Resolution", {"fields": ["resolved_at", "resolved_by_link", "resolution_note"]}),
        ("Related", {"fields": ["related"]}),
    ]
    readonly_fields = [
        "status",
        "created_at",
        "reporter_link",
        "reason",
        "target_type",
        "target_link",
        "bunny_link",
        "sanction",
        "snapshot",
        "resolved_at",
        "resolved_by_link",
        "resolution_note",
        "related",
    ]

    def changelist_view(self, request, extra_context=None):
        # The queue opens on open reports; the filter still offers every status.
        if not request.GET and request.method == "GET":
            request.GET = request.GET.copy()
            request.GET["status__exact"] = ReportStatus.OPEN
        return super().changelist_view(request, extra_context)

    # --- columns

    @admin.display(description="Target")
    def target_link(self, report):
        url = change_url(TARGET_MODELS[report.target_type], report.target_id)
        label = f"{report.get_target_type_display()} {report.target_id}"
        return format_html('<a href="{}">{}</a>', url, label) if url else label

    @admin.display(description="Reported text")
    def reported_text(self, report):
        return excerpt(report.snapshot, 60)

    @admin.display(description="Reason")
    def why(self, report):
        return excerpt(report.reason, 60)

    @admin.display(description="Reporter", ordering="reporter__username")
    def reporter_link(self, report):
        return link(report.reporter)

    @admin.display(description="Reported bunny", ordering="target_bunny__username")
    def bunny_link(self, report):
        return link(report.target_bunny)

    @admin.display(description="Her sanction now")
    def sanction(self, report):
        return sanction_label(report.target_bunny) if report.target_bunny else "—"

    @admin.display(description="Resolved by")
    def resolved_by_link(self, report):
        return link(report.resolved_by)

    @admin.display(description="Related")
    def related(self, report):
        same_target = changelist_url(
            Report, target_type=report.target_type, target_id=report.target_id
        )
        if report.target_bunny_id is None:
            return format_html('<a href="{}">Reports of the same target</a>', same_target)
        return format_html(
            '<a href="{}">Reports of the same target</a> · '
            '<a href="{}">All reports against this bunny</a> · <a href="{}">Her audit log</a>',
            same_target,
            changelist_url(Report, target_bunny__id__exact=report.target_bunny_id),
            changelist_url(ModerationAction, bunny__id__exact=report.target_bunny_id),
        )

    # --- actions: each calls a service per report, in its own transaction

    @admin.action(description="Dismiss selected reports…")
    def dismiss(self, request, queryset):
        def apply(report, data):
            services.dismiss_report(report=report, moderator=request.user, note=data["note"])

        return run_with_form(
            self, request, queryset, form_class=NoteForm, title="Dismiss", apply=apply
        )

    @admin.action(description="Delete the reported content…")
    def delete_content(self, request, queryset):
        def apply(report, data):
            services.delete_reported_content(
                report=report, moderator=request.user, note=data["note"]
            )

        return run_with_form(
            self, request, queryset, form_class=NoteForm, title="Delete the content", apply=apply
        )

    @admin.action(description="Suspend the reported bunnies…")
    def suspend(self, request, queryset):
        def apply(report, data):
            services.suspend_reported_bunny(
                report=report,
                moderator=request.user,
                until=timezone.now() + timedelta(days=data["days"]),
                reason=data["reason"],
            )

        return run_with_form(
            self, request, queryset, form_class=SuspensionForm, title="Suspend", apply=apply
        )

    @admin.action(description="Ban the reported bunnies…")
    def ban(self, request, queryset):
        def apply(report, data):
            services.ban_reported_bunny(
                report=report, moderator=request.user, reason=data["reason"]
            )

        return run_with_form(
            self, request, queryset, form_class=ReasonForm, title="Ban", apply=apply
        )
