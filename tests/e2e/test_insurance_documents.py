"""A claim's documents as real files through the gateway, as a phone sends them: a PDF and
a PNG uploaded (multipart), listed with their SHA-256, downloaded byte for byte by the
customer and an adjuster; files too large or not what they claim to be refused; another
customer shut out. And the e-policy PDF of a policy."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest

from tests.e2e.phone import Phone, register_and_login
from tests.e2e.test_insurance import adjusters, assert_problem, buy, claim_reaches, funded  # noqa: F401
from tests.files import pdf, png

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]

FIVE_MB = 5 * 1024 * 1024


async def upload(phone: Phone, claim_id: str, kind: str, name: str, content: bytes, media_type: str) -> httpx.Response:
    return await phone.post(
        f"/v1/insurance/claims/{claim_id}/documents", data={"kind": kind}, files={"file": (name, content, media_type)}
    )


async def reported(phone: Phone, policy: dict[str, Any], amount: str = "400.00") -> str:
    r = await phone.post(
        "/v1/insurance/claims",
        json={
            "policy_id": policy["id"],
            "kind": "accidental_injury",
            "amount": amount,
            "incident_date": policy["starts_on"],
        },
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def test_a_pdf_and_a_png_are_uploaded_listed_downloaded_as_sent_and_the_claim_is_paid(
    customer: Phone,
    adjusters: list[dict[str, str]],  # noqa: F811
) -> None:
    account_id = await funded(customer)
    policy = await buy(customer, account_id)
    claim_id = await reported(customer, policy)
    invoice, photo = pdf("Clinic invoice 400.00"), png(width=8, height=8, shade=120)

    r1 = await upload(customer, claim_id, "medical_invoice", "invoice.pdf", invoice, "application/pdf")
    r2 = await upload(customer, claim_id, "accident_report", "scene photo.png", photo, "image/png")

    assert (r1.status_code, r2.status_code) == (201, 201), (r1.text, r2.text)
    listed = {d["kind"]: d for d in (await customer.get(f"/v1/insurance/claims/{claim_id}")).json()["documents"]}
    sent = {
        "medical_invoice": (invoice, "application/pdf", "invoice.pdf"),
        "accident_report": (photo, "image/png", "scene photo.png"),
    }
    for kind, (content, media_type, filename) in sent.items():
        document = listed[kind]
        digest = hashlib.sha256(content).hexdigest()
        assert (document["filename"], document["size_bytes"], document["content_type"], document["sha256"]) == (
            filename,
            len(content),
            media_type,
            digest,
        )
        assert document["uploaded_at"] and document["id"]
        assert document["content"] == f"/v1/insurance/claims/{claim_id}/documents/{document['id']}/content"
        mine = await customer.get(document["content"])
        assert mine.status_code == 200 and mine.content == content
        assert hashlib.sha256(mine.content).hexdigest() == digest
        assert mine.headers["content-type"] == media_type
        assert mine.headers["etag"] == f'"{digest}"'
        assert mine.headers["content-disposition"] == f'attachment; filename="{filename}"'
        theirs = await customer.client.get(
            f"/v1/adjuster/claims/{claim_id}/documents/{document['id']}/content", headers=adjusters[0]
        )
        assert theirs.status_code == 200 and theirs.content == content

    submitted = await customer.post(f"/v1/insurance/claims/{claim_id}/submit")
    assert submitted.json()["status"] == "approved", submitted.text
    await claim_reaches(customer, claim_id, "closed")
    assert await customer.balance(account_id) == 1_000_00 - policy["premium_minor"] + 400_00


async def test_files_too_large_or_not_what_they_claim_are_refused(customer: Phone) -> None:
    policy = await buy(customer, await funded(customer))
    claim_id = await reported(customer, policy)

    just_over = b"%PDF-1.4\n" + b"0" * (FIVE_MB - 8)
    assert_problem(
        await upload(customer, claim_id, "medical_invoice", "big.pdf", just_over, "application/pdf"),
        413,
        "document-too-large",
    )
    far_over = b"%PDF-1.4\n" + b"0" * (FIVE_MB + 200_000)
    assert_problem(
        await upload(customer, claim_id, "medical_invoice", "huge.pdf", far_over, "application/pdf"),
        413,
        "payload-too-large",
    )
    renamed = b"Dear insurer, this is a text file named .pdf\n"
    assert_problem(
        await upload(customer, claim_id, "medical_invoice", "invoice.pdf", renamed, "application/pdf"),
        415,
        "unsupported-document-type",
    )
    assert_problem(
        await upload(customer, claim_id, "accident_report", "photo.png", pdf(), "image/png"),
        415,
        "unsupported-document-type",
    )
    no_file = await customer.post(
        f"/v1/insurance/claims/{claim_id}/documents",
        data={"kind": "medical_invoice"},
        files={"attachment": ("invoice.pdf", pdf(), "application/pdf")},
    )
    assert [e["field"] for e in assert_problem(no_file, 422, "validation-error")["errors"]] == ["file"]
    form = await customer.post(f"/v1/insurance/claims/{claim_id}/documents", data={"kind": "medical_invoice"})
    assert_problem(form, 415, "unsupported-media-type")
    assert (await customer.get(f"/v1/insurance/claims/{claim_id}")).json()["documents"] == []


async def test_another_customer_gets_404_for_the_claims_files(customer: Phone, gateway: httpx.AsyncClient) -> None:
    policy = await buy(customer, await funded(customer))
    claim_id = await reported(customer, policy)
    r = await upload(customer, claim_id, "medical_invoice", "invoice.pdf", pdf("Private"), "application/pdf")
    document = r.json()["documents"][0]
    other = await register_and_login(gateway, name="Someone Else")

    assert_problem(await other.get(document["content"]), 404, "not-found")
    assert_problem(
        await upload(other, claim_id, "medical_invoice", "mine.pdf", pdf("Not theirs"), "application/pdf"),
        404,
        "not-found",
    )
    assert_problem(await other.get(f"/v1/insurance/policies/{policy['id']}/document"), 404, "not-found")


async def test_the_e_policy_is_a_pdf_with_the_policy_number_and_its_terms(
    customer: Phone,
    adjusters: list[dict[str, str]],  # noqa: F811
    operator_headers: dict[str, str],
) -> None:
    policy = await buy(customer, await funded(customer))

    r = await customer.get(f"/v1/insurance/policies/{policy['id']}/document")

    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'attachment; filename="{policy["number"]}.pdf"'
    assert r.headers["etag"] == f'"{hashlib.sha256(r.content).hexdigest()}"'
    assert r.content.startswith(b"%PDF-") and r.content.rstrip().endswith(b"%%EOF")
    for fact in (policy["number"], policy["premium"], policy["sum_insured"], policy["starts_on"], policy["ends_on"]):
        assert str(fact).encode() in r.content, fact
    for staff in (adjusters[0], operator_headers):
        r = await customer.client.get(f"/v1/adjuster/policies/{policy['id']}/document", headers=staff)
        assert r.status_code == 200 and policy["number"].encode() in r.content
    assert_problem(await customer.get(f"/v1/adjuster/policies/{policy['id']}/document"), 403, "forbidden")
