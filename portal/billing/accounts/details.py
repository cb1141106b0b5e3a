"""B7: billing details — the customer's company name, organisationsnummer, VAT number,
address, reference and invoice recipients, per billing profile (customer agreement) or
per account (pay-as-you-go). Validated with python-stdnum; each change audited and
confirmed by email (as R11); invoices issued later carry them, issued ones never change.

Reverse charge (Mervärdesskattelagen; EU VAT directive art. 196): a business buyer in
another EU country with a valid VAT number pays no Swedish VAT; the invoice says
"Omvänd betalningsskyldighet" and shows the buyer's VAT number."""
from __future__ import annotations

from dataclasses import dataclass, field

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from stdnum.eu import vat
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.se import orgnr

from portal.billing.accounts import access, notify
from portal.billing.accounts.access import Action, Decision
from portal.billing.context import Billing
from portal.billing.accounts.notify import refusals_audited
from portal.billing.transaction import lock_account, write_transaction
from portal.errors import InvalidDetails, NotFound
from portal.models import AccountKind, BillingAccount, BillingDetails, BillingProfile, User

EU_COUNTRIES = ("AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
                "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK")
COUNTRIES = EU_COUNTRIES + ("CH", "GB", "NO", "US")  # where customers may be, for the address
HOME = "SE"
LANGUAGES = ("sv", "en")
MAX_RECIPIENTS = 5
LIMITS = {"company_name": 200, "org_number": 40, "street": 200, "postcode": 20, "city": 100, "reference": 100}
REQUIRED = ("company_name", "street", "postcode", "city")


@dataclass(frozen=True)
class DetailsInput:
    """What the form sends, as typed (the service cleans and checks it)."""
    company_name: str = ""
    org_number: str = ""
    vat_number: str = ""
    street: str = ""
    postcode: str = ""
    city: str = ""
    country: str = HOME
    reference: str = ""
    recipients: list[str] = field(default_factory=list)
    invoice_language: str = "sv"


@dataclass(frozen=True)
class DetailsPage:
    """What the billing details page shows: the details (None: never given), who may
    change them (B2), and whose they are."""
    account: BillingAccount
    profile: BillingProfile | None
    details: BillingDetails | None
    may_change: Decision


def reverse_charge(details: BillingDetails | None) -> bool:
    """Another EU country, with a VAT number: the buyer accounts for the VAT."""
    return bool(details and details.country in EU_COUNTRIES and details.country != HOME and details.vat_number)


def _owner(b: Billing, user: User, account_id: int, profile_id: int | None) -> tuple[BillingAccount, BillingProfile | None]:
    account = access.get_account(b.session, user, account_id)
    if account.kind == AccountKind.PAY_AS_YOU_GO:
        if profile_id is not None:
            raise NotFound("billing profile")
        return account, None
    profile = b.session.get(BillingProfile, profile_id) if profile_id is not None else None
    if profile is None or profile.account_id != account.id or not access.roles_of(
            b.session, user, account.id, profile.id):
        raise NotFound("billing profile")
    return account, profile


def details_for(session, account_id: int, profile_id: int | None) -> BillingDetails | None:
    return session.scalars(select(BillingDetails).where(
        BillingDetails.account_id == account_id,
        BillingDetails.billing_profile_id.is_(None) if profile_id is None
        else BillingDetails.billing_profile_id == profile_id)).first()


def details_page(b: Billing, user: User, account_id: int, profile_id: int | None = None) -> DetailsPage:
    account, profile = _owner(b, user, account_id, profile_id)
    return DetailsPage(account, profile, details_for(b.session, account.id, profile and profile.id),
                       access.decide(b.session, user, account, Action.MANAGE_BILLING_DETAILS,
                                     profile and profile.id))


def checked(values: DetailsInput) -> dict:
    """The details cleaned (spaces, formats), or InvalidDetails naming every field
    that is wrong and why — all at once, so the form shows every error."""
    clean = {name: " ".join(str(getattr(values, name) or "").split()) for name in LIMITS}
    problems = {name: "missing" for name in REQUIRED if not clean[name]}
    problems |= {name: "too_long" for name, limit in LIMITS.items() if len(clean[name]) > limit}
    country = (values.country or "").strip().upper()
    if country not in COUNTRIES:
        problems["country"] = "unknown"
    if country == HOME:
        if not clean["org_number"]:
            problems.setdefault("org_number", "missing")
        elif not orgnr.is_valid(clean["org_number"]):
            problems.setdefault("org_number", _orgnr_problem(clean["org_number"]))
        else:
            clean["org_number"] = orgnr.format(clean["org_number"])
    vat_number = "".join((values.vat_number or "").split()).upper()
    if vat_number:
        if not vat.is_valid(vat_number):  # is_valid never raises; compact may, on garbage
            problems["vat_number"] = "invalid"
        else:
            vat_number = vat.compact(vat_number)
            if (vat_number[:2] if vat_number[:2] != "EL" else "GR") != country:
                problems["vat_number"] = "other_country"
    recipients = []
    for raw in values.recipients:
        if not raw.strip():
            continue
        try:
            recipients.append(validate_email(raw.strip(), check_deliverability=False).normalized)
        except EmailNotValidError:
            problems["recipients"] = "invalid"
    if len(recipients) > MAX_RECIPIENTS:
        problems["recipients"] = "too_many"
    if values.invoice_language not in LANGUAGES:
        problems["invoice_language"] = "unknown"
    if problems:
        raise InvalidDetails(problems)
    return {**clean, "vat_number": vat_number, "country": country,
            "recipients": list(dict.fromkeys(recipients)), "invoice_language": values.invoice_language}


@refusals_audited
def change_billing_details(b: Billing, user: User, account_id: int, profile_id: int | None,
                           values: DetailsInput) -> BillingDetails:
    """B7: the owner (customer agreement) or the account administrator (pay-as-you-go)
    sets them. Audited; the billing notification address is told (as R11)."""
    clean = checked(values)
    with write_transaction(b.session):
        account, profile = _owner(b, user, account_id, profile_id)
        access.require(b.session, user, account, Action.MANAGE_BILLING_DETAILS, profile and profile.id)
        lock_account(b.session, account.id)
        details = details_for(b.session, account.id, profile and profile.id)
        before = {name: getattr(details, name) for name in clean} if details else {}
        if details is None:
            details = BillingDetails(account_id=account.id, billing_profile_id=profile and profile.id,
                                     **clean, updated_at=b.clock.now())
            b.session.add(details)
        elif before == clean:
            return details
        else:
            for name, value in clean.items():
                setattr(details, name, value)
            details.updated_at = b.clock.now()
        b.session.flush()
        changed = sorted(name for name in clean if before.get(name) != clean[name])
        payload = {"profile_id": profile and profile.id, "company_name": clean["company_name"],
                   "changed": changed}
        notify.queue_email(b.session, b.clock, account, "billing_details_changed", payload)
        notify.audit(b.session, b.clock, "billing_details.changed", account_id=account.id, actor=user,
                     profile_id=profile and profile.id, changed=changed, company_name=clean["company_name"])
        return details


def _orgnr_problem(number: str) -> str:
    """ux-F17: 'check_digit' when the ten digits are there but the last one does not
    match the others (a typo), else 'invalid'."""
    try:
        orgnr.validate(number)
    except InvalidChecksum:
        return "check_digit"
    except ValidationError:
        return "invalid"
    return "invalid"
