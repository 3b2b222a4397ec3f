"""A file sent in a multipart request, as the GraphQL view hands it to the resolvers."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile

__all__ = ["UploadRef"]


class UploadRef(dict):
    """A file of a multipart request (GraphQL multipart request spec), as the resolvers get it.

    It is a ``dict`` of the file's name, size and content type, so that the audit row of the
    operation records which file was sent (never its content), and carries the file itself
    in ``.file``."""

    def __init__(self, file: UploadedFile) -> None:
        super().__init__(filename=file.name, size=file.size, contentType=file.content_type)
        self.file = file
