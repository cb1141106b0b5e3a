"""The invoice as EN 16931 data (B6): the business terms (BT-/BG-) of an
`InvoiceDocument`, for the XML a Swedish accounts-payable system or Peppol reads (UBL
2.1) and the one embedded in the PDF (Factur-X, profile EN16931). Built from the
document, so its figures are the page's and the PDF's.

EN 16931 states amounts without VAT: each line's net amount (BT-131) is its
VAT-inclusive amount less the VAT inside it; credits are a document-level allowance
(BG-20) at the same rate. The VAT breakdown (BG-23) is the document's own, so the
öre that separate rounding of lines would leave over go into the allowance (or, with
no credits, into the last line), and every total adds up exactly:
BT-109 = Σ BT-131 − BT-107 = BT-116, BT-112 = BT-109 + BT-110, BT-115 = BT-112.

Peppol BIS Billing 3.0 (what Swedish public-sector buyers must receive) asks more of
the same terms: its process (BT-23), an electronic address for seller and buyer
(BT-34, BT-49: a Swedish organisation by its organisationsnummer, scheme 0007), and,
by the Swedish rules SE-R-*, "Godkänd för F-skatt" as the seller's tax registration
(BT-32, SE-R-005) and the bankgiro as an account of its own (SE:BANKGIRO, SE-R-008/9).
The registered office goes in the seller's additional legal information (BT-33).
What the library cannot write (the Peppol specification identifier, the bankgiro next
to the IBAN) portal/document_files.py adds to the XML."""
from __future__ import annotations

from portal.billing.invoicing.documents import DocumentLine, InvoiceDocument, vat_included

SPECIFICATION = "urn:cen.eu:en16931:2017"  # BT-24: EN 16931, no extension
INVOICE = "380"                            # BT-3: commercial invoice (UNTDID 1001)
CREDIT_TRANSFER = "30"                     # BT-81: credit transfer (UNTDID 4461)
DIRECT_DEBIT = "49"                        # BT-81: direct debit — Autogiro (B23; portal/document_files.py)
STANDARD_RATE = "S"                        # BT-118/151: standard rate (UNCL 5305)
REVERSE_CHARGE = "AE"                      # BT-118/151: VAT reverse charge (UNCL 5305)
ONE_UNIT = "C62"                           # BT-130: "one" (UN/ECE Rec 20), a month's service
PEPPOL_BILLING = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"  # BT-24, UBL
PEPPOL_PROCESS = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"  # BT-23: billing process P1
F_TAX = "Godkänd för F-skatt"              # BT-32 of a Swedish seller approved for F-tax (SE-R-005)
SWEDISH_ORGNR = "0007"                     # EAS: Swedish organisationsnummer
EMAIL = "EM"                               # EAS: an email address, when no registry id is known
# EAS codes for a VAT number, by its country prefix (the CEF EAS code list the rules
# carry); a Swedish VAT number holds the organisationsnummer (0007). Denmark and Italy
# have registry schemes whose id is the VAT number's digits (DK:CVR 0184, IT:IVA 0211),
# Finland one for the VAT number itself (FI:VAT 0213).
VAT_DIGITS_EAS = {"DK": "0184", "IT": "0211"}
VAT_EAS = {"AT": "9914", "BE": "9925", "BG": "9926", "CY": "9928", "CZ": "9929", "DE": "9930", "EE": "9931",
           "EL": "9933", "ES": "9920", "FI": "0213", "FR": "9957", "HR": "9934", "HU": "9910", "IE": "9935",
           "LT": "9937", "LU": "9938", "LV": "9939", "MT": "9943", "NL": "9944", "PL": "9945", "PT": "9946",
           "RO": "9947", "SI": "9949", "SK": "9950"}


def decimal(minor: int) -> str:
    """Minor units as the decimal EN 16931 wants ('7140.00'); integers, never floats."""
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // 100}.{abs(minor) % 100:02d}"


