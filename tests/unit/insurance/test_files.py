"""A claim's document as a file: its type told by its first bytes, its size, the number a
claim holds, and the name handed back in Content-Disposition."""

from __future__ import annotations

import pytest

from services.insurance.domain import (
    MAX_DOCUMENT_BYTES,
    MAX_DOCUMENTS_PER_CLAIM,
    DocumentTooLarge,
    TooManyDocuments,
    UnsupportedDocumentType,
    check_file,
    check_room,
    safe_filename,
    sniff,
)
from tests.files import pdf, png

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32


@pytest.mark.parametrize(
    ("content", "found"),
    [(pdf(), "application/pdf"), (png(), "image/png"), (JPEG, "image/jpeg"), (b"hello", None), (b"", None)],
)
def test_the_type_is_told_by_the_first_bytes(content: bytes, found: str | None) -> None:
    assert sniff(content) == found


@pytest.mark.parametrize(
    ("declared", "content"),
    [
        ("application/pdf", pdf()),
        ("image/png", png()),
        ("image/jpeg", JPEG),
        ("Application/PDF; charset=binary", pdf()),
    ],
)
def test_a_file_of_its_declared_type_passes(declared: str, content: bytes) -> None:
    assert check_file(declared, content) == declared.split(";")[0].lower()


@pytest.mark.parametrize(
    ("declared", "content"),
    [
        ("application/pdf", b"Just text renamed to .pdf"),
        ("image/png", pdf()),
        ("image/jpeg", png()),
        ("text/plain", b"%PDF-1.4 but declared as text"),
        ("image/gif", b"GIF89a"),
        (None, pdf()),
        ("application/pdf", b""),
    ],
)
def test_a_file_whose_type_or_bytes_are_not_accepted_is_refused(declared: str | None, content: bytes) -> None:
    with pytest.raises(UnsupportedDocumentType):
        check_file(declared, content)


def test_a_file_over_5_mb_is_refused_and_one_at_5_mb_passes() -> None:
    at_limit = b"%PDF-" + b"0" * (MAX_DOCUMENT_BYTES - 5)
    assert check_file("application/pdf", at_limit) == "application/pdf"
    with pytest.raises(DocumentTooLarge):
        check_file("application/pdf", at_limit + b"0")


def test_a_claim_holds_at_most_its_number_of_documents() -> None:
    check_room(MAX_DOCUMENTS_PER_CLAIM - 1)
    with pytest.raises(TooManyDocuments):
        check_room(MAX_DOCUMENTS_PER_CLAIM)


@pytest.mark.parametrize(
    ("name", "media_type", "safe"),
    [
        ("invoice.pdf", "application/pdf", "invoice.pdf"),
        ("../../etc/passwd", "application/pdf", "passwd.pdf"),
        ("C:\\Users\\me\\scan.PNG", "image/png", "scan.png"),
        ("Rechnung für Zahnarzt.pdf", "application/pdf", "Rechnung fur Zahnarzt.pdf"),
        ('a"b;\r\nc.png', "image/png", "a_b_c.png"),
        ("photo.JPEG", "image/jpeg", "photo.jpeg"),
        ("photo", "image/jpeg", "photo.jpg"),
        ("report.pdf", "image/png", "report.pdf.png"),
        ("发票.pdf", "application/pdf", "document.pdf"),
        ("...", "image/png", "document.png"),
        (".hidden.pdf", "application/pdf", "hidden.pdf"),
        (None, "image/jpeg", "document.jpg"),
        ("x" * 500 + ".pdf", "application/pdf", "x" * 116 + ".pdf"),
    ],
)
def test_a_file_name_is_made_safe_for_content_disposition(name: str | None, media_type: str, safe: str) -> None:
    assert safe_filename(name, media_type) == safe
