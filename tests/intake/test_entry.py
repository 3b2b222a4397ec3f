"""The one intake entry point (backend/intake/entry.py): its checks, on their own."""

from __future__ import annotations

import pytest

from backend.intake.entry import check_size, choose_format
from backend.intake.records import FileRejected

__all__: list[str] = []


def test_a_file_above_the_limit_is_refused_and_one_at_it_is_not(settings):
    # given
    settings.INTAKE_MAX_BYTES = 100
    # when / then
    check_size(100)
    with pytest.raises(FileRejected) as refused:
        check_size(101)
    assert (refused.value.code, refused.value.message) == (
        "FILE_TOO_LARGE",
        "the file has 101 bytes; at most 100 are accepted",
    )


@pytest.mark.parametrize(
    ("asked", "name", "chosen"),
    [(None, "tips.CSV", "csv"), ("", "t.ndjson", "json"), (" XML ", "tips.csv", "xml")],
)
def test_the_format_asked_for_wins_over_the_extension(asked, name, chosen):
    assert choose_format(asked, name) == chosen


@pytest.mark.parametrize(("asked", "name"), [("pdf", "tips.csv"), (None, "tips.pdf")])
def test_an_unknown_format_is_refused(asked, name):
    with pytest.raises(FileRejected) as refused:
        choose_format(asked, name)
    assert refused.value.code == "UNKNOWN_FORMAT"