def en16931_terms(doc: InvoiceDocument) -> dict:
    [vat] = doc.vat  # one rate: the standard one, or none (reverse charge)
    rate = str(vat.rate_percent)
    category = REVERSE_CHARGE if doc.buyer.reverse_charge else STANDARD_RATE
    # EN 16931 wants at least one line: an invoice stored without any (none the
    # billing cycle makes) is one line for its period and subtotal.
    lines = doc.lines or [DocumentLine(f"{doc.period_start.isoformat()} – {doc.period_end.isoformat()}",
                                       doc.period_start, doc.period_end, doc.subtotal)]
    nets = [vat_included(line.amount, vat.rate_percent).taxable.minor for line in lines]
    allowance = vat_included(doc.credits, vat.rate_percent).taxable.minor if doc.credits.minor else 0
    leftover = sum(nets) - allowance - vat.taxable.minor  # öre left by rounding each part
    if allowance:
        allowance += leftover
    elif nets:
        nets[-1] -= leftover
    seller = doc.seller
    org_digits = seller.org_number.replace("-", "")
    terms = {
        "BT-1": doc.number, "BT-2": doc.issued_on, "BT-3": INVOICE, "BT-5": doc.amount_due.currency,
        "BT-24": SPECIFICATION, "BT-23": PEPPOL_PROCESS, "BT-9": doc.due_on, "BT-10": doc.buyer.reference or doc.buyer.profile,
        "BT-20": f"{doc.payment_terms_days} days net",
        "BT-72": doc.period_end, "BT-73": doc.period_start, "BT-74": doc.period_end,
        "BG-4": {"name": seller.name, "vat_identifier": seller.vat_number,
                 "legal_identifier": org_digits, "legal_identifier_schemeid": SWEDISH_ORGNR,
                 "einvoicing_addr": org_digits, "einvoicing_addr_schemeid": SWEDISH_ORGNR,
                 **({"tax_identifier": F_TAX} if seller.f_tax else {}),
                 **({"legal_info": f"Styrelsens säte: {seller.registered_office}"} if seller.registered_office else {}),
                 "contacts": [{"email": seller.email}],
                 "country_code": "SE", "city": seller.city, "postcode": seller.postcode, "addr_l1": seller.street},
        "BG-7": _party(doc),
        "BT-81": CREDIT_TRANSFER, "BT-83": doc.remittance.ocr,
        "BT-84": doc.remittance.iban, "BT-86": doc.remittance.bic,
        "BG-25": [{"BT-126": str(i), "BT-129": "1", "BT-130": ONE_UNIT, "BT-131": decimal(net),
                   "BT-146": decimal(net), "BT-151": category, "BT-152": rate, "BT-153": line.description,
                   "BT-134": line.period_start, "BT-135": line.period_end}
                  for i, (line, net) in enumerate(zip(lines, nets), start=1)],
        "BG-23": [{"BT-116": decimal(vat.taxable.minor), "BT-117": decimal(vat.vat.minor),
                   "BT-118": category, "BT-119": rate,
                   **({"BT-120": "Reverse charge", "BT-121": "VATEX-EU-AE"} if doc.buyer.reverse_charge else {})}],
        "BT-106": decimal(sum(nets)), "BT-109": decimal(vat.taxable.minor), "BT-110": decimal(vat.vat.minor),
        "BT-112": decimal(doc.amount_due.minor), "BT-115": decimal(doc.amount_due.minor),
    }
    if allowance:
        terms["BG-20"] = [{"amount": decimal(allowance), "reason": "Credits", "reason_code": "95",
                           "vat_category_code": category, "vat_rate": rate}]
        terms["BT-107"] = decimal(allowance)
    return terms


def _party(doc: InvoiceDocument) -> dict:
    """BG-7, the buyer: its name, identifiers and address as given (B7)."""
    buyer = doc.buyer
    party = {"name": buyer.name, "country_code": buyer.country}
    if buyer.vat_number:
        party["vat_identifier"] = buyer.vat_number
    if buyer.org_number:
        party["legal_identifier"] = buyer.org_number.replace("-", "")
    party["einvoicing_addr_schemeid"], party["einvoicing_addr"] = electronic_address(buyer)
    party |= {key: value for key, value in (("addr_l1", buyer.street), ("postcode", buyer.postcode),
                                            ("city", buyer.city)) if value}
    return party


def electronic_address(buyer) -> tuple[str, str]:
    """BT-49 (scheme, id): where a Peppol access point delivers the buyer's invoices —
    its organisationsnummer (0007) when Swedish, else its VAT number under its
    country's EAS code, else the first address the invoice is emailed to (EM)."""
    org = buyer.org_number.replace("-", "")
    vat = buyer.vat_number.replace(" ", "").upper()
    if buyer.country == "SE" and len(org) == 10:
        return SWEDISH_ORGNR, org
    if vat.startswith("SE") and len(vat) == 14:
        return SWEDISH_ORGNR, vat[2:12]
    if vat[:2] in VAT_DIGITS_EAS:
        return VAT_DIGITS_EAS[vat[:2]], vat[2:]
    if vat[:2] in VAT_EAS:
        return VAT_EAS[vat[:2]], vat
    return EMAIL, buyer.email
