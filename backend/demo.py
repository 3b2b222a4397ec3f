"""A generated, clearly fake demo data set with realistic sharing of identifiers.

Every value is fake: e-mail domains are example.com/.org/.net (RFC 2606), IP addresses come
from the documentation ranges (RFC 5737, RFC 3849), phone numbers from fictional ranges
(NANP 555-01xx, Ofcom 07700 900xxx), and every narrative says it is demo data.

Tips are written by "actors": each actor owns a handful of identifiers and appears in a
few tips (a long-tailed number), so tips share identifiers the way real tips do.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone

from backend import models as m
from backend.identifiers import normalise
from backend.names import fold_names
from backend.services.linking import link_tips

__all__ = ["DEMO_SOURCE_PREFIX", "load_demo_data"]

DEMO_SOURCE_PREFIX = "DEMO "

FIRST = [
    "José",
    "Maria",
    "John",
    "Aisha",
    "Wei",
    "Olga",
    "Pierre",
    "Zoë",
    "Mohammed",
    "Anna",
    "Carlos",
    "Fatima",
    "Liam",
    "Sofia",
    "Hiroshi",
    "Ingrid",
    "Tomás",
    "Chloé",
    "Dmitri",
    "Noor",
]
LAST = [
    "Álvarez",
    "Smith",
    "Müller",
    "García",
    "Nguyen",
    "Kowalski",
    "Dubois",
    "O'Brien",
    "Rossi",
    "Petrov",
    "Haddad",
    "Johansson",
    "Tanaka",
    "Silva",
    "Novák",
    "Schmidt",
    "Hernández",
    "Brown",
]
PLATFORMS = ["instagram", "snapchat", "discord", "telegram", "kik", "x", "tiktok"]
OFFICES = [
    ("DEMO Field Office Northeast", "Northeast"),
    ("DEMO Field Office Southeast", "Southeast"),
    ("DEMO Field Office Midwest", "Midwest"),
    ("DEMO Field Office Southwest", "Southwest"),
    ("DEMO Field Office West", "West"),
    ("DEMO Attaché Office Europe", "International"),
]
SOURCES = [
    (m.SourceKind.ESP_CLEARINGHOUSE, "Clearinghouse", "US"),
    (m.SourceKind.ESP_CLEARINGHOUSE, "Photo Sharing Service", "US"),
    (m.SourceKind.PUBLIC_TIP_LINE, "Public Tip Line", "US"),
    (m.SourceKind.FIELD_OFFICE, "Field Office Intake", "US"),
    (m.SourceKind.LOCAL_LAW_ENFORCEMENT, "County Police", "US"),
    (m.SourceKind.FOREIGN_LAW_ENFORCEMENT, "Foreign Police Liaison", "GB"),
    (m.SourceKind.FOREIGN_LAW_ENFORCEMENT, "Policía Liaison", "ES"),
    (m.SourceKind.INTERPOL, "INTERPOL Notices", "FR"),
    (m.SourceKind.NGO, "Child Protection NGO", "NL"),
]
CATEGORIES = [
    (m.TipCategory.POSSESSION, 30),
    (m.TipCategory.DISTRIBUTION, 35),
    (m.TipCategory.PRODUCTION, 5),
    (m.TipCategory.ENTICEMENT, 15),
    (m.TipCategory.CHILD_SEX_TOURISM, 10),
    (m.TipCategory.OTHER, 5),
]
EVENTS = [m.SightingEvent.LOGIN, m.SightingEvent.UPLOAD, m.SightingEvent.MESSAGE]


@dataclass
class Actor:
    """A fake person behind several tips, with the identifiers they use."""

    identifiers: list[tuple[str, str, str]] = field(default_factory=list)  # kind, raw, qualifier
    subject: m.Subject | None = None


def _hex(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def _phone(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"+1 ({rng.randint(201, 989)}) 555-01{rng.randint(0, 99):02d}"
    return f"+44 7700 900{rng.randint(0, 999):03d}"


def _ip(rng: random.Random) -> str:
    if rng.random() < 0.15:
        return f"2001:db8::{rng.randint(1, 0xFFFF):x}"
    prefix = rng.choice(["192.0.2", "198.51.100", "203.0.113"])
    return f"{prefix}.{rng.randint(1, 254)}"


def _actor(rng: random.Random, n: int) -> Actor:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    handle = f"{first[:3]}{last[:4]}{n}".lower().encode("ascii", "ignore").decode() or f"user{n}"
    ids = [
        (m.IdentifierKind.EMAIL, f"{handle}@example.{rng.choice(['com', 'org', 'net'])}", ""),
        (m.IdentifierKind.USERNAME, f"@{handle}_{rng.randint(1, 99)}", rng.choice(PLATFORMS)),
        (m.IdentifierKind.IP_ADDRESS, _ip(rng), ""),
    ]
    if rng.random() < 0.6:
        ids.append((m.IdentifierKind.PHONE, _phone(rng), ""))
    if rng.random() < 0.3:
        ids.append(
            (m.IdentifierKind.DEVICE_ID, f"{_hex(rng, 8)}-{_hex(rng, 4)}-{_hex(rng, 12)}", "")
        )
    if rng.random() < 0.2:
        ids.append((m.IdentifierKind.PASSPORT, f"X{rng.randint(10_000_000, 99_999_999)}", "USA"))
    actor = Actor(identifiers=ids)
    if rng.random() < 0.5:
        actor.subject = m.Subject(
            full_name=f"{first} {last}",
            names_folded=fold_names(f"{first} {last}"),
            date_of_birth=date(1950, 1, 1) + timedelta(days=rng.randint(0, 20_000)),
            nationality=rng.choice(["US", "US", "US", "GB", "ES", "MX", "CA"]),
            sex_offender_registered=rng.random() < 0.15,
        )
    return actor


def _status(rng: random.Random, received: datetime, now: datetime) -> tuple[str, bool | None]:
    age = (now - received).days
    roll = rng.random()
    if age < 7 or roll < 0.15:
        return m.TipStatus.RECEIVED, None
    if roll < 0.25:
        return m.TipStatus.UNDER_REVIEW, None
    if roll < 0.55:
        return m.TipStatus.NOT_ACTIONABLE, False
    if roll < 0.75:
        return m.TipStatus.ACTIONABLE, True
    return m.TipStatus.REFERRED, True


def _targeting_activity(
    rng: random.Random, investigator: m.User, tips: list[m.Tip], now: datetime
) -> list[m.Note]:
    """Traveller lookups over the last 60 days (for the lookup statistics) and targeting notes
    with screening outcomes on some tips (for the screening statistics)."""
    lookups = m.TravellerLookup.objects.bulk_create(
        m.TravellerLookup(
            user=investigator,
            criteria={"demo": n},
            subject_hits=hits,
            tip_hits=hits,
        )
        for n, hits in enumerate(rng.choices([0, 0, 0, 1, 2], k=len(tips) // 5))
    )
    for lookup in lookups:  # auto_now_add stamps "now"; spread them over the window instead
        lookup.created_at = now - timedelta(minutes=rng.randint(0, 60 * 24 * 60))
    m.TravellerLookup.objects.bulk_update(lookups, ["created_at"])
    tip_type = ContentType.objects.get_for_model(m.Tip)
    return m.Note.objects.bulk_create(
        m.Note(
            content_type=tip_type,
            object_id=t.pk,
            author=investigator,
            kind=m.NoteKind.TARGETING,
            body="Demo targeting note.",
            screening_outcome=rng.choices(m.ScreeningOutcome.values, [6, 3, 1])[0],
        )
        for t in rng.sample(tips, k=min(len(tips), max(1, len(tips) // 15)))
    )


@transaction.atomic
def load_demo_data(
    *, tips: int = 3000, seed: int = 7, progress: Callable[[str, int, int], None] | None = None
) -> dict[str, int]:
    """Create ``tips`` fake tips with identifiers, subjects, links, leads and notes."""
    rng = random.Random(seed)
    now = timezone.now()
    report = progress or (lambda _stage, _done, _total: None)

    offices = [
        m.Office.objects.get_or_create(name=n, defaults={"region": r})[0] for n, r in OFFICES
    ]
    for office in offices:
        if not office.contact_point:
            office.contact_point = f"duty desk, {office.name}, +1 (202) 555-0100"
            office.save(update_fields=["contact_point"])
    sources = [
        m.Source.objects.get_or_create(
            kind=k, name=DEMO_SOURCE_PREFIX + n, defaults={"country": c}
        )[0]
        for k, n, c in SOURCES
    ]
    analyst = m.User.objects.filter(role=m.Role.ANALYST).order_by("pk").first()

    # each actor appears in a long-tailed number of tips (mostly 1-2, a few up to 25)
    actors: list[Actor] = []
    slots: list[Actor] = []
    while len(slots) < tips:
        actor = _actor(rng, len(actors))
        actors.append(actor)
        slots.extend([actor] * min(int(rng.paretovariate(1.3)), 25))
    rng.shuffle(slots)
    m.Subject.objects.bulk_create([a.subject for a in actors if a.subject is not None])
    victims = m.Subject.objects.bulk_create(
        [
            m.Subject(full_name=f"DEMO Minor Victim {n}", names_folded=f"demo minor victim {n}")
            for n in range(max(1, tips // 20))
        ]
    )
    identifiers: dict[tuple[str, str, str], m.Identifier] = {}

    def identifier(kind: str, raw: str, qualifier: str, seen: datetime) -> m.Identifier:
        norm = normalise(kind, raw, qualifier=qualifier)
        key = (norm.kind.value, norm.qualifier, norm.value)
        found = identifiers.get(key)
        if found is None:
            found = identifiers[key] = m.Identifier(
                kind=key[0],
                qualifier=key[1],
                value=key[2],
                canonical=norm.canonical,
                raw_value=raw,
                first_seen=seen,
                last_seen=seen,
            )
        else:
            found.first_seen = min(found.first_seen, seen)
            found.last_seen = max(found.last_seen, seen)
        return found

    start = m.Tip.objects.filter(source__in=sources).count()
    tip_rows: list[m.Tip] = []
    sightings: list[tuple[int, m.Identifier, str, datetime | None, str]] = []
    tip_subjects: list[tuple[int, m.Subject, str]] = []
    for n in range(tips):
        actor = slots[n]
        received = now - timedelta(minutes=rng.randint(0, 400 * 24 * 60))
        status, actionable = _status(rng, received, now)
        category = rng.choices([c for c, _ in CATEGORIES], [w for _, w in CATEGORIES])[0]
        tip_rows.append(
            m.Tip(
                source=rng.choice(sources),
                source_reference=f"DEMO-{seed}-{start + n:07d}",
                received_at=received,
                category=category,
                narrative=f"FAKE DEMO DATA. Generated {category.lower()} report {start + n}.",
                status=status,
                priority=rng.choices([1, 2, 3, 4, 5], [5, 15, 50, 20, 10])[0],
                handling_caveat=m.HandlingCaveat.OWNER_ONLY
                if rng.random() < 0.05
                else m.HandlingCaveat.NONE,
                is_actionable=actionable,
                actionable_reason="" if actionable is None else "Demo review decision.",
                reviewed_at=None
                if actionable is None
                else received + timedelta(days=rng.randint(1, 6)),
                reviewed_by=None if actionable is None else analyst,
            )
        )
        for kind, raw, qualifier in rng.sample(
            actor.identifiers, k=rng.randint(2, len(actor.identifiers))
        ):
            captured = received - timedelta(hours=rng.randint(1, 240))
            event = (
                rng.choice(EVENTS)
                if kind == m.IdentifierKind.IP_ADDRESS
                else m.SightingEvent.REPORTED
            )
            sightings.append((n, identifier(kind, raw, qualifier, captured), event, captured, raw))
        sha = _hex(rng, 64)
        sightings.append(
            (
                n,
                identifier(m.IdentifierKind.FILE_HASH, sha, "sha256", received),
                "UPLOAD",
                received,
                sha,
            )
        )
        if rng.random() < 0.3:
            url = f"https://files.example.net/u/{_hex(rng, 10)}"
            sightings.append(
                (n, identifier(m.IdentifierKind.URL, url, "", received), "UPLOAD", received, url)
            )
        if actor.subject is not None:
            tip_subjects.append((n, actor.subject, m.SubjectRole.SUSPECT))
        if rng.random() < 0.1:
            tip_subjects.append((n, rng.choice(victims), m.SubjectRole.VICTIM))
        if n % 500 == 0:
            report("generating tips", n, tips)
    report("generating tips", tips, tips)

    m.Tip.objects.bulk_create(tip_rows, batch_size=1000)
    report("writing identifiers", 0, 1)
    m.Identifier.objects.bulk_create(list(identifiers.values()), batch_size=1000)
    m.TipIdentifier.objects.bulk_create(
        [
            m.TipIdentifier(
                tip=tip_rows[i], identifier=ident, event=event, captured_at=at, raw_value=raw
            )
            for i, ident, event, at, raw in sightings
        ],
        batch_size=2000,
        ignore_conflicts=True,
    )
    m.TipSubject.objects.bulk_create(
        [m.TipSubject(tip=tip_rows[i], subject=s, role=role) for i, s, role in tip_subjects],
        batch_size=2000,
        ignore_conflicts=True,
    )

    def known(kind: str, raw: str, qualifier: str) -> m.Identifier | None:
        norm = normalise(kind, raw, qualifier=qualifier)
        return identifiers.get((norm.kind.value, norm.qualifier, norm.value))

    m.SubjectIdentifier.objects.bulk_create(
        [
            m.SubjectIdentifier(subject=a.subject, identifier=found)
            for a in actors
            if a.subject is not None
            for k, raw, q in a.identifiers[:2]
            if (found := known(k, raw, q)) is not None
        ],
        ignore_conflicts=True,
    )
    report("writing identifiers", 1, 1)
    report("linking tips", 0, 1)
    # One set-based call links every tip and assigns clusters (backend.services.clusters).
    links = link_tips(tip_ids=[t.pk for t in tip_rows])
    report("linking tips", 1, 1)

    report("building leads and notes", 0, 1)
    referred = [t for t in tip_rows if t.status == m.TipStatus.REFERRED]
    leads = []
    for k in range(0, len(referred), 4):
        group = referred[k : k + 4]
        lead = m.Lead.objects.create(
            title=f"DEMO lead {k // 4 + 1}",
            summary="FAKE DEMO DATA.",
            office=rng.choice(offices),
            status=rng.choice([m.LeadStatus.REFERRED, m.LeadStatus.ACCEPTED, m.LeadStatus.CLOSED]),
            referred_at=max(t.received_at for t in group) + timedelta(days=rng.randint(2, 20)),
            created_by=analyst,
        )
        if lead.status == m.LeadStatus.CLOSED:
            lead.outcome = rng.choice(
                [m.LeadOutcome.ARREST, m.LeadOutcome.NO_ACTION, m.LeadOutcome.SEARCH_WARRANT]
            )
            lead.closed_at = lead.referred_at + timedelta(days=30)
            lead.save(update_fields=["outcome", "closed_at"])
        lead.tips.set(group)
        m.Tip.objects.filter(pk__in=[t.pk for t in group]).update(referred_at=lead.referred_at)
        leads.append(lead)
    notes = []
    if analyst is not None:
        tip_type = ContentType.objects.get_for_model(m.Tip)
        notes = m.Note.objects.bulk_create(
            [
                m.Note(
                    content_type=tip_type,
                    object_id=t.pk,
                    author=analyst,
                    body="Demo note: reviewed the attached files.",
                )
                for t in rng.sample(tip_rows, k=min(len(tip_rows), max(1, tips // 10)))
            ]
        )
    investigator = m.User.objects.filter(role=m.Role.INVESTIGATOR).order_by("pk").first()
    if investigator is not None:
        notes += _targeting_activity(rng, investigator, tip_rows, now)
    report("building leads and notes", 1, 1)
    return {
        "tips": len(tip_rows),
        "identifiers": len(identifiers),
        "sightings": len(sightings),
        "subjects": sum(1 for a in actors if a.subject is not None) + len(victims),
        "links": links,
        "clusters": m.Cluster.objects.filter(tips__in=tip_rows).distinct().count(),
        "leads": len(leads),
        "notes": len(notes),
    }
