"""The report page: GET shows what is reported and a reason field, POST files the report.

htmx requests get the form (or the thanks) as a fragment, so a "Report" button can open
it in place; plain requests get the page and, once filed, a redirect to `next`.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from reports import services
from reports.forms import ReportForm
from reports.models import TargetType
from reports.selectors import get_report_target_for

THANKS = "Thank you: the moderators will look at it."


def _next_url(request) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return candidate if safe else ""


def _file(request, target, form) -> str | None:
    """File the report; the notice to show, or None with the errors added to the form."""
    try:
        services.report_content(
            reporter=request.user,
            target_type=target.type,
            target_id=target.obj.pk,
            reason=form.cleaned_data["reason"],
        )
    except services.AlreadyReported as exc:
        return str(exc)
    except ValidationError as exc:
        form.add_error(None, exc.messages)
        return None
    return THANKS


@login_required
@require_http_methods(["GET", "POST"])
def report(request, target_type: str, target_id: int):
    if target_type not in TargetType.values:
        raise Http404
    target = get_report_target_for(request.user, target_type, target_id)
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        notice = _file(request, target, form)
        if notice is not None:
            if request.htmx:
                return TemplateResponse(
                    request, "reports/partials/report_done.html", {"notice": notice}
                )
            messages.success(request, notice)
            return redirect(_next_url(request) or "home")
    template = "reports/partials/report_form.html" if request.htmx else "reports/report.html"
    context = {"target": target, "form": form, "next": _next_url(request)}
    return TemplateResponse(request, template, context, status=400 if form.errors else 200)
