"""Phone numbers in, E.164 out. UK national forms are accepted; landlines refused for SMS."""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from service.errors import InvalidInput

DEFAULT_REGION = "GB"
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalise_mobile(raw: str, field: str = "mobile") -> str:
    try:
        parsed = phonenumbers.parse(raw, DEFAULT_REGION)
    except NumberParseException:
        raise InvalidInput.field(field, "is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput.field(field, "is not a valid phone number")
    if phonenumbers.number_type(parsed) not in _MOBILE_TYPES:
        raise InvalidInput.field(field, "must be a mobile number that can receive SMS")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_phone(raw: str, field: str = "phone") -> str:
    """Any valid number (landlines too), for contacts we call rather than text."""
    try:
        parsed = phonenumbers.parse(raw, DEFAULT_REGION)
    except NumberParseException:
        raise InvalidInput.field(field, "is not a phone number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidInput.field(field, "is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def for_reading(number: str) -> str:
    """An E.164 number as a person dials it: national form at home, international abroad."""
    try:
        parsed = phonenumbers.parse(number, DEFAULT_REGION)
    except NumberParseException:
        return number
    # By country code, not region: the Channel Islands and Man share +44 and dial 0 too.
    home = parsed.country_code == phonenumbers.country_code_for_region(DEFAULT_REGION)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if home
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(parsed, style)
