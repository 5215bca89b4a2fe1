"""What a customer writes that others read, and the phone numbers that name customers:
plain text and ASCII digits, so that no line of a receipt and no customer can be forged."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from shared.phone import normalise_phone
from shared.schemas import OneLine, Prose


class Note(BaseModel):
    note: OneLine = ""
    description: Prose = ""


@pytest.mark.parametrize(
    "text",
    ["rent\nAmount     9999.00 CNY", "tab\there", "nul\x00", "\u202elanoitan", "zero\u200bwidth", "bom\ufeff"],
    ids=["a line break", "a tab", "NUL", "a right-to-left override", "a zero-width space", "a byte order mark"],
)
def test_a_one_line_text_refuses_control_and_format_characters(text: str) -> None:
    with pytest.raises(ValidationError, match="control or format character"):
        Note(note=text)


@pytest.mark.parametrize("text", ["lunch 🍜", "午饭 AA", "café", "a\u3000b", "", "  spaced  "])
def test_a_one_line_text_takes_any_script_and_spaces(text: str) -> None:
    assert Note(note=text).note == text


def test_prose_keeps_its_lines_and_tabs_but_not_the_rest() -> None:
    assert Note(description="first\n\tsecond").description == "first\n\tsecond"
    with pytest.raises(ValidationError):
        Note(description="first\r\nsecond")
    with pytest.raises(ValidationError):
        Note(description="turned \u202earound")


@pytest.mark.parametrize(
    "phone",
    ["+8613\uff1926924177", "+86\uff11\uff13926924177", "+8613926924177\n", "+86139269241\u0667\u0667"],
    ids=["a full-width 9", "full-width 1 and 3", "a trailing line break", "Arabic-Indic sevens"],
)
def test_a_phone_number_in_digits_other_than_ascii_is_no_phone_number(phone: str) -> None:
    """A full-width or Arabic-Indic digit is a digit to `\\d`: the number would be a second
    customer's look-alike of a registered one."""
    if phone.endswith("\n"):  # a trailing line break is whitespace, taken away like spaces
        assert normalise_phone(phone) == "+8613926924177"
        return
    with pytest.raises(ValueError, match="mainland China mobile"):
        normalise_phone(phone)


def test_a_phone_number_with_spaces_dashes_and_without_86_is_one_number() -> None:
    assert normalise_phone("139-2692 4177") == normalise_phone("+86 (139) 2692-4177") == "+8613926924177"
