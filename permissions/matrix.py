"""The permission matrix: which role may call which operation and read which sensitive field.

This is the one place the rules live. Schema fields take their permission extension from
here (``permissions.classes.allow``), the schema descriptions say who may call them, and
``tests/permissions/test_matrix.py`` checks every role against every entry and fails on a
field that has no entry.
"""

from __future__ import annotations

from backend.models import Role

__all__ = [
    "DOCUMENT_NOT_TRUSTED",
    "NEED_TO_KNOW",
    "OPERATIONS",
    "ROLE_NAMES",
    "TRUSTED_DOCUMENTS_ONLY",
    "WRITING_QUERIES",
    "describe",
]

A, INV, PM = Role.ANALYST, Role.INVESTIGATOR, Role.PROGRAM_MANAGER
SA, AU, RC = Role.SYSTEM_ADMINISTRATOR, Role.AUDITOR, Role.REPORTING_CLIENT
EVERYONE = frozenset(Role)
GRAPH = frozenset({A, PM})
#: Aggregates: reporting clients get them with small groups suppressed (permissions.scoping).
STATISTICS = frozenset({A, PM, RC})
#: Traveller lookups, one at a time or a passenger list at once (the same lookups).
LOOKUPS = frozenset({A, INV})

#: Root fields ("Query.x", "Mutation.y") and the roles that may call them.
OPERATIONS: dict[str, frozenset[str]] = {
    "Query.viewer": EVERYONE,
    "Query.node": frozenset({A, PM, INV}),
    "Query.tips": GRAPH,
    "Query.subjects": GRAPH,
    "Query.identifiers": GRAPH,
    "Query.identifierByValue": GRAPH,
    "Query.leads": GRAPH,
    "Query.sources": GRAPH,
    "Query.offices": GRAPH,
    "Query.researchResults": GRAPH,
    "Query.clusters": GRAPH,
    "Query.linkExclusions": GRAPH,
    "Query.travellerLookup": LOOKUPS,
    "Query.screenPassengers": LOOKUPS,
    "Query.privilegeReview": frozenset({SA, PM}),
    "Query.auditEvents": frozenset({AU, SA}),
    "Query.deconflictionNotices": GRAPH,
    "Query.investigatorQueryVolume": frozenset({AU, SA}),
    #: The Privacy Act accounting of disclosures (also its CSV download, permissions.gate).
    "Query.accountingOfDisclosures": frozenset({AU, PM}),
    "Query.importJob": frozenset({A}),
    "Query.tipStatistics": STATISTICS,
    "Query.actionableShare": STATISTICS,
    "Query.tipTurnaround": STATISTICS,
    "Query.leadStatistics": STATISTICS,
    "Query.lookupStatistics": STATISTICS,
    "Query.screeningOutcomes": STATISTICS,
    "Query.clusterSizes": STATISTICS,
    #: A partner agency's own aggregates (permissions.agency: an investigator's own agency).
    "Query.partnerStatistics": frozenset({INV, PM}),
    "Mutation.createTip": frozenset({A}),
    "Mutation.updateTip": frozenset({A}),
    "Mutation.changeTipStatus": frozenset({A}),
    "Mutation.addIdentifierToTip": frozenset({A}),
    "Mutation.addSubjectToTip": frozenset({A}),
    "Mutation.createSubject": frozenset({A}),
    "Mutation.updateSubject": frozenset({A}),
    "Mutation.addIdentifierToSubject": frozenset({A}),
    "Mutation.createIdentifier": frozenset({A}),
    "Mutation.updateIdentifier": frozenset({A}),
    "Mutation.createLead": frozenset({A}),
    "Mutation.updateLead": frozenset({A}),
    "Mutation.changeLeadStatus": frozenset({A}),
    "Mutation.createSource": frozenset({A}),
    "Mutation.createResearchResult": frozenset({A}),
    "Mutation.updateResearchResult": frozenset({A}),
    "Mutation.addNote": frozenset({A, INV}),
    "Mutation.addTipLink": frozenset({A}),
    "Mutation.removeTipLink": frozenset({A}),
    "Mutation.addLinkExclusion": frozenset({A}),
    "Mutation.removeLinkExclusion": frozenset({A}),
    "Mutation.removeRecord": frozenset({PM}),
    #: Retention: legal holds and the disposal preview (also ``manage.py dispose --dry-run``,
    #: permissions.gate.DISPOSAL); auditors read the holds, only program managers decide.
    "Query.legalHolds": frozenset({PM, AU}),
    "Query.disposalPreview": frozenset({PM}),
    "Mutation.placeLegalHold": frozenset({PM}),
    "Mutation.liftLegalHold": frozenset({PM}),
    #: Disposal runs (also ``manage.py dispose``, permissions.gate.DISPOSAL): program managers
    #: request, approve (another one) and cancel them; auditors read them.
    "Query.disposalRuns": frozenset({PM, AU}),
    "Mutation.requestDisposal": frozenset({PM}),
    "Mutation.approveDisposal": frozenset({PM}),
    "Mutation.cancelDisposal": frozenset({PM}),
    "Mutation.acknowledgeNotice": frozenset({A}),
    #: Partners in the loop: alerts (to an account, or an office's analysts), redress cases
    #: on the cleared traveller, requests to pass a disclosed record on.
    "Query.alerts": frozenset({A, INV}),
    "Mutation.acknowledgeAlerts": frozenset({A, INV}),
    "Query.redressCases": GRAPH,
    "Mutation.recordRedressCase": frozenset({A}),
    "Mutation.updateRedressCase": frozenset({A}),
    "Query.redisseminationRequests": frozenset({A, PM, INV}),
    "Mutation.requestRedissemination": frozenset({INV}),
    "Mutation.decideRedissemination": frozenset({A}),
    "Mutation.uploadTips": frozenset({A}),
    #: Live alerts over WebSocket (schema.subscriptions): a partner investigator's own, an
    #: analyst's and their office's; the same rows as the alerts query.
    "Subscription.alerts": frozenset({A, INV}),
}

