"""A claim's documents as files (multipart upload, checked by size and by their bytes,
stored with their SHA-256 and downloadable by the customer and adjusters) and the
e-policy PDF, on insurance's own API."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from services.insurance import domain
from tests.files import pdf, png
from tests.integration.insurance.harness import Insured, Insurer

pytestmark = pytest.mark.broker


async def upload(
    insurer: Insurer, who: Insured, claim_id: str, kind: str, name: str, content: bytes, media_type: str
) -> httpx.Response:
    return await insurer.http.post(
        f"/v1/insurance/claims/{claim_id}/documents",
        data={"kind": kind},
        files={"file": (name, content, media_type)},
        headers=who.headers,
    )


async def reported_claim(insurer: Insurer) -> tuple[Insured, str]:
    who = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)
    r = await insurer.report(who, policy, "accidental_injury", "300.00")
    assert r.status_code == 201, r.text
    return who, r.json()["id"]


async def test_an_uploaded_file_is_listed_downloaded_as_sent_and_counts_for_the_claim(insurer: Insurer) -> None:
    who, claim_id = await reported_claim(insurer)
    invoice, photo = pdf("Invoice 300.00"), png(shade=7)

    first = await upload(
        insurer, who, claim_id, "medical_invoice", "../Rechnung für Arzt.pdf", invoice, "application/pdf"
    )
    second = await upload(insurer, who, claim_id, "accident_report", "scene.png", photo, "image/png")

    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)
    listed = {d["kind"]: d for d in second.json()["documents"]}
    assert listed["medical_invoice"] | {"id": "", "uploaded_at": "", "created_at": "", "content": ""} == {
        "id": "",
        "kind": "medical_invoice",
        "filename": "Rechnung fur Arzt.pdf",
        "size_bytes": len(invoice),
        "content_type": "application/pdf",
        "sha256": hashlib.sha256(invoice).hexdigest(),
        "uploaded_at": "",
        "content": "",
        "name": "Rechnung fur Arzt.pdf",
        "checksum": hashlib.sha256(invoice).hexdigest(),
        "created_at": "",
    }
    for document, sent, media_type in (
        (listed["medical_invoice"], invoice, "application/pdf"),
        (listed["accident_report"], photo, "image/png"),
    ):
        r = await insurer.http.get(document["content"], headers=who.headers)
        assert r.status_code == 200 and r.content == sent
        assert r.headers["content-type"] == media_type
        assert r.headers["etag"] == f'"{hashlib.sha256(sent).hexdigest()}"'
        assert r.headers["content-disposition"] == f'attachment; filename="{document["filename"]}"'
        adjusters = await insurer.http.get(
            f"/v1/adjuster/claims/{claim_id}/documents/{document['id']}/content", headers=insurer.adjuster()
        )
        assert adjusters.status_code == 200 and adjusters.content == sent
    assert (await insurer.submit(who, claim_id)).json()["status"] == "approved"


async def test_the_same_file_twice_is_kept_once(insurer: Insurer) -> None:
    who, claim_id = await reported_claim(insurer)
    photo = png(shade=9)
    assert (await upload(insurer, who, claim_id, "accident_report", "a.png", photo, "image/png")).status_code == 201
    again = await upload(insurer, who, claim_id, "accident_report", "b.png", photo, "image/png")
    assert again.status_code == 200 and len(again.json()["documents"]) == 1


@pytest.mark.parametrize(
    ("name", "content", "media_type", "status", "slug"),
    [
        ("notes.pdf", b"just some text, not a PDF", "application/pdf", 415, "unsupported-document-type"),
        ("photo.png", pdf(), "image/png", 415, "unsupported-document-type"),
        ("notes.txt", b"text", "text/plain", 415, "unsupported-document-type"),
        ("empty.pdf", b"", "application/pdf", 415, "unsupported-document-type"),
        ("big.pdf", b"%PDF-1.4\n" + b"0" * domain.MAX_DOCUMENT_BYTES, "application/pdf", 413, "document-too-large"),
        (
            "huge.pdf",
            b"%PDF-1.4\n" + b"0" * (domain.MAX_DOCUMENT_BYTES + 100_000),
            "application/pdf",
            413,
            "payload-too-large",
        ),
    ],
)
async def test_a_file_refused_adds_nothing(
    insurer: Insurer, name: str, content: bytes, media_type: str, status: int, slug: str
) -> None:
    who, claim_id = await reported_claim(insurer)
    r = await upload(insurer, who, claim_id, "medical_invoice", name, content, media_type)
    assert r.status_code == status and r.headers["content-type"] == "application/problem+json", r.text
    assert r.json()["type"].endswith("/" + slug)
    assert (await insurer.claim(who, claim_id))["documents"] == []


async def test_a_multipart_body_without_its_fields_is_a_422_naming_them(insurer: Insurer) -> None:
    who, claim_id = await reported_claim(insurer)
    r = await insurer.http.post(
        f"/v1/insurance/claims/{claim_id}/documents",
        data={"note": "x"},
        files={"other": ("a", b"b")},
        headers=who.headers,
    )
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["kind", "file"]
    plain = await insurer.http.post(
        f"/v1/insurance/claims/{claim_id}/documents",
        content=b"kind=x",
        headers=who.headers | {"content-type": "text/plain"},
    )
    assert plain.status_code == 415 and plain.json()["type"].endswith("/unsupported-media-type")


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        pytest.param(b'{"kind": "other", "kind": "medical_invoice"', '"kind" twice', id="a name twice"),
        pytest.param(b'{"kind": "other", "name": "caf\xe9.pdf"', "not UTF-8", id="Latin-1"),
    ],
)
async def test_a_json_document_the_insurer_cannot_read_unambiguously_adds_nothing(
    insurer: Insurer, body: bytes, detail: str
) -> None:
    """The older JSON body of a document's metadata is read as every JSON body is."""
    who, claim_id = await reported_claim(insurer)
    rest = b', "size_bytes": 48213, "checksum": "' + hashlib.sha256(b"x").hexdigest().encode() + b'"}'

    r = await insurer.http.post(
        f"/v1/insurance/claims/{claim_id}/documents",
        content=body + rest,
        headers=who.headers | {"content-type": "application/json"},
    )

    assert r.status_code == 400 and r.json()["type"].endswith("/malformed-json"), r.text
    assert detail in r.json()["detail"]
    assert (await insurer.claim(who, claim_id))["documents"] == []


