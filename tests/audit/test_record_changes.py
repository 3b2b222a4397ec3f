"""Database triggers record the before and after of every write to a domain table."""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.db import connection
from django.db.models import CharField, Model
from django.test.utils import isolate_apps

from audit.history import changes_for, changes_in_context
from audit.models import RecordChange
from audit.protections import triggered_tables
from audit.writer import new_context, set_context
from backend.models import ApiToken, LinkExclusion, Office, Tip
from backend.registry import REGISTRY, Exempt, check_every_model_decided, missing_entries
from tests.factories import (
    IdentifierFactory,
    NoteFactory,
    OfficeFactory,
    SightingFactory,
    TipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _db_user() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        return cursor.fetchone()[0]


def _expected_history(models: list[type[Model]]) -> dict[str, tuple[str, ...]]:
    """Table -> hidden columns for every concrete model not exempt in the registry; a model
    with no registry entry fails here, with a message naming it."""
    expected = {}
    for model in models:
        if model._meta.proxy or not model._meta.managed:
            continue
        label = model._meta.label
        assert label in REGISTRY, f"{label} has no tracking decision in backend/registry.py"
        entry = REGISTRY[label]
        if not isinstance(entry, Exempt):
            expected[model._meta.db_table] = entry.hidden
    return expected


def test_every_tracked_table_has_the_history_trigger_and_no_other():
    # given every concrete model Django knows, automatic many-to-many tables included
    expected = _expected_history(list(apps.get_models(include_auto_created=True)))
    # when the triggers in the database are read
    actual = triggered_tables(connection)
    # then exactly the tracked tables carry one, each hiding the registry's columns
    assert actual == expected
    # and the tables missing from the frozen list of migration 0002 are among them
    assert {
        "backend_cluster",
        "backend_linkexclusion",
        "backend_deconflictionnotice",
        "backend_noticerecipient",
        "backend_importjob",
    } <= set(actual)
    assert actual["backend_user"] == ("password",)
    assert actual["backend_apitoken"] == ("key_hash",)


def test_a_new_model_without_a_tracking_decision_fails():
    # given a model of a new app that nobody entered in the registry
    with isolate_apps("tests"):

        class Informant(Model):  # noqa: DJ008
            name = CharField(max_length=50)

            class Meta:
                app_label = "tests"

        # when the expected history is derived, then it fails naming the model
        with pytest.raises(AssertionError, match=r"tests\.Informant has no tracking decision"):
            _expected_history([Informant])
        # and the registry's own check names it too
        assert missing_entries([Informant]) == ["tests.Informant"]


def test_the_system_check_passes_for_the_project_and_fails_for_an_undecided_model(monkeypatch):
    # given the project's models, then every one has an entry
    assert check_every_model_decided() == []
    # when one entry is missing
    monkeypatch.delitem(REGISTRY, "backend.Cluster")
    # then the check reports it by label and code
    problems = check_every_model_decided()
    assert [(p.id, p.msg) for p in problems] == [
        ("backend.E001", "backend.Cluster has no entry in backend/registry.py")
    ]


def test_an_exemption_needs_a_reason():
    with pytest.raises(ValueError, match="needs its reason"):
        Exempt(reason=" ")


def test_writes_to_the_newly_tracked_tables_keep_their_history():
    # given a context id on the connection
    context_id = new_context()
    set_context(context_id)
    # when a link exclusion is written (a table missing from migration 0002's list)
    user = UserFactory()
    exclusion = LinkExclusion.objects.create(
        kind="EMAIL", value="shared@example.test", reason="help desk address", created_by=user
    )
    set_context(None)
    # then its insert is recorded with the operation's context
    [change] = changes_for(LinkExclusion, exclusion.pk)
    assert (change.operation, change.context_id) == ("INSERT", context_id)
    assert change.after["reason"] == "help desk address"


def test_orm_insert_and_update_keep_before_and_after_with_the_context():
    # given a context id on the connection
    context_id = new_context()
    set_context(context_id)
    # when an office is created and renamed through the ORM
    office = OfficeFactory(name="North", region="N", contact_point="north@example.test")
    office.name = "North-East"
    office.save()
    set_context(None)
    # then both writes are recorded, in order, with the context id and the database user
    changes = list(changes_for("backend_office", office.pk))
    assert [(c.operation, c.context_id, c.db_user) for c in changes] == [
        ("INSERT", context_id, _db_user()),
        ("UPDATE", context_id, _db_user()),
    ]
    row = {"id": office.pk, "name": "North", "region": "N", "contact_point": "north@example.test"}
    assert (changes[0].before, changes[0].after) == (None, row)
    assert (changes[1].before, changes[1].after) == (row, {**row, "name": "North-East"})
    assert changes[1].row_id == str(office.pk)
    assert changes[1].table_name == "backend_office"


def test_raw_sql_update_is_recorded():
    # given an office, and a context id
    office = OfficeFactory(name="South", region="S")
    context_id = new_context()
    set_context(context_id)
    # when it is changed with raw SQL, bypassing the ORM
    with connection.cursor() as cursor:
        cursor.execute("UPDATE backend_office SET region = %s WHERE id = %s", ["SW", office.pk])
    # then the trigger recorded it under the context
    (change,) = changes_in_context(context_id)
    assert (change.table_name, change.row_id, change.operation) == (
        "backend_office",
        str(office.pk),
        "UPDATE",
    )
    assert (change.before["region"], change.after["region"]) == ("S", "SW")
    assert change.before["name"] == change.after["name"] == "South"


def test_delete_is_recorded_with_its_cascade():
    # given a tip seen with an identifier
    sighting = SightingFactory()
    tip = sighting.tip
    context_id = new_context()
    set_context(context_id)
    # when the tip is deleted (its sightings cascade)
    Tip.objects.filter(pk=tip.pk).delete()
    # then both deletes are recorded with their last state and no after
    changes = list(changes_in_context(context_id))
    assert [(c.table_name, c.row_id, c.operation, c.after) for c in changes] == [
        ("backend_tipidentifier", str(sighting.pk), "DELETE", None),
        ("backend_tip", str(tip.pk), "DELETE", None),
    ]
    assert changes[0].before["identifier_id"] == sighting.identifier_id
    assert changes[1].before["source_reference"] == tip.source_reference
    assert changes[1].before["narrative"] == "Fake narrative for tests."


def test_changes_without_a_context_have_none():
    # given no context on the connection
    set_context(None)
    # when a record is written
    office = OfficeFactory()
    # then its change has no context id
    assert [c.context_id for c in changes_for(Office, office.pk)] == [None]


def test_notes_are_recorded_when_added():
    # given / when a note is added to a tip
    note = NoteFactory(body="Matched at port")
    # then its insert is recorded
    (change,) = changes_for("backend_note", note.pk)
    assert (change.operation, change.before, change.after["body"]) == (
        "INSERT",
        None,
        "Matched at port",
    )


def test_user_password_is_never_recorded():
    # given a user, whose password then changes
    user = UserFactory(username="pw-user")
    first_hash = user.password
    user.set_password("another correct horse battery")
    user.save()
    user.refresh_from_db()
    # when the user's record changes are read
    changes = list(changes_for("backend_user", user.pk))
    # then both writes are recorded, without the password column or any of its hashes
    assert [c.operation for c in changes] == ["INSERT", "UPDATE"]
    assert changes[1].before["username"] == "pw-user"
    for change in changes:
        for image in (change.before, change.after):
            assert image is None or "password" not in image
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM audit_recordchange "
            "WHERE before::text LIKE %s OR after::text LIKE %s "
            "OR before::text LIKE %s OR after::text LIKE %s",
            [f"%{first_hash}%", f"%{first_hash}%", f"%{user.password}%", f"%{user.password}%"],
        )
        assert cursor.fetchone()[0] == 0


