"""Who issues the invoices: the provider's legal identity, printed on every invoice
(Mervärdesskattelagen 17 kap. 24 §: name, address, VAT registration number; the
Swedish F-tax approval, "Godkänd för F-skatt"; the municipality where its board has its
registered office, "Styrelsens säte", which the Companies Act asks of an aktiebolag's
invoices and letters). From configuration, validated at start-up with python-stdnum,
like the remittance details."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from stdnum.eu import vat
from stdnum.se import orgnr

SETTINGS = ("SELLER_NAME", "SELLER_STREET", "SELLER_POSTCODE", "SELLER_CITY", "SELLER_ORGNR",
            "SELLER_VAT_NUMBER", "SELLER_EMAIL", "SELLER_REGISTERED_OFFICE")

# A municipality's name as Bolagsverket registers it: letters, spaces and hyphens
# ("Stockholm", "Upplands Väsby", "Malung-Sälen"). Not checked against SCB's list of
# the 290 municipalities (none ships with the portal): a misspelling is not caught.
MUNICIPALITY = re.compile(r"[^\W\d_]+(?:[ -][^\W\d_]+)*")


class InvalidSellerDetails(ValueError):
    """A seller setting is missing or invalid; the message names the setting."""

    def __init__(self, setting: str, reason: str) -> None:
        super().__init__(f"{setting}: {reason}")
        self.setting = setting


@dataclass(frozen=True)
class Seller:
    name: str
    street: str                # "Box 1234"
    postcode: str              # "111 22"
    city: str
    org_number: str            # NNNNNN-NNNN
    vat_number: str            # SE + org number + 01
    f_tax: bool                # "Godkänd för F-skatt"
    email: str
    # The municipality of the registered office (säte). Empty only on invoices frozen
    # before it was kept (issue 30): they print none.
    registered_office: str = ""

    @property
    def address(self) -> tuple[str, ...]:
        """The address lines, as printed on a Swedish invoice."""
        return self.street, f"{self.postcode} {self.city}"


def seller_from_config(config: Mapping) -> Seller:
    values = {}
    for key in SETTINGS:
        value = config.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidSellerDetails(key, "is not set")
        values[key] = value.strip()
    if not orgnr.is_valid(values["SELLER_ORGNR"]):
        raise InvalidSellerDetails("SELLER_ORGNR", f"{values['SELLER_ORGNR']!r} is not a Swedish organisationsnummer")
    if not vat.is_valid(values["SELLER_VAT_NUMBER"]):
        raise InvalidSellerDetails("SELLER_VAT_NUMBER", f"{values['SELLER_VAT_NUMBER']!r} is not an EU VAT number")
    office = values["SELLER_REGISTERED_OFFICE"]
    if not MUNICIPALITY.fullmatch(office) or len(office) > 50:
        raise InvalidSellerDetails("SELLER_REGISTERED_OFFICE",
                                   f"{office!r} is not the name of a Swedish municipality (e.g. Stockholm)")
    return Seller(name=values["SELLER_NAME"], street=values["SELLER_STREET"], postcode=values["SELLER_POSTCODE"],
                  city=values["SELLER_CITY"], org_number=orgnr.format(values["SELLER_ORGNR"]),
                  vat_number=vat.compact(values["SELLER_VAT_NUMBER"]),
                  f_tax=str(config.get("SELLER_F_TAX", "1")).strip().lower() in ("1", "true", "yes"),
                  email=values["SELLER_EMAIL"], registered_office=office)