async def test_a_claim_takes_at_most_its_number_of_documents(insurer: Insurer) -> None:
    who, claim_id = await reported_claim(insurer)
    for shade in range(domain.MAX_DOCUMENTS_PER_CLAIM):
        r = await upload(insurer, who, claim_id, "other", "p.png", png(shade=shade), "image/png")
        assert r.status_code == 201, r.text
    r = await upload(insurer, who, claim_id, "other", "p.png", png(shade=200), "image/png")
    assert r.status_code == 409 and r.json()["type"].endswith("/too-many-documents")


async def test_another_customer_gets_404_for_the_file(insurer: Insurer) -> None:
    who, claim_id = await reported_claim(insurer)
    other = await insurer.customer(1_000_00)
    r = await upload(insurer, who, claim_id, "medical_invoice", "i.pdf", pdf(), "application/pdf")
    document = r.json()["documents"][0]
    assert (await insurer.http.get(document["content"], headers=other.headers)).status_code == 404
    assert (
        await upload(insurer, other, claim_id, "medical_invoice", "i.pdf", pdf("x"), "application/pdf")
    ).status_code == 404


async def test_the_e_policy_is_a_pdf_with_the_policy_number_for_its_customer_only(insurer: Insurer) -> None:
    who = await insurer.customer(1_000_00)
    other = await insurer.customer(1_000_00)
    policy = await insurer.active_policy(who)

    r = await insurer.http.get(f"/v1/insurance/policies/{policy['id']}/document", headers=who.headers)

    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.content.startswith(b"%PDF-") and policy["number"].encode() in r.content
    assert policy["sum_insured"].encode() in r.content and policy["premium"].encode() in r.content
    assert r.headers["content-disposition"] == f'attachment; filename="{policy["number"]}.pdf"'
    assert (
        await insurer.http.get(f"/v1/insurance/policies/{policy['id']}/document", headers=other.headers)
    ).status_code == 404
    for staff in (insurer.adjuster(), insurer.adjuster(roles=("operator",))):
        r = await insurer.http.get(f"/v1/adjuster/policies/{policy['id']}/document", headers=staff)
        assert r.status_code == 200 and policy["number"].encode() in r.content
    customers = await insurer.http.get(f"/v1/adjuster/policies/{policy['id']}/document", headers=who.headers)
    assert customers.status_code == 403
