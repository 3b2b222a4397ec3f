"""Subjects: people named in tips, their identifiers and redress marks."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.db import transaction

from backend.errors import InvalidInput
from backend.models import Identifier, Subject, SubjectIdentifier, User
from backend.services.alerts import raise_correction_alerts
from backend.services.guards import check_lengths
from backend.services.identifiers import resolve_identifier
from backend.vocabulary import MAX_ALIASES

__all__ = ["add_identifier_to_subject", "create_subject", "update_subject"]


def _clean_name(name: str, field: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned:
        raise InvalidInput(f"{field} must not be empty", field=field)
    check_lengths(Subject, {"full_name": cleaned}, fields={"full_name": field})
    return cleaned


def _clean_aliases(aliases: Sequence[str]) -> list[str]:
    if len(aliases) > MAX_ALIASES:
        raise InvalidInput(f"at most {MAX_ALIASES} aliases", field="aliases")
    cleaned = [" ".join(alias.split()) for alias in aliases]
    check_lengths(Subject, {"aliases": cleaned})
    return list(dict.fromkeys(alias for alias in cleaned if alias))


def _clean_country(code: str) -> str:
    code = code.strip().upper()
    if code and (len(code) != 2 or not (code.isascii() and code.isalpha())):
        raise InvalidInput(
            f"nationality must be an ISO 3166-1 alpha-2 code, got {code!r}", field="nationality"
        )
    return code


def _check_redress(subject: Subject) -> None:
    if subject.known_misidentification and not subject.redress_case_number.strip():
        raise InvalidInput(
            "a known misidentification needs the redress case number", field="redressCaseNumber"
        )


@transaction.atomic
def create_subject(
    *,
    by: User | None,
    full_name: str,
    aliases: Sequence[str] = (),
    date_of_birth: date | None = None,
    nationality: str = "",
    sex_offender_registered: bool = False,
) -> Subject:
    """Record a person named in tips."""
    return Subject.objects.create(
        full_name=_clean_name(full_name, "fullName"),
        aliases=_clean_aliases(aliases),
        date_of_birth=date_of_birth,
        nationality=_clean_country(nationality),
        sex_offender_registered=sex_offender_registered,
        created_by=by,
    )


@transaction.atomic
def update_subject(
    *,
    subject: Subject,
    full_name: str | None = None,
    aliases: Sequence[str] | None = None,
    date_of_birth: date | None = None,
    nationality: str | None = None,
    sex_offender_registered: bool | None = None,
    known_misidentification: bool | None = None,
    redress_case_number: str | None = None,
) -> Subject:
    """Edit a subject; marking a known misidentification requires a redress case number."""
    if full_name is not None:
        subject.full_name = _clean_name(full_name, "fullName")
    if aliases is not None:
        subject.aliases = _clean_aliases(aliases)
    if date_of_birth is not None:
        subject.date_of_birth = date_of_birth
    if nationality is not None:
        subject.nationality = _clean_country(nationality)
    if sex_offender_registered is not None:
        subject.sex_offender_registered = sex_offender_registered
    if redress_case_number is not None:
        subject.redress_case_number = redress_case_number.strip()
        check_lengths(Subject, {"redress_case_number": subject.redress_case_number})
    if known_misidentification is not None:
        subject.known_misidentification = known_misidentification
    _check_redress(subject)
    subject.save()
    raise_correction_alerts(Subject, [subject.pk], removed=False)
    return subject


@transaction.atomic
def add_identifier_to_subject(
    *, subject: Subject, kind: str, value: str, qualifier: str = ""
) -> tuple[SubjectIdentifier, Identifier]:
    """Record that an identifier belongs to a subject."""
    identifier, _ = resolve_identifier(kind=kind, value=value, qualifier=qualifier)
    link, _ = SubjectIdentifier.objects.get_or_create(subject=subject, identifier=identifier)
    return link, identifier
