"""R03, R17: remittance details (bankgiro, IBAN, BIC, OCR reference) are validated by
libraries and printed on invoices for check/wire customers."""
from __future__ import annotations


import pytest
from hypothesis import given, strategies as st

from portal.billing.invoicing.remittance import (InvalidRemittanceDetails, RemittanceDetails,
                                       is_valid_ocr, ocr_reference, remittance_from_config)
from portal.config import from_environment

# Bankgirot's own bankgiro; Sweden's IBAN example from the SWIFT IBAN registry; SEB's BIC.
VALID = {"REMITTANCE_BANKGIRO": "5050-1055",
         "REMITTANCE_IBAN": "SE4550000000058398257466",
         "REMITTANCE_BIC": "ESSESESS"}


def reference_luhn_digit(body: str) -> str:
    """Independent mod-10 check digit: double every second digit from the right."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)  # i == 0 sits next to the check digit
        total += d - 9 if d > 9 else d
    return str(-total % 10)


# --- OCR reference ------------------------------------------------------------------

def test_r03_ocr_reference_known_answers():
    number = "202610000001"  # an invoice number from before the one series (B6): still 12 digits
    body = number + "4"  # 12 digits + length digit + check digit = 14 → length digit 4
    assert ocr_reference(number) == body + reference_luhn_digit(body) == "20261000000145"
    # Published Luhn example (Wikipedia, "Luhn algorithm"): 7992739871 has check digit 3.
    # Nine invoice digits give an 11-digit reference, so the length digit is 1.
    assert ocr_reference("799273987") == "79927398713"


def test_r03_ocr_round_trip_and_spaces():
    ref = ocr_reference("202610000001")
    assert is_valid_ocr(ref)
    assert is_valid_ocr(" ".join(ref[i:i + 4] for i in range(0, len(ref), 4)))


def test_r03_invalid_ocr_detected():
    ref = ocr_reference("202610000001")
    changed = ref[:3] + str((int(ref[3]) + 1) % 10) + ref[4:]
    assert not is_valid_ocr(changed)
    # Wrong length digit, with the Luhn digit recomputed so only the length digit is wrong.
    body = "202610000001" + "5"
    assert not is_valid_ocr(body + reference_luhn_digit(body))
    for bad in ("", "1", "12a4", "²3", "1" * 26):
        assert not is_valid_ocr(bad)


@pytest.mark.parametrize("bad", ["", "12-34", "abc", "١٢٣", "1" * 24])
def test_r03_ocr_reference_rejects_non_digits_and_overlong(bad):
    with pytest.raises(ValueError):
        ocr_reference(bad)


def test_r03_ocr_reference_length_limits():
    assert len(ocr_reference("1" * 23)) == 25
    assert len(ocr_reference("7")) == 3


@given(st.text(alphabet="0123456789", min_size=1, max_size=20), st.data())
def test_r03_every_ocr_is_valid_and_detects_single_digit_errors(number, data):
    ref = ocr_reference(number)
    assert is_valid_ocr(ref)
    assert ref[-1] == reference_luhn_digit(ref[:-1])
    pos = data.draw(st.integers(0, len(ref) - 1), label="position")
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != ref[pos]]), label="digit")
    assert not is_valid_ocr(ref[:pos] + digit + ref[pos + 1:])


# --- provider settings ----------------------------------------------------------------

def test_r17_current_defaults_are_valid():
    defaults = from_environment({"PORTAL_ENV": "development"})
    details = remittance_from_config(defaults)
    assert details == RemittanceDetails(bankgiro="5050-1055", iban="SE4550000000058398257466",
                                        iban_display="SE45 5000 0000 0583 9825 7466",
                                        bic="ESSESESS", ocr=None)


def test_r17_remittance_for_invoice_carries_its_ocr():
    provider = remittance_from_config(VALID)
    details = provider.for_invoice("202610000001")
    assert details.ocr == "20261000000145"
    assert provider.ocr is None  # frozen: the provider-level object is unchanged
    assert (details.bankgiro, details.iban, details.bic) == (
        provider.bankgiro, provider.iban, provider.bic)


def test_r17_settings_are_normalised():
    details = remittance_from_config({
        "REMITTANCE_BANKGIRO": " 50501055 ",
        "REMITTANCE_IBAN": "se45 5000 0000 0583 9825 7466",
        "REMITTANCE_BIC": "esse sess"})
    assert (details.bankgiro, details.iban, details.bic) == (
        "5050-1055", "SE4550000000058398257466", "ESSESESS")


@pytest.mark.parametrize("seven", ["991234", "123456", "500000"])
def test_r17_bankgiro_display_seven_and_eight_digits(seven):
    bg7 = seven + reference_luhn_digit(seven)
    assert remittance_from_config({**VALID, "REMITTANCE_BANKGIRO": bg7}).bankgiro == \
        f"{bg7[:3]}-{bg7[3:]}"
    assert remittance_from_config({**VALID, "REMITTANCE_BANKGIRO": "50501055"}).bankgiro == \
        "5050-1055"


@pytest.mark.parametrize("key, value, why", [
    ("REMITTANCE_BANKGIRO", "5050-1056", "check digit"),
    ("REMITTANCE_BANKGIRO", "505-105", "7–8 digits"),
    ("REMITTANCE_BANKGIRO", "5050-105X", "7–8 digits"),
    ("REMITTANCE_IBAN", "SE4650000000058398257466", "not a valid IBAN"),  # bad checksum
    ("REMITTANCE_IBAN", "SE455000000005839825746", "not a valid IBAN"),  # too short
    ("REMITTANCE_BIC", "ESSE12SS", "not a valid BIC"),  # digits in the country code
    ("REMITTANCE_BIC", "ESSESES", "not a valid BIC"),  # 7 characters
    ("REMITTANCE_BIC", "", "not set"),
])
def test_r17_invalid_settings_are_rejected_by_name(key, value, why):
    with pytest.raises(InvalidRemittanceDetails) as caught:
        remittance_from_config({**VALID, key: value})
    assert caught.value.setting == key
    assert key in str(caught.value) and why in str(caught.value)


def test_r17_missing_setting_is_named():
    config = dict(VALID)
    del config["REMITTANCE_IBAN"]
    with pytest.raises(InvalidRemittanceDetails, match="REMITTANCE_IBAN"):
        remittance_from_config(config)
