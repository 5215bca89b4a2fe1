"""A claim's document as a file: what the insurer accepts (PDF, JPEG, PNG up to 5 MB, a
few per claim), told by the file's first bytes and not only by the type the phone
declares; and a file name safe to hand back in a Content-Disposition header."""

from __future__ import annotations

import re
import unicodedata

from services.insurance.domain.errors import DocumentTooLarge, TooManyDocuments, UnsupportedDocumentType

MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
MAX_DOCUMENTS_PER_CLAIM = 10
# Each accepted type and the bytes its files start with.
SIGNATURES: dict[str, bytes] = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
}
ACCEPTED_TYPES = tuple(SIGNATURES)
# Each type's file name extensions, the first the one given to a name without one.
_EXTENSIONS = {"application/pdf": (".pdf",), "image/jpeg": (".jpg", ".jpeg"), "image/png": (".png",)}
_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
MAX_FILENAME = 120


def sniff(content: bytes) -> str | None:
    """The accepted type the bytes are, by their signature; None for anything else."""
    for media_type, signature in SIGNATURES.items():
        if content.startswith(signature):
            return media_type
    return None


def check_file(declared: str | None, content: bytes) -> str:
    """The file's content type once it passes: not empty, at most 5 MB, declared as an
    accepted type (parameters such as `; charset` aside) and starting with that type's
    signature. A text file named `.pdf` and sent as application/pdf is refused."""
    if len(content) > MAX_DOCUMENT_BYTES:
        raise DocumentTooLarge(f"a document is limited to {MAX_DOCUMENT_BYTES} bytes; this one has {len(content)}")
    media_type = (declared or "").split(";", 1)[0].strip().lower()
    if media_type not in SIGNATURES:
        raise UnsupportedDocumentType(
            f"content type {media_type or 'none'!r} is not accepted; send one of {', '.join(ACCEPTED_TYPES)}"
        )
    found = sniff(content)
    if found != media_type:
        what = f"a {found} file" if found else "not a PDF, JPEG or PNG file"
        raise UnsupportedDocumentType(f"the file is declared {media_type} but its content is {what}")
    return media_type


def check_room(documents_so_far: int) -> None:
    if documents_so_far >= MAX_DOCUMENTS_PER_CLAIM:
        raise TooManyDocuments(f"a claim holds at most {MAX_DOCUMENTS_PER_CLAIM} documents")


def safe_filename(name: str | None, media_type: str) -> str:
    """A file name for Content-Disposition: the last part of any path the phone sent,
    accents folded to ASCII, anything but letters, digits, `.`, `_`, `-` and spaces
    made `_`, no leading dots, at most 120 characters, ending in an extension of its
    type (lower case; added when the name has another)."""
    base = re.split(r"[\\/]", name or "")[-1]
    stem, dot, extension = base.rpartition(".")
    extensions = _EXTENSIONS.get(media_type, ("",))
    suffix = "." + extension.lower() if dot else ""
    if suffix not in extensions:
        stem, suffix = base, extensions[0]
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    cleaned = _UNSAFE.sub("_", ascii_stem).strip(" ._") or "document"
    return cleaned[: MAX_FILENAME - len(suffix)] + suffix
