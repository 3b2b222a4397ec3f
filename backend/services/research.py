"""Research results entered by hand: subpoena and summons returns, database checks."""

from __future__ import annotations

from datetime import date

from django.db import transaction

from backend.errors import InvalidInput
from backend.models import Identifier, LegalProcess, ResearchResult, Tip, User
from backend.services.guards import check_lengths

__all__ = ["create_research_result", "update_research_result"]


def _check(result: ResearchResult) -> None:
    check_lengths(ResearchResult, {"served_on": result.served_on, "findings": result.findings})
    if result.legal_process not in LegalProcess.values:
        raise InvalidInput(
            f"legalProcess {result.legal_process!r} is not one of {', '.join(LegalProcess.values)}",
            field="legalProcess",
        )
    if not result.findings.strip():
        raise InvalidInput("findings must not be empty", field="findings")
    if result.served_at and result.returned_at and result.returned_at < result.served_at:
        raise InvalidInput("returnedAt cannot be before servedAt", field="returnedAt")


@transaction.atomic
def create_research_result(
    *,
    by: User | None,
    identifier: Identifier,
    legal_process: str,
    findings: str,
    served_on: str = "",
    served_at: date | None = None,
    returned_at: date | None = None,
    tip: Tip | None = None,
) -> ResearchResult:
    """Record the result of research on an identifier."""
    result = ResearchResult(
        identifier=identifier,
        legal_process=legal_process,
        findings=findings.strip(),
        served_on=served_on.strip(),
        served_at=served_at,
        returned_at=returned_at,
        tip=tip,
        created_by=by,
    )
    _check(result)
    result.save()
    return result


@transaction.atomic
def update_research_result(
    *,
    result: ResearchResult,
    findings: str | None = None,
    served_on: str | None = None,
    served_at: date | None = None,
    returned_at: date | None = None,
) -> ResearchResult:
    """Correct a research result's findings or dates."""
    if findings is not None:
        result.findings = findings.strip()
    if served_on is not None:
        result.served_on = served_on.strip()
    if served_at is not None:
        result.served_at = served_at
    if returned_at is not None:
        result.returned_at = returned_at
    _check(result)
    result.save()
    return result