def test_api_token_hash_is_never_recorded():
    # given / when a token is issued and then renamed
    token, raw = ApiToken.issue(user=UserFactory(), name="cli", days=10)
    ApiToken.objects.filter(pk=token.pk).update(name="renamed")
    # then its changes omit key_hash
    changes = list(changes_for(ApiToken, token.pk))
    assert [c.operation for c in changes] == ["INSERT", "UPDATE"]
    assert (changes[1].before["name"], changes[1].after["name"]) == ("cli", "renamed")
    stored = json.dumps([[c.before, c.after] for c in changes])
    assert "key_hash" not in stored
    assert token.key_hash not in stored
    assert raw not in stored


def test_changes_for_accepts_a_model_or_a_table_and_orders_oldest_first():
    # given an identifier written three times
    identifier = IdentifierFactory()
    identifier.save()
    identifier.save()
    # when its history is read by model and by table name
    by_model = list(changes_for(type(identifier), identifier.pk))
    by_table = list(changes_for("backend_identifier", str(identifier.pk)))
    # then both give the three writes, oldest first
    assert by_model == by_table
    assert [c.operation for c in by_model] == ["INSERT", "UPDATE", "UPDATE"]
    assert [c.pk for c in by_model] == sorted(c.pk for c in by_model)


def test_context_of_another_operation_is_separate():
    # given two operations, each with its own context
    first, second = new_context(), new_context()
    set_context(first)
    tip = TipFactory()
    set_context(second)
    Tip.objects.filter(pk=tip.pk).update(narrative="Updated narrative.")
    set_context(None)
    # when each context's changes are read
    in_first = [(c.table_name, c.operation) for c in changes_in_context(first)]
    in_second = [(c.table_name, c.operation) for c in changes_in_context(second)]
    # then each holds only its own writes
    assert in_first == [("backend_source", "INSERT"), ("backend_tip", "INSERT")]
    assert in_second == [("backend_tip", "UPDATE")]
    assert RecordChange.objects.filter(context_id__isnull=True).count() == 0
