"""Which partner agency's statistics a caller may read (``Query.partnerStatistics``).

A partner agency is the set of investigator accounts with the same ``agency`` value. A
partner-agency investigator reads the aggregates of their own agency and of no other: asking
for another agency is refused (``FORBIDDEN``, audited as a denial), and an investigator
account that names no agency has no agency's figures to read (``NOT_FOUND``: a system
administrator sets the account's agency). A program manager, who owns the system, may name
any agency, or none for every partner agency together. The matrix (``permissions.matrix``)
has already refused every other role; how small groups are suppressed for the caller is
``permissions.scoping.statistics_threshold``.
"""

from __future__ import annotations

from typing import Any

from backend.errors import DomainError, InvalidInput, RecordNotFound
from backend.models import Role

__all__ = ["AgencyRefused", "partner_agency"]


class AgencyRefused(DomainError):
    """The caller may not read that agency's figures."""

    code = "FORBIDDEN"


def partner_agency(user: Any, asked: str | None) -> str | None:
    """The agency whose partner statistics ``user`` reads when asking for ``asked`` (None:
    not named): the investigator's own agency, or for a program manager the agency named
    (None: every partner agency)."""
    role = getattr(user, "role", None)
    if role == Role.INVESTIGATOR:
        own = user.agency
        if not own.strip():
            raise RecordNotFound(
                "your account names no agency, so there are no agency figures to show; a "
                "system administrator sets the account's agency",
                field="agency",
            )
        if asked is not None and asked != own:
            raise AgencyRefused(
                "investigators may read their own agency's statistics only", field="agency"
            )
        return own
    if role == Role.PROGRAM_MANAGER:
        if asked is not None and not asked.strip():
            raise InvalidInput(
                "name an agency, or leave agency out for every partner agency", field="agency"
            )
        return asked
    raise AgencyRefused("your role may not read partner statistics", field="agency")
