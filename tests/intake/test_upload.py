"""uploadTips and importJob over the real HTTP endpoint (GraphQL multipart request spec), the
background worker, and the import_tips management command."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from strawberry.relay import GlobalID

from audit.models import AuditEvent
from backend import models as m
from backend.intake import jobs
from backend.intake.importer import import_tips
from backend.models import ApiToken, Role
from permissions.matrix import TRUSTED_DOCUMENTS_ONLY
from tests.conftest import register_document
from tests.factories import SourceFactory, UserFactory

pytestmark = pytest.mark.django_db

UPLOAD = """
mutation Upload($file: Upload!, $sourceId: ID!, $mode: ImportMode, $background: Boolean) {
  uploadTips(file: $file, sourceId: $sourceId, mode: $mode, background: $background) {
    report { new updated unchanged rejected errors { row field reason } }
    job { id status rowsDone }
    errors { code message field }
  }
}
"""
JOB = """
query Job($id: ID!) {
  importJob(id: $id) {
    status rowsDone rowsRejected errorCode
    report { new updated unchanged rejected errors { row field reason } }
  }
}
"""
CSV = (
    "source_reference,received_at,category,narrative,email\n"
    "CT-1,2024-05-01T09:00:00Z,DISTRIBUTION,first,Shared@Example.com\n"
    "CT-2,2024-05-01T10:00:00Z,POSSESSION,second,shared@example.com\n"
    "CT-3,2024-05-01T11:00:00Z,PRODUCTION,third,not an address\n"
)


def bearer(role: str = Role.ANALYST) -> str:
    user = UserFactory(username=f"{role.lower()}-uploader", role=role)
    _, raw = ApiToken.issue(user=user, name="upload", days=1)
    return f"Bearer {raw}"


def source_id(source: m.Source) -> str:
    return str(GlobalID("Source", str(source.pk)))


def upload(
    content: bytes,
    *,
    source: m.Source,
    auth: str,
    filename: str = "tips.csv",
    **variables: Any,
) -> dict[str, Any]:
    """POST a multipart request as the spec lays it out: operations, map, then the file."""
    operations = {
        "query": UPLOAD,
        "variables": {
            "file": None,
            "sourceId": str(GlobalID("Source", str(source.pk))),
            **variables,
        },
    }
    response = Client(enforce_csrf_checks=True).post(
        "/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.file"]}),
            "0": SimpleUploadedFile(filename, content, content_type="text/csv"),
        },
        headers={"Authorization": auth},
    )
    assert response.status_code == 200, response.content
    return response.json()


def poll(job_id: str, auth: str) -> dict[str, Any]:
    response = Client().post(
        "/graphql",
        data=json.dumps({"query": JOB, "variables": {"id": job_id}}),
        content_type="application/json",
        headers={"Authorization": auth},
    )
    return response.json()["data"]["importJob"]


def test_multipart_upload_through_the_http_endpoint_imports_and_reports():
    # given an analyst's bearer token and a CSV file with one malformed e-mail address
    source, auth = SourceFactory(), bearer()
    # when the file is posted as a multipart request
    result = upload(CSV.encode(), source=source, auth=auth)
    # then the valid tips are imported, linked, and the bad row reported with field and reason
    payload = result["data"]["uploadTips"]
    assert payload["errors"] == []
    assert payload["job"] is None
    report = payload["report"]
    assert (report["new"], report["updated"], report["unchanged"], report["rejected"]) == (
        2,
        0,
        0,
        1,
    )
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "email")]
    tips = m.Tip.objects.filter(source=source).order_by("source_reference")
    assert [t.source_reference for t in tips] == ["CT-1", "CT-2"]
    assert tips[0].cluster_id == tips[1].cluster_id is not None
    # and the operation's audit row names the file, never its content
    event = AuditEvent.objects.filter(operation_name="Upload").get()
    assert event.variables["file"] == {
        "filename": "tips.csv",
        "size": len(CSV.encode()),
        "contentType": "text/csv",
    }

    # when the same file is uploaded again
    again = upload(CSV.encode(), source=source, auth=auth)["data"]["uploadTips"]["report"]
    # then nothing is duplicated
    assert (again["new"], again["updated"], again["unchanged"], again["rejected"]) == (0, 0, 2, 1)
    assert m.Tip.objects.filter(source=source).count() == 2


def test_all_or_nothing_upload_with_a_bad_row_imports_nothing():
    # given the same file, uploaded all-or-nothing
    source, auth = SourceFactory(), bearer()
    # when it is posted
    result = upload(CSV.encode(), source=source, auth=auth, mode="ALL_OR_NOTHING")
    # then the bad row is reported and nothing is stored
    report = result["data"]["uploadTips"]["report"]
    assert (report["new"], report["rejected"]) == (0, 1)
    assert m.Tip.objects.count() == 0


# The worker is procrastinate's, on connections of its own: it sees committed rows only.
@pytest.mark.django_db(transaction=True)
def test_background_upload_is_queued_then_run_by_the_worker_with_progress(
    settings, tmp_path, monkeypatch
):
    # given uploads stored under a temporary MEDIA_ROOT, imported one row per batch
    settings.MEDIA_ROOT = tmp_path
    settings.INTAKE_BATCH_SIZE = 1
    source, auth = SourceFactory(), bearer()
    # when a file is uploaded with background=true
    payload = upload(CSV.encode(), source=source, auth=auth, background=True)["data"]["uploadTips"]
    # then a job is queued, its file stored, and nothing imported yet
    assert payload["report"] is None and payload["errors"] == []
    assert (payload["job"]["status"], payload["job"]["rowsDone"]) == ("QUEUED", 0)
    job = m.ImportJob.objects.get()
    assert Path(job.file.path).read_bytes() == CSV.encode()
    assert (job.format, job.mode, job.filename) == ("csv", "ACCEPT_VALID", "tips.csv")
    assert m.Tip.objects.count() == 0
    assert poll(payload["job"]["id"], auth)["status"] == "QUEUED"

    # when the worker runs, while a client polls importJob after every batch
    seen: list[tuple[str, int, int]] = []

    def import_and_poll(**kwargs: Any) -> Any:
        write = kwargs["progress"]

        def progress(done: int, rejected: int) -> None:
            write(done, rejected)
            now = poll(payload["job"]["id"], auth)
            seen.append((now["status"], now["rowsDone"], now["rowsRejected"]))

        return import_tips(**{**kwargs, "progress": progress})

    monkeypatch.setattr(jobs, "import_tips", import_and_poll)
    out = StringIO()
    call_command("run_import_worker", "--once", stdout=out)
    # then progress was written batch by batch and the finished job reports the import
    assert seen == [("RUNNING", 1, 0), ("RUNNING", 2, 0), ("RUNNING", 3, 1)]
    done = poll(payload["job"]["id"], auth)
    assert done == {
        "status": "SUCCEEDED",
        "rowsDone": 3,
        "rowsRejected": 1,
        "errorCode": "",
        "report": {
            "new": 2,
            "updated": 0,
            "unchanged": 0,
            "rejected": 1,
            "errors": [done["report"]["errors"][0] | {"row": 3, "field": "email"}],
        },
    }
    assert m.Tip.objects.filter(source=source).count() == 2
    assert f"job {job.pk} (tips.csv): SUCCEEDED; new 2" in out.getvalue()
    # and a second worker finds the queue empty
    call_command("run_import_worker", "--once", stdout=StringIO())
    assert m.ImportJob.objects.get().attempts == 1


# The worker is procrastinate's, on connections of its own: it sees committed rows only.
@pytest.mark.django_db(transaction=True)
def test_worker_records_a_rejected_file_as_failed(settings, tmp_path):
    # given a queued JSON job whose file is not JSON
    settings.MEDIA_ROOT = tmp_path
    source, auth = SourceFactory(), bearer()
    payload = upload(b"{not json", source=source, auth=auth, filename="tips.json", background=True)[
        "data"
    ]["uploadTips"]
    # when the worker runs it
    call_command("run_import_worker", "--once", stdout=StringIO())
    # then the job failed with the parser's code, and nothing was imported
    done = poll(payload["job"]["id"], auth)
    assert done["status"] == "FAILED"
    assert done["errorCode"] != ""
    assert m.Tip.objects.count() == 0


@pytest.mark.parametrize("role", [r for r in Role if r != Role.ANALYST])
def test_upload_is_forbidden_to_everyone_but_analysts(role):
    # given a caller of another role (whose tool's documents are registered, for a role that
    # may run only those: the role, not the document, is what refuses it)
    source = SourceFactory()
    if role in TRUSTED_DOCUMENTS_ONLY:
        register_document(UPLOAD)
    # when it uploads a file
    result = upload(CSV.encode(), source=source, auth=bearer(role))
    # then it is refused and nothing is written
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert result["data"] is None or result["data"]["uploadTips"] is None
    assert m.Tip.objects.count() == 0
    assert m.ImportJob.objects.count() == 0


def test_oversized_file_is_refused_with_file_too_large_and_nothing_written(settings, tmp_path):
    # given a size limit smaller than the file
    settings.MEDIA_ROOT = tmp_path
    settings.INTAKE_MAX_BYTES = 100
    source, auth = SourceFactory(), bearer()
    # when the file is uploaded, inline or in the background
    for background in (False, True):
        result = upload(CSV.encode(), source=source, auth=auth, background=background)
        # then it is refused with FILE_TOO_LARGE, and neither tips nor a job are written
        payload = result["data"]["uploadTips"]
        assert [e["code"] for e in payload["errors"]] == ["FILE_TOO_LARGE"]
        assert payload["errors"][0]["field"] == "file"
        assert payload["report"] is None and payload["job"] is None
    assert m.Tip.objects.count() == 0
    assert m.ImportJob.objects.count() == 0
    assert list(tmp_path.iterdir()) == []


def test_files_over_the_inline_limit_are_queued(settings, tmp_path):
    # given an inline limit smaller than the file
    settings.MEDIA_ROOT = tmp_path
    settings.INTAKE_INLINE_MAX_BYTES = 10
    source, auth = SourceFactory(), bearer()
    # when it is uploaded without asking for the background
    payload = upload(CSV.encode(), source=source, auth=auth)["data"]["uploadTips"]
    # then it is queued anyway
    assert payload["job"]["status"] == "QUEUED"
    assert m.Tip.objects.count() == 0


def test_unknown_format_and_unknown_source_are_typed_errors():
    # given an analyst
    source, auth = SourceFactory(), bearer()
    # when a file with an unknown extension is uploaded
    result = upload(b"x", source=source, auth=auth, filename="tips.docx")
    # then the parser's code comes back
    assert [e["code"] for e in result["data"]["uploadTips"]["errors"]] == ["UNKNOWN_FORMAT"]
    # when the source does not exist
    source.pk += 1000
    result = upload(CSV.encode(), source=source, auth=auth)
    assert [e["code"] for e in result["data"]["uploadTips"]["errors"]] == ["NOT_FOUND"]


def test_session_upload_without_csrf_token_is_refused():
    # given a browser session of an analyst, with CSRF checks on
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(role=Role.ANALYST))
    source = SourceFactory()
    # when it posts a multipart upload without the CSRF token
    response = client.post(
        "/graphql",
        data={
            "operations": json.dumps(
                {
                    "query": UPLOAD,
                    "variables": {
                        "file": None,
                        "sourceId": str(GlobalID("Source", str(source.pk))),
                    },
                }
            ),
            "map": json.dumps({"0": ["variables.file"]}),
            "0": SimpleUploadedFile("tips.csv", CSV.encode()),
        },
    )
    # then it is refused before anything runs
    assert response.status_code == 403
    assert m.Tip.objects.count() == 0


def test_import_tips_command_imports_a_file_and_summarises(tmp_path):
    # given a CSV file on disk and a source
    path = tmp_path / "tips.csv"
    path.write_text(CSV)
    source = SourceFactory(name="Clearinghouse")
    out, err = StringIO(), StringIO()
    # when the command imports it by source name
    call_command("import_tips", str(path), "--source-name", "Clearinghouse", stdout=out, stderr=err)
    # then the tips are stored and the summary names the counts and the bad row
    assert m.Tip.objects.filter(source=source).count() == 2
    assert "new 2, updated 0, unchanged 0, rejected 1" in out.getvalue()
    assert "row 3, email:" in out.getvalue()
    assert "100%" in err.getvalue()


def test_import_tips_command_errors_exit_with_code_1(tmp_path):
    # given a file and no such source
    path = tmp_path / "tips.csv"
    path.write_text(CSV)
    # when the command runs, then it fails with a clear error (exit code 1)
    with pytest.raises(CommandError, match="no source with id 999"):
        call_command("import_tips", str(path), "--source-id", "999")
    with pytest.raises(CommandError, match="no such file"):
        call_command("import_tips", str(tmp_path / "missing.csv"), "--source-id", "1")
    assert m.Tip.objects.count() == 0
