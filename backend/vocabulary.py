"""The words and limits the tip graph is written in, typed once.

The choice values of the records that intake reads (tip categories, handling caveats, sighting
events, subject roles) and the limits on what one tip may carry. The models
(``backend.models``) declare their fields and database constraints with them, the GraphQL
schema builds its enums from them (``schema.base``), and the services and the bulk importer
(``backend.intake``) validate input against the same values and limits. Identifier kinds are
``backend.identifiers.IdentifierKind``, which also knows how to normalise each kind.

This module needs no database and no settings: the file parsers may import it anywhere.
"""

from __future__ import annotations

from django.db import models

__all__ = [
    "MAX_ALIASES",
    "MAX_IDENTIFIERS_PER_TIP",
    "MAX_IDENTIFIER_VALUE",
    "MAX_NAME",
    "MAX_QUALIFIER",
    "MAX_REFERENCE",
    "MAX_SUBJECTS_PER_TIP",
    "HandlingCaveat",
    "SightingEvent",
    "SubjectRole",
    "TipCategory",
]

#: Identifiers one tip may carry (one call of createTip, one row of an import).
MAX_IDENTIFIERS_PER_TIP = 200
#: People one tip may name.
MAX_SUBJECTS_PER_TIP = 50
#: Aliases one person may have.
MAX_ALIASES = 50
#: A tip's source reference (``Tip.source_reference``).
MAX_REFERENCE = 200
#: A person's name and each alias (``Subject.full_name``, ``Subject.aliases``).
MAX_NAME = 200
#: An identifier's value, normalised, canonical or raw (``Identifier.value``).
MAX_IDENTIFIER_VALUE = 2048
#: An identifier's qualifier: platform, hash algorithm, passport country.
MAX_QUALIFIER = 64


class TipCategory(models.TextChoices):
    POSSESSION = "POSSESSION", "Possession"
    DISTRIBUTION = "DISTRIBUTION", "Distribution"
    PRODUCTION = "PRODUCTION", "Production"
    ENTICEMENT = "ENTICEMENT", "Enticement"
    CHILD_SEX_TOURISM = "CHILD_SEX_TOURISM", "Child sex tourism / travel"
    OTHER = "OTHER", "Other"


class HandlingCaveat(models.TextChoices):
    """Who may see a tip, and how it must be handled. Each caveat has one effect:

    - ``NONE``: no restriction beyond the roles. A partner-agency investigator may be shown
      the tip by a traveller lookup, under the no-redissemination rule that comes with
      everything a partner sees.
    - ``LAW_ENFORCEMENT_SENSITIVE``: a partner may be shown the tip, but the marking travels
      with it: on the tip and on every person and identifier reached through it
      (``handlingMarkings``), on the lookup match, and in the response
      (``extensions.handlingMarkings``), with the handling rule ``marking``. Statistics count
      the tips per caveat (``tipStatistics(by: HANDLING_CAVEAT)``).
    - ``OWNER_ONLY``: the owning agency only. The tip never reaches the partner agency by any
      path (lookup, node fetch, nested relation, count), and people and identifiers known only
      through it are never found by a partner's lookup (``permissions.partner``).
    """

    NONE = "NONE", "No caveat"
    LAW_ENFORCEMENT_SENSITIVE = "LAW_ENFORCEMENT_SENSITIVE", "Law enforcement sensitive"
    OWNER_ONLY = "OWNER_ONLY", "Owning agency only"

    @property
    def effect(self) -> str:
        """What the caveat does, for the schema and the documentation."""
        return _CAVEAT_EFFECTS[self.value]

    @property
    def marking(self) -> str:
        """The handling rule that travels with a record under this caveat ("" for NONE)."""
        return _CAVEAT_MARKINGS[self.value]


_CAVEAT_EFFECTS = {
    "NONE": "No caveat: a partner-agency investigator may be shown the tip by a traveller "
    "lookup, under the no-redissemination rule that comes with everything a partner sees.",
    "LAW_ENFORCEMENT_SENSITIVE": "Law enforcement sensitive: a partner may be shown the tip, "
    "but the marking travels with it, and with every person and identifier reached through "
    "it: handlingMarkings on the record and on the lookup match, and "
    "extensions.handlingMarkings on the response, with its handling rule. tipStatistics "
    "counts tips by caveat (by: HANDLING_CAVEAT).",
    "OWNER_ONLY": "Owning agency only: never shown to the partner agency by any path "
    "(lookup, node, nested relation, count); people and identifiers known only through such "
    "tips are never found by a partner's lookup.",
}
_CAVEAT_MARKINGS = {
    "NONE": "",
    "LAW_ENFORCEMENT_SENSITIVE": "Law enforcement sensitive: for law-enforcement use only. Do "
    "not release it to the public, to the traveller or to any body outside law enforcement, "
    "and do not pass it on without the owning agency's express authorisation.",
    "OWNER_ONLY": "Owning agency only: not to be shown outside the owning agency.",
}


class SubjectRole(models.TextChoices):
    SUSPECT = "SUSPECT", "Suspect"
    VICTIM = "VICTIM", "Victim"
    WITNESS = "WITNESS", "Witness"
    REPORTING_PERSON = "REPORTING_PERSON", "Reporting person"
    OTHER = "OTHER", "Other"


class SightingEvent(models.TextChoices):
    REPORTED = "REPORTED", "Named in the report"
    LOGIN = "LOGIN", "Login"
    UPLOAD = "UPLOAD", "Upload"
    REGISTRATION = "REGISTRATION", "Account registration"
    MESSAGE = "MESSAGE", "Message sent"
    PAYMENT = "PAYMENT", "Payment"
    OTHER = "OTHER", "Other"
