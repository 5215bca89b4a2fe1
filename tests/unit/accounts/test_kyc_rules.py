"""The KYC upgrade's pure rules: GB 11643 resident ID numbers and the sandbox decision."""

from __future__ import annotations

from datetime import date

import pytest

from services.accounts.kyc_rules import (
    AUTO_APPROVE_SCORE,
    MAGIC_REFUSED_ID,
    ApplicationPending,
    IdNumberInUse,
    InvalidIdNumber,
    KycNotAllowed,
    Status,
    check_can_apply,
    check_character,
    check_id_number,
    check_id_number_free,
    decide,
    same_name,
)

TODAY = date(2026, 12, 1)


@pytest.mark.parametrize(
    ("number", "born_on"),
    [
        ("11010519491231002X", date(1949, 12, 31)),  # the standard's own example, check character X
        ("110101199003074477", date(1990, 3, 7)),
        ("11010519491231002x", date(1949, 12, 31)),  # a lower-case x is read as X
        (" 110101199003074477 ", date(1990, 3, 7)),  # surrounding spaces are dropped
        (MAGIC_REFUSED_ID, date(1990, 3, 7)),  # the sandbox's magic number is itself valid
    ],
)
def test_a_valid_id_number_is_accepted_with_its_birth_date(number: str, born_on: date) -> None:
    assert check_id_number(number, TODAY).born_on == born_on


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("", "18 characters"),
        ("11010519491231002", "18 characters"),
        ("11010519491231002X1", "18 characters"),
        ("110105194912310021", "check character"),
        ("110101199003074478", "check character"),
        ("1101011990030744X7", "17 digits"),
        ("11010119900307447A", "17 digits"),
        ("1101011990030744\uff177", "17 digits"),  # a full-width digit
        ("010101199003074477", "region code"),
        ("110101199002304471", "not a real day"),  # 30 February
        ("110101199013074471", "not a real day"),
        ("110101202701014471", "not plausible"),  # born after today
        ("440524188001010014", "not plausible"),  # a valid checksum, born 1880
    ],
)
def test_an_invalid_id_number_is_refused_with_its_reason(number: str, why: str) -> None:
    with pytest.raises(InvalidIdNumber, match=why) as refused:
        check_id_number(number, TODAY)
    assert refused.value.code == "invalid-id-number"


def test_changing_any_one_digit_changes_the_check_character() -> None:
    # ISO 7064 MOD 11-2 catches every single-digit substitution.
    first17 = "11010119900307447"
    for i in range(17):
        for d in set("0123456789") - {first17[i]}:
            assert check_character(first17[:i] + d + first17[i + 1 :]) != "7"


def test_the_magic_number_is_refused_whatever_the_face_match() -> None:
    decision = decide(check_id_number(MAGIC_REFUSED_ID, TODAY), 1.0, AUTO_APPROVE_SCORE)
    assert (decision.status, decision.reason) == (Status.REFUSED, "sandbox_magic_id")


@pytest.mark.parametrize(
    ("score", "status"),
    [(0.9, Status.APPROVED), (1.0, Status.APPROVED), (0.8999, Status.PENDING), (0.0, Status.PENDING)],
)
def test_a_face_match_at_the_threshold_is_approved_below_it_waits(score: float, status: Status) -> None:
    assert decide(check_id_number("110101199003074477", TODAY), score, 0.9).status is status


def test_only_a_customer_below_class_i_without_a_waiting_application_may_apply() -> None:
    check_can_apply("II", pending=False)
    check_can_apply("III", pending=False)
    with pytest.raises(KycNotAllowed):
        check_can_apply("I", pending=False)
    with pytest.raises(ApplicationPending):
        check_can_apply("II", pending=True)


@pytest.mark.parametrize(
    ("legal", "registered"),
    [
        ("Wang Fang", "Wang Fang"),
        ("wang fang", "WANG FANG"),  # case
        ("  Wang   Fang ", "WangFang"),  # spaces
        ("\uff37\uff41\uff4e\uff47\u3000\uff26\uff41\uff4e\uff47", "Wang Fang"),  # full-width letters and space
        ("\u738b \u82b3", "\u738b\u82b3"),  # 王 芳: a space between the characters
    ],
)
def test_a_legal_name_matches_the_registered_name_whatever_its_case_spaces_and_width(
    legal: str, registered: str
) -> None:
    assert same_name(legal, registered)


@pytest.mark.parametrize(
    ("legal", "registered"), [("Wang Fang", "Zhao Attacker"), ("Wang Fang", "Wang Fan"), ("\u738b\u82b3", "Wang Fang")]
)
def test_a_different_legal_name_does_not_match(legal: str, registered: str) -> None:
    assert not same_name(legal, registered)


def test_a_legal_name_mismatch_waits_for_an_officer_whatever_the_face_match() -> None:
    decision = decide(check_id_number("110101199003074477", TODAY), 1.0, 0.9, name_matches=False)
    assert (decision.status, decision.reason) == (Status.PENDING, "legal_name_mismatch")


def test_the_magic_number_is_refused_even_under_another_name() -> None:
    decision = decide(check_id_number(MAGIC_REFUSED_ID, TODAY), 1.0, 0.9, name_matches=False)
    assert decision.status is Status.REFUSED


def test_the_digest_is_keyed_and_ignores_how_the_number_was_typed() -> None:
    key, other_key = b"k" * 32, b"o" * 32
    typed = check_id_number(" 11010519491231002x", TODAY).digest(key)
    assert typed == check_id_number("11010519491231002X", TODAY).digest(key)
    assert typed != check_id_number("11010519491231002X", TODAY).digest(other_key)
    assert "11010519491231002X" not in typed and len(typed) == 64


def test_a_number_vouches_for_one_customer() -> None:
    check_id_number_free(None, "a")
    check_id_number_free("a", "a")  # the same customer applying again
    with pytest.raises(IdNumberInUse) as refused:
        check_id_number_free("a", "b")
    assert refused.value.code == "id-number-in-use"
