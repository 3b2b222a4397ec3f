"""Clusters of linked tips (backend.services.clusters) and the linking guards around them:
the per-identifier cap, the exclusion list, the IP window, manual links and removals."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection, transaction
from django.db.models import Q

from backend.errors import DuplicateRecord, InvalidInput
from backend.models import Cluster, Identifier, LinkExclusion, Tip, TipCategory, TipLink
from backend.services.clusters import rebuild_clusters
from backend.services.linking import (
    add_link_exclusion,
    add_manual_link,
    link_tips,
    remove_link,
    remove_link_exclusion,
)
from backend.services.tips import SightingSpec, add_identifier_to_tip, create_tip
from tests.factories import (
    IdentifierFactory,
    SightingFactory,
    SourceFactory,
    TipFactory,
    service_tip,
)

RECEIVED = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)
TIMEOUT = 30


def _tip(reference: str, *specs: SightingSpec, received_at: dt.datetime = RECEIVED) -> Tip:
    return service_tip(reference, identifiers=specs, received_at=received_at)


def _email(value: str) -> SightingSpec:
    return SightingSpec(kind="EMAIL", value=value)


def _ip(value: str, at: dt.datetime | None) -> SightingSpec:
    return SightingSpec(kind="IP_ADDRESS", value=value, event="LOGIN", captured_at=at)


def _clusters() -> set[frozenset[int]]:
    """Every cluster as the set of its tips; checks each stored size on the way."""
    found = set()
    for cluster in Cluster.objects.all():
        tips = frozenset(Tip.objects.filter(cluster=cluster).values_list("pk", flat=True))
        assert cluster.size == len(tips), cluster
        found.add(tips)
    return found


def _groups(*tips: tuple[Tip, ...]) -> set[frozenset[int]]:
    return {frozenset(t.pk for t in group) for group in tips}


def _live_links(a: Tip, b: Tip) -> TipLink:
    return TipLink.objects.get(from_tip=a, to_tip=b, removed_at__isnull=True)


@pytest.mark.django_db
class TestClusters:
    def test_an_unlinked_tip_gets_a_cluster_of_one(self):
        # when a tip that shares nothing arrives
        tip = _tip("A", _email("alone@example.com"))
        # then it is alone in a cluster of size 1
        assert _clusters() == _groups((tip,))
        tip.refresh_from_db()
        assert tip.cluster.size == 1

    def test_chain_a_b_b_c_gives_one_cluster_of_three(self):
        # given A-B share an e-mail and B-C a phone
        a = _tip("A", _email("ab@example.com"))
        b = _tip("B", _email("ab@example.com"), SightingSpec(kind="PHONE", value="+12025550143"))
        # when C arrives with B's phone
        c = _tip("C", SightingSpec(kind="PHONE", value="+1 202 555 0143"))
        # then A, B and C are one cluster of 3, and no other cluster is left over
        assert _clusters() == _groups((a, b, c))
        assert Cluster.objects.count() == 1
        assert Cluster.objects.get().size == 3

    def test_removing_the_b_c_link_splits_the_cluster(self):
        # given the chain A-B, B-C
        a = _tip("A", _email("ab@example.com"))
        b = _tip("B", _email("ab@example.com"), _email("bc@example.com"))
        c = _tip("C", _email("bc@example.com"))
        original = Tip.objects.get(pk=a.pk).cluster_id
        # when the B-C link is removed as wrong
        link = _live_links(b, c)
        remove_link(by=None, link=link, reason="different people behind the same address")
        # then {A, B} keep the cluster and C is alone in a new one
        assert _clusters() == _groups((a, b), (c,))
        assert Tip.objects.get(pk=a.pk).cluster_id == original
        assert Tip.objects.get(pk=c.pk).cluster_id != original
        # and the link (one row, for both tips) is removed, with who, when and why
        halves = TipLink.objects.filter(identifier__value="bc@example.com")
        assert list(halves.values_list("from_tip_id", "to_tip_id")) == [(b.pk, c.pk)]
        assert not TipLink.objects.filter(
            Q(from_tip=c) | Q(to_tip=c), removed_at__isnull=True
        ).exists()
        assert all(h.removed_at is not None for h in halves)
        assert set(halves.values_list("removed_reason", flat=True)) == {
            "different people behind the same address"
        }

    def test_a_removed_link_does_not_split_when_another_path_remains(self):
        # given A and B linked by an e-mail and a phone
        a = _tip("A", _email("x@example.com"), SightingSpec(kind="PHONE", value="+12025550143"))
        b = _tip("B", _email("x@example.com"), SightingSpec(kind="PHONE", value="+12025550143"))
        link = TipLink.objects.get(from_tip=a, to_tip=b, identifier__kind="EMAIL")
        # when the e-mail link is removed
        remove_link(by=None, link=link, reason="shared family address")
        # then they stay one cluster through the phone
        assert _clusters() == _groups((a, b))

    def test_a_removed_automatic_link_is_not_recreated(self):
        # given a removed automatic link
        a = _tip("A", _email("x@example.com"))
        b = _tip("B", _email("x@example.com"))
        remove_link(by=None, link=_live_links(a, b), reason="wrong")
        # when linking runs again
        added = link_tips(tip_ids=[a.pk, b.pk])
        # then nothing is re-created and the tips stay apart
        assert added == 0
        assert TipLink.objects.filter(removed_at__isnull=True).count() == 0
        assert _clusters() == _groups((a,), (b,))

    def test_a_bridging_tip_merges_two_clusters_into_the_largest(self):
        # given a cluster of three and a cluster of two
        big = [_tip(f"B{n}", _email("big@example.com")) for n in range(3)]
        small = [_tip(f"S{n}", _email("small@example.com")) for n in range(2)]
        big_cluster = Tip.objects.get(pk=big[0].pk).cluster_id
        assert _clusters() == _groups(tuple(big), tuple(small))
        # when a tip with both addresses arrives
        bridge = _tip("X", _email("big@example.com"), _email("small@example.com"))
        # then all six are one cluster: the larger cluster absorbed the smaller one
        assert _clusters() == _groups((*big, *small, bridge))
        assert list(Cluster.objects.values_list("pk", "size")) == [(big_cluster, 6)]

    def test_adding_an_identifier_to_an_existing_tip_merges(self):
        # given two unrelated tips
        a = _tip("A", _email("a@example.com"))
        b = _tip("B", _email("b@example.com"))
        # when B gains A's address
        add_identifier_to_tip(tip=b, sighting=_email("a@example.com"))
        # then they are one cluster
        assert _clusters() == _groups((a, b))

    def test_rebuild_matches_incremental(self):
        # given clusters maintained incrementally, with a removal
        a = _tip("A", _email("ab@example.com"))
        b = _tip("B", _email("ab@example.com"), _email("bc@example.com"))
        c = _tip("C", _email("bc@example.com"))
        d = _tip("D", _email("d@example.com"))
        remove_link(by=None, link=_live_links(a, b), reason="wrong")
        incremental = _clusters()
        # when every cluster is rebuilt from scratch, then the partition is the same
        assert rebuild_clusters() == 3
        assert _clusters() == incremental == _groups((a,), (b, c), (d,))


@pytest.mark.django_db
class TestOverLinkingGuards:
    def test_the_cap_stops_linking_at_the_limit_and_marks_the_identifier(self, settings):
        # given a cap of 3 tips per identifier and 3 tips sharing an address
        settings.LINK_MAX_TIPS_PER_IDENTIFIER = 3
        first = [_tip(f"T{n}", _email("common@example.com")) for n in range(3)]
        identifier = Identifier.objects.get(value="common@example.com")
        assert identifier.too_common_at is None
        assert TipLink.objects.count() == 3
        # when a fourth tip carries it
        fourth = _tip("T3", _email("common@example.com"))
        # then the fourth is not linked, the identifier is marked too common,
        identifier.refresh_from_db()
        assert identifier.too_common_at is not None
        assert not TipLink.objects.filter(Q(from_tip=fourth) | Q(to_tip=fourth)).exists()
        assert _clusters() == _groups(tuple(first), (fourth,))
        # the existing links stay, and their reason says why no more are made
        assert TipLink.objects.count() == 3
        assert set(TipLink.objects.values_list("reason", flat=True)) == {
            "Both tips contain EMAIL common@example.com (this identifier has since been found "
            "in more than 3 tips: it is too common and links no further tips)"
        }
        # and a fifth tip is not linked either
        fifth = _tip("T4", _email("common@example.com"))
        assert not TipLink.objects.filter(Q(from_tip=fifth) | Q(to_tip=fifth)).exists()
        assert TipLink.objects.count() == 3

    def test_the_cap_applies_to_a_bulk_link_the_same_way(self, settings):
        # given a cap of 2 and three tips written directly with one phone
        settings.LINK_MAX_TIPS_PER_IDENTIFIER = 2
        phone = IdentifierFactory(kind="PHONE", raw_value="+1 202 555 0143")
        tips = [TipFactory() for _ in range(3)]
        for tip in tips:
            SightingFactory(tip=tip, identifier=phone)
        # when they are linked in one call
        added = link_tips(tip_ids=[t.pk for t in tips])
        # then only the first two (by id) are linked and the phone is marked
        assert added == 1
        assert set(TipLink.objects.values_list("from_tip_id", "to_tip_id")) == {
            (tips[0].pk, tips[1].pk),
        }
        phone.refresh_from_db()
        assert phone.too_common_at is not None
        assert _clusters() == _groups((tips[0], tips[1]), (tips[2],))

    def test_an_excluded_value_never_links(self):
        # given the public Wi-Fi address on the exclusion list (written differently)
        exclusion = add_link_exclusion(
            by=None, kind="EMAIL", value=" Help@Example.com ", reason="provider support address"
        )
        assert (exclusion.kind, exclusion.value) == ("EMAIL", "help@example.com")
        # when two tips carry it
        a = _tip("A", _email("help@example.com"))
        b = _tip("B", _email("HELP@example.com"))
        # then they are not linked
        assert TipLink.objects.count() == 0
        assert _clusters() == _groups((a,), (b,))
        # and when the exclusion is removed, the tips sharing it are linked
        remove_link_exclusion(exclusion=exclusion)
        assert LinkExclusion.objects.count() == 0
        assert TipLink.objects.count() == 1
        assert _clusters() == _groups((a, b))

    def test_exclusions_need_a_reason_a_valid_value_and_are_unique(self):
        with pytest.raises(InvalidInput, match="a reason is required"):
            add_link_exclusion(by=None, kind="EMAIL", value="x@example.com", reason="  ")
        with pytest.raises(Exception, match="not-an-ip"):
            add_link_exclusion(by=None, kind="IP_ADDRESS", value="not-an-ip", reason="x")
        add_link_exclusion(by=None, kind="EMAIL", value="x@example.com", reason="x")
        with pytest.raises(DuplicateRecord):
            add_link_exclusion(by=None, kind="EMAIL", value="X@example.com", reason="again")


@pytest.mark.django_db
class TestIpWindow:
    @pytest.mark.parametrize(
        ("gap", "linked", "said"),
        [
            (dt.timedelta(hours=3), True, "3 h"),
            (dt.timedelta(minutes=40), True, "40 min"),
            (dt.timedelta(hours=24), True, "24 h"),
            (dt.timedelta(hours=24, seconds=1), False, None),
            (dt.timedelta(days=30), False, None),
        ],
        ids=["3h", "40min", "boundary", "just-outside", "month"],
    )
    def test_ip_links_respect_the_window(self, gap, linked, said):
        # given a tip that saw an IP address at login
        a = _tip("A", _ip("198.51.100.23", RECEIVED))
        # when another tip saw the same address ``gap`` later
        b = _tip("B", _ip("198.51.100.23", RECEIVED + gap))
        # then they link only within the 24 h window, and the reason says how close they were
        links = list(TipLink.objects.filter(from_tip=a, to_tip=b).values_list("reason", flat=True))
        if linked:
            assert links == [
                f"Both tips contain IP_ADDRESS 198.51.100.23, seen within {said} of each other "
                "(window 24 h)"
            ]
            assert _clusters() == _groups((a, b))
        else:
            assert links == []
            assert _clusters() == _groups((a,), (b,))

    def test_without_capture_time_the_received_time_counts(self, settings):
        # given a window of 2 h and tips with no capture time, received 1 h and 5 h apart
        settings.LINK_IP_WINDOW_HOURS = 2
        a = _tip("A", _ip("2001:db8::1", None), received_at=RECEIVED)
        b = _tip("B", _ip("2001:db8::1", None), received_at=RECEIVED + dt.timedelta(hours=1))
        c = _tip("C", _ip("2001:db8::1", None), received_at=RECEIVED + dt.timedelta(hours=5))
        # then only A and B link
        assert set(TipLink.objects.values_list("from_tip_id", "to_tip_id")) == {
            (a.pk, b.pk),
        }
        assert TipLink.objects.get(from_tip=a).reason == (
            "Both tips contain IP_ADDRESS 2001:db8::1, seen within 1 h of each other (window 2 h)"
        )
        assert _clusters() == _groups((a, b), (c,))

    def test_the_closest_pair_of_sightings_counts(self):
        # given one tip that saw the address twice, a week apart
        a = _tip(
            "A",
            _ip("203.0.113.9", RECEIVED),
            _ip("203.0.113.9", RECEIVED + dt.timedelta(days=7)),
        )
        # when another saw it 2 h after the second sighting
        b = _tip("B", _ip("203.0.113.9", RECEIVED + dt.timedelta(days=7, hours=2)))
        # then they are linked, once, through the closest pair
        assert list(TipLink.objects.filter(from_tip=a).values_list("reason", flat=True)) == [
            "Both tips contain IP_ADDRESS 203.0.113.9, seen within 2 h of each other (window 24 h)"
        ]
        assert TipLink.objects.filter(Q(from_tip=b) | Q(to_tip=b)).count() == 1


@pytest.mark.django_db
class TestManualLinks:
    def test_a_manual_link_merges_and_its_removal_splits(self, analyst):
        # given two unrelated tips
        a = _tip("A", _email("a@example.com"))
        b = _tip("B", _email("b@example.com"))
        # when an analyst links them with a reason
        link = add_manual_link(by=analyst, from_tip=a, to_tip=b, reason="same writing style")
        # then the link is stored once with reason and author, and they are one cluster
        assert (link.from_tip_id, link.to_tip_id, link.kind) == (a.pk, b.pk, "MANUAL")
        assert set(
            TipLink.objects.values_list("from_tip_id", "to_tip_id", "reason", "created_by")
        ) == {
            (a.pk, b.pk, "same writing style", analyst.pk),
        }
        assert _clusters() == _groups((a, b))
        # when it is removed again (read from the other tip's side)
        reverse = TipLink.objects.get(Q(from_tip=b) | Q(to_tip=b))
        remove_link(by=analyst, link=reverse, reason="style match was coincidence")
        # then the link is removed for both tips with the reason and the cluster is split
        assert set(TipLink.objects.values_list("removed_by", "removed_reason").distinct()) == {
            (analyst.pk, "style match was coincidence")
        }
        assert _clusters() == _groups((a,), (b,))
        # and linking them by hand again restores the link with the new reason
        again = add_manual_link(by=analyst, from_tip=a, to_tip=b, reason="confirmed by ISP")
        assert (again.pk, again.reason, again.removed_at) == (link.pk, "confirmed by ISP", None)
        assert TipLink.objects.filter(removed_at__isnull=True).count() == 1
        assert _clusters() == _groups((a, b))

    def test_a_manual_link_from_the_later_tip_is_the_same_row(self, analyst):
        # given two unrelated tips
        a = _tip("A", _email("a@example.com"))
        b = _tip("B", _email("b@example.com"))
        # when an analyst links them from the later one
        link = add_manual_link(by=analyst, from_tip=b, to_tip=a, reason="same writing style")
        # then one row is stored, lower tip first, and the returned link is seen from b
        assert (link.from_tip_id, link.to_tip_id, link.viewer_tip_id) == (a.pk, b.pk, b.pk)
        assert link.other_end(b.pk) == a.pk
        assert TipLink.objects.count() == 1
        # and linking the pair again, from either side, is refused
        with pytest.raises(DuplicateRecord):
            add_manual_link(by=analyst, from_tip=a, to_tip=b, reason="again")

    @pytest.mark.parametrize(
        ("same", "reason", "message", "field"),
        [
            (False, " ", "a reason is required", "reason"),
            (True, "why", "a tip cannot be linked to itself", "toTipId"),
        ],
    )
    def test_manual_link_refusals(self, same, reason, message, field):
        a, b = _tip("A"), _tip("B")
        with pytest.raises(InvalidInput, match=message) as error:
            add_manual_link(by=None, from_tip=a, to_tip=a if same else b, reason=reason)
        assert error.value.field == field
        assert TipLink.objects.count() == 0

    def test_a_second_manual_link_is_a_duplicate(self):
        a, b = _tip("A"), _tip("B")
        add_manual_link(by=None, from_tip=a, to_tip=b, reason="why")
        with pytest.raises(DuplicateRecord):
            add_manual_link(by=None, from_tip=b, to_tip=a, reason="again")

    def test_removing_needs_a_reason_and_a_live_link(self):
        a = _tip("A", _email("x@example.com"))
        b = _tip("B", _email("x@example.com"))
        link = _live_links(a, b)
        with pytest.raises(InvalidInput, match="a reason is required"):
            remove_link(by=None, link=link, reason="")
        remove_link(by=None, link=link, reason="wrong")
        with pytest.raises(InvalidInput, match="already removed"):
            remove_link(by=None, link=link, reason="wrong")


@pytest.mark.django_db
def test_demo_data_gets_exact_clusters():
    from backend.demo import load_demo_data

    # when demo data is loaded (bulk rows, one link_tips call)
    load_demo_data(tips=200, seed=5)
    # then every tip has a cluster, and the clusters are exactly the linked components
    assert not Tip.objects.filter(cluster__isnull=True).exists()
    incremental = _clusters()
    assert sum(len(c) for c in incremental) == 200
    assert any(len(c) > 1 for c in incremental)
    rebuild_clusters()
    assert _clusters() == incremental


# Concurrency: committed transactions on two real connections.


def _in_thread(target, errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            target()
        except BaseException as error:  # reported by the test
            errors.append(error)
        finally:
            connection.close()

    return threading.Thread(target=run, daemon=True)


@pytest.mark.django_db(transaction=True)
def test_two_transactions_sharing_a_new_identifier_end_in_one_cluster():
    # given an identifier no tip carries yet, and two writers that each add a tip with it
    # and wait for each other before linking, so that neither has committed when both link
    phone = IdentifierFactory(kind="PHONE", raw_value="+1 202 555 0199")
    source = SourceFactory()
    both_inserted = threading.Barrier(2)
    errors: list[BaseException] = []
    made: list[int] = []

    def writer(reference: str):
        def run() -> None:
            with transaction.atomic():
                tip = TipFactory(source=source, source_reference=reference)
                SightingFactory(tip=tip, identifier=phone)
                both_inserted.wait(TIMEOUT)
                link_tips(tip_ids=[tip.pk])
                made.append(tip.pk)

        return run

    threads = [_in_thread(writer("R1"), errors), _in_thread(writer("R2"), errors)]
    # when both run at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    # then both committed, the tips are linked (one row) and form one cluster of 2
    assert errors == []
    assert len(made) == 2
    assert set(TipLink.objects.values_list("from_tip_id", "to_tip_id")) == {
        (min(made), max(made)),
    }
    assert _clusters() == {frozenset(made)}
    assert Cluster.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_intakes_of_a_brand_new_value_end_in_one_cluster():
    # given two intakes, through the service, of tips carrying an address never seen before
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    source = SourceFactory()

    def intake(reference: str):
        def run() -> None:
            start.wait(TIMEOUT)
            create_tip(
                by=None,
                source=source,
                source_reference=reference,
                received_at=RECEIVED,
                category=TipCategory.OTHER,
                identifiers=[_email("brand-new@example.com")],
            )

        return run

    threads = [_in_thread(intake("R1"), errors), _in_thread(intake("R2"), errors)]
    # when both start at the same moment
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    # then there is one identifier, and the two tips are one cluster
    assert errors == []
    assert Identifier.objects.filter(value="brand-new@example.com").count() == 1
    assert _clusters() == {frozenset(Tip.objects.values_list("pk", flat=True))}
    assert Tip.objects.count() == 2


@pytest.mark.django_db
def test_deferred_clusters_are_handed_back_not_written():
    # given a stored, clustered tip and two new unclustered tips sharing its e-mail
    stored = _tip("STORED", _email("deferred@example.com"))
    email = Identifier.objects.get(value="deferred@example.com")
    fresh = [TipFactory() for _ in range(2)]
    lone = TipFactory()
    for tip in fresh:
        SightingFactory(tip=tip, identifier=email)
    # when the new tips (and one that links to nothing) are linked with their clusters deferred
    deferred: dict[int, int] = {}
    link_tips(tip_ids=[t.pk for t in (*fresh, lone)], deferred_clusters=deferred)
    # then the caller is handed each new tip's cluster (the stored tip's for the linked ones,
    # a new one for the lone tip), none of them is written, and the sizes already count them
    stored.refresh_from_db()
    assert deferred.keys() == {fresh[0].pk, fresh[1].pk, lone.pk}
    assert deferred[fresh[0].pk] == deferred[fresh[1].pk] == stored.cluster_id
    assert deferred[lone.pk] not in (None, stored.cluster_id)
    assert set(Tip.objects.filter(pk__in=deferred).values_list("cluster_id", flat=True)) == {None}
    sizes = dict(Cluster.objects.values_list("pk", "size"))
    assert (sizes[stored.cluster_id], sizes[deferred[lone.pk]]) == (3, 1)