#: Query fields that record something beyond their audit row (a traveller lookup records the
#: lookup, what it disclosed, and any deconfliction notice it raises). Like mutations, they
#: run over POST only: a GET must change nothing, or a link or an image on another site
#: could make a signed-in browser run them. ``schema.safe_methods`` refuses them over GET
#: (HTTP 405, ``METHOD_NOT_ALLOWED``), and their schema descriptions say so.
WRITING_QUERIES: frozenset[str] = frozenset({"Query.travellerLookup", "Query.screenPassengers"})

#: Roles whose clients are tools outside the platform (a partner agency's targeting system, a
#: statistics client): they may run only the registered documents of ``schema/documents/``
#: (``schema.trusted_documents``; a free text equal to one counts), never a document of their
#: own (``DOCUMENT_NOT_TRUSTED``). Every other role may run any document.
TRUSTED_DOCUMENTS_ONLY: frozenset[str] = frozenset({INV, RC})
#: The error code of a document such a role may not run (audited DENIED).
DOCUMENT_NOT_TRUSTED = "DOCUMENT_NOT_TRUSTED"

#: Fields beyond a partner-agency investigator's need to know: refused to investigators,
#: field by field, with extensions.code NEED_TO_KNOW.
NEED_TO_KNOW: frozenset[str] = frozenset(
    {
        "Tip.source",
        "Tip.narrative",
        "Tip.actionableReason",
        "Tip.victims",
        "Tip.researchResults",
        "Tip.leads",
        "Tip.links",
        "Tip.priorityExplanation",
        "Tip.handsOn",
        "Tip.accessToChildren",
        "Tip.cluster",
        "Subject.leads",
        "Identifier.researchResults",
    }
)

ROLE_NAMES: dict[str, str] = {
    A: "analysts",
    INV: "investigators",
    PM: "program managers",
    SA: "system administrators",
    AU: "auditors",
    RC: "reporting clients",
}


def describe(key: str, text: str) -> str:
    """``text`` followed by who may call the field, for the schema description."""
    roles = OPERATIONS[key]
    if roles == EVERYONE:
        who = "every signed-in role"
    else:
        who = ", ".join(ROLE_NAMES[r] for r in Role if r in roles)
    if key in WRITING_QUERIES:
        text = f"{text} Records what it does, so POST only (over GET: METHOD_NOT_ALLOWED)."
    return f"{text} Allowed: {who}."
