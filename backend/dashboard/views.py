"""The analyst dashboard page, ``/dashboard/``.

The page itself carries no records: its script (``static/dashboard/dashboard.js``) asks
``/graphql`` for them with the caller's session and CSRF token, so every record it shows is
scoped, permission-checked and audited like any other GraphQL answer. The view only decides
who may open the page and which tip the graph starts from.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET
from strawberry import relay

from backend import models as m
from permissions.gate import DASHBOARD, Decision, check_access
from permissions.matrix import ROLE_NAMES
from permissions.scoping import scope_queryset

__all__ = ["DASHBOARD_ROLES", "dashboard", "default_tip_id"]

#: The page runs the tip-graph queries (``tips``, ``node``), so it is for the roles that may
#: browse the tip graph: the gate's ``DASHBOARD`` door, whose roles come from the matrix.
DASHBOARD_ROLES: frozenset[str] = DASHBOARD.roles


def default_tip_id(user: m.User) -> str | None:
    """The global id of the most recently received tip ``user`` may see that has a link.

    Only the id leaves the server here (the page needs somewhere to start); the tip itself
    is fetched through GraphQL. ``None`` when no visible tip is linked to another.
    """
    # a link is stored once, lower tip first: the tip may be at either end
    links = [
        scope_queryset(m.TipLink.objects.filter(**{end: OuterRef("pk")}), user)
        for end in ("from_tip", "to_tip")
    ]
    pk = (
        scope_queryset(m.Tip.objects.all(), user)
        .filter(Exists(links[0]) | Exists(links[1]))
        .order_by("-received_at", "-pk")
        .values_list("pk", flat=True)
        .first()
    )
    return None if pk is None else relay.to_base64("Tip", pk)


def _denied(request: HttpRequest, decision: Decision) -> HttpResponse:
    """A 403 page that says why (every reason, with its code), rather than an empty dashboard
    the user cannot tell apart from "no data"."""
    allowed = " and ".join(ROLE_NAMES[role] for role in m.Role if role in DASHBOARD_ROLES)
    return render(
        request,
        "dashboard/denied.html",
        {"problems": decision.problems, "code": decision.code, "allowed": allowed},
        status=403,
    )


@require_GET
@login_required
@ensure_csrf_cookie  # the script reads the csrftoken cookie for its POSTs to /graphql
def dashboard(request: HttpRequest) -> HttpResponse:
    """The dashboard for analysts and program managers whose accounts may act (the one gate,
    ``permissions.gate``); a 403 page with every reason for everyone else.

    ``?tip=`` (a tip's global id or source reference) is read by the script, which also
    keeps it in the address bar as the user moves through the graph.
    """
    user = request.user
    decision = check_access(user, DASHBOARD)
    if not decision.allowed:
        return _denied(request, decision)
    return render(
        request,
        "dashboard/dashboard.html",
        {"default_tip": default_tip_id(user), "role_name": user.get_role_display()},
    )
