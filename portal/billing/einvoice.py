"""The invoice as EN 16931 data (B6): the business terms (BT-/BG-) of an
`InvoiceDocument`, for the XML a Swedish accounts-payable system or Peppol reads (UBL
2.1) and the one embedded in the PDF (Factur-X, profile EN16931). Built from the
document, so its figures are the page's and the PDF's.

EN 16931 states amounts without VAT: each line's net amount (BT-131) is its
VAT-inclusive amount less the VAT inside it; credits are a document-level allowance
(BG-20) at the same rate. The VAT breakdown (BG-23) is the document's own, so the
öre that separate rounding of lines would leave over go into the allowance (or, with
no credits, into the last line), and every total adds up exactly:
BT-109 = Σ BT-131 − BT-107 = BT-116, BT-112 = BT-109 + BT-110, BT-115 = BT-112."""
from __future__ import annotations

from portal.billing.documents import DocumentLine, InvoiceDocument, vat_included

SPECIFICATION = "urn:cen.eu:en16931:2017"  # BT-24: EN 16931, no extension
INVOICE = "380"                            # BT-3: commercial invoice (UNTDID 1001)
CREDIT_TRANSFER = "30"                     # BT-81: credit transfer (UNTDID 4461)
STANDARD_RATE = "S"                        # BT-118/151: standard rate (UNCL 5305)
REVERSE_CHARGE = "AE"                      # BT-118/151: VAT reverse charge (UNCL 5305)
ONE_UNIT = "C62"                           # BT-130: "one" (UN/ECE Rec 20), a month's service


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
    terms = {
        "BT-1": doc.number, "BT-2": doc.issued_on, "BT-3": INVOICE, "BT-5": doc.amount_due.currency,
        "BT-24": SPECIFICATION, "BT-9": doc.due_on, "BT-10": doc.buyer.reference or doc.buyer.profile,
        "BT-20": f"{doc.payment_terms_days} days net",
        "BT-72": doc.period_end, "BT-73": doc.period_start, "BT-74": doc.period_end,
        "BG-4": {"name": seller.name, "vat_identifier": seller.vat_number,
                 "legal_identifier": seller.org_number.replace("-", ""),
                 "country_code": "SE", "city": seller.city, "postcode": seller.postcode, "addr_l1": seller.street},
        "BG-7": _party(doc),
        "BT-81": CREDIT_TRANSFER, "BT-83": doc.remittance.ocr,
        "BT-84": doc.remittance.iban,
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
    party |= {key: value for key, value in (("addr_l1", buyer.street), ("postcode", buyer.postcode),
                                            ("city", buyer.city)) if value}
    return party
