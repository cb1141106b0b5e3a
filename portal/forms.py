"""Forms (WTForms via Flask-WTF for CSRF). Labels and messages are lazy strings,
evaluated in the page's language."""
from __future__ import annotations

import uuid
from datetime import date

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, EmailField, HiddenField, PasswordField, RadioField, SelectField,
                     SelectMultipleField, StringField, TextAreaField)
from wtforms.widgets import CheckboxInput, ListWidget, TextInput
from wtforms.validators import (DataRequired, Email, InputRequired, Length, Optional, Regexp, StopValidation,
                                ValidationError)

from portal.billing.accounts.overview import BODY_MAX, SUBJECT_MAX
from portal.billing.accounts.passwords import password_problem
from portal.billing.gateway import CardDetails, luhn_valid, normalize_card_number
from portal.i18n import WTFormsCatalog
from portal.money import MAX_MINOR
from portal.wording import PASSWORD_PROBLEM

NEW_CARD = "new"
_WTFORMS_CATALOG = WTFormsCatalog()


class PortalForm(FlaskForm):
    """Every form's base: Flask-WTF's CSRF, WTForms' messages from a catalog read once."""

    class Meta(FlaskForm.Meta):
        def get_translations(self, form):
            return _WTFORMS_CATALOG


class SignInForm(PortalForm):
    email = EmailField(_l("Email address"), validators=[
        DataRequired(_l("Enter your email address")), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false"})
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter your password")), Length(max=200)],
        render_kw={"autocomplete": "current-password"})


class MethodChoiceForm(PortalForm):
    """Select a payment method (R21): a GET form, so no CSRF; the choice only
    changes what is shown, never what is charged."""

    class Meta:
        csrf = False

    method = RadioField(_l("Select a payment method"), validate_choice=False,
                        validators=[InputRequired(_l("Select a payment method"))])


class OnlyForNewCard:
    """Skip a card field's other validators unless 'add a card' was chosen."""
    field_flags = {}

    def __call__(self, form, field) -> None:
        if form.method.data != NEW_CARD:
            field.errors[:] = []
            raise StopValidation()


# Shared with the page that maps the service layer's InvalidCard (portal/web/checkout.py).
CARD_NUMBER_INVALID = _l("Enter a valid card number, like 4242 4242 4242 4242")
CVC_INVALID = _l("Enter the 3 or 4 digit security code from the card")
HOLDER_MISSING = _l("Enter the name on the card")


def _card_number(form, field) -> None:
    digits = normalize_card_number(field.data or "")
    if not (digits.isascii() and digits.isdigit()) or not 12 <= len(digits) <= 19 or not luhn_valid(digits):
        raise ValidationError(CARD_NUMBER_INVALID)


class CardForm(PortalForm):
    """A card's fields, which only count when 'add a card' (NEW_CARD) is the method."""
    method = HiddenField(validators=[InputRequired(_l("Select a payment method"))])
    card_number = StringField(_l("Card number"), validators=[
        OnlyForNewCard(), DataRequired(_l("Enter the card number")), Length(max=30), _card_number],
        render_kw={"autocomplete": "cc-number", "inputmode": "numeric", "spellcheck": "false"})
    # Translators: the card's expiry month (a field label, 1–12).
    exp_month = StringField(_l("Month"), validators=[
        OnlyForNewCard(), DataRequired(_l("Enter the expiry month")),
        Regexp(r"^(0?[1-9]|1[0-2])$", message=_l("Enter the expiry month as a number from 1 to 12"))],
        render_kw={"autocomplete": "cc-exp-month", "inputmode": "numeric"})
    # Translators: the card's expiry year (a field label, four digits).
    exp_year = StringField(_l("Year"), validators=[
        OnlyForNewCard(), DataRequired(_l("Enter the expiry year")),
        Regexp(r"^20[0-9][0-9]$", message=_l("Enter the expiry year with four digits, like 2030"))],
        render_kw={"autocomplete": "cc-exp-year", "inputmode": "numeric"})
    cvc = StringField(_l("Security code (CVC)"), validators=[
        OnlyForNewCard(), DataRequired(_l("Enter the security code")),
        Regexp(r"^[0-9]{3,4}$", message=CVC_INVALID)],
        render_kw={"autocomplete": "cc-csc", "inputmode": "numeric", "spellcheck": "false"})
    holder = StringField(_l("Name on card"), validators=[
        OnlyForNewCard(), DataRequired(HOLDER_MISSING), Length(max=200)],
        render_kw={"autocomplete": "cc-name", "spellcheck": "false"})

    CARD_FIELDS = ("card_number", "exp_month", "exp_year", "cvc", "holder")

    @property
    def is_new_card(self) -> bool:
        return self.method.data == NEW_CARD

    def card(self) -> CardDetails:
        """The new card typed in (after validation)."""
        return CardDetails(normalize_card_number(self.card_number.data), int(self.exp_month.data),
                           int(self.exp_year.data), self.cvc.data.strip(), self.holder.data.strip())

    def forget_secrets(self) -> None:
        """Never send a card number or CVC back to the browser."""
        self.card_number.data = ""
        self.cvc.data = ""


# WTForms' own message for a hidden field that was tampered with. It is translated by
# WTForms' catalog, not ours, so it is not written as a literal in a gettext call here.
INVALID_INPUT = "Invalid input."


def _minor_units(form, field) -> None:
    """An amount in minor units that the page wrote into a hidden field: digits, at
    most MAX_MINOR (issue 27). A hand-edited one gets INVALID_INPUT, as the other hidden
    fields do. The length is checked first, so int() is never given a huge string."""
    value = field.data or ""
    if not (value.isascii() and value.isdigit() and len(value) <= len(str(MAX_MINOR)) and int(value) <= MAX_MINOR):
        raise ValidationError(field.gettext(INVALID_INPUT))


class PaymentForm(CardForm):
    """One form for both Settle balance and Pay now. The total the customer saw and a
    one-time key travel with it (M3)."""
    expected_total = HiddenField(validators=[InputRequired(), _minor_units])
    idempotency_key = HiddenField(validators=[InputRequired(), Regexp(r"^[A-Za-z0-9-]{8,100}$")])
    # B12: Pay now of only this much (minor units) of the expected total; empty: all of
    # it. Only spaces (a hand-edited form) is no amount, not "all of it".
    part = HiddenField(validators=[Optional(strip_whitespace=False), _minor_units])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.idempotency_key.data:
            self.idempotency_key.data = new_idempotency_key()


class PartForm(PortalForm):
    """B12: how much of the invoices to pay now. A GET form: it only changes what the
    Pay now page shows and asks for; the service checks the amount (payments.part_to_pay)."""

    class Meta:
        csrf = False

    part = StringField(_l("Amount to pay now"), validators=[DataRequired(_l("Enter the amount to pay now"))],
                       render_kw={"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"})


class AddCardForm(CardForm):
    """B8: a card saved without paying: always a new card, whatever is posted."""
    method = HiddenField(default=NEW_CARD)

    @property
    def is_new_card(self) -> bool:
        return True


class UpdateCardForm(AddCardForm):
    """Issue 33 item 3: a saved card's new expiry date and name on card — the same card
    number, so no number or CVC is asked for."""
    card_number = None
    cvc = None

    def forget_secrets(self) -> None:
        pass  # it holds none


def new_idempotency_key() -> str:
    return uuid.uuid4().hex


class NotificationEmailForm(PortalForm):
    email = EmailField(_l("Email address for billing notifications"), validators=[
        DataRequired(_l("Enter an email address")),
        Email(_l("Enter an email address in the correct format, like name@example.com"),
              check_deliverability=False),
        Length(max=254)], render_kw={"autocomplete": "email", "spellcheck": "false"})


class TranslatedSelectField(SelectField):
    """A select whose "not one of the choices" message comes from our catalogs."""

    def pre_validate(self, form) -> None:
        if self.data not in {str(value) for value, _label in self.choices}:
            raise StopValidation(_l("Choose one of the options in the list"))


ALERT_FOR_ACCOUNT = "account"  # a spending alert's `applies_to`: the whole account, else a subscription's id


class SpendingAlertForm(PortalForm):
    """Issue 33 item 2: the monthly amount of a spending alert, typed in the page's
    language, for the whole account or one subscription (the view lists the choices);
    the view parses the amount (i18n.parse_money), the service checks it."""
    amount = StringField(_l("Monthly amount"), validators=[DataRequired(_l("Enter the monthly amount"))],
                         render_kw={"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"})
    applies_to = TranslatedSelectField(_l("Spending alert for"), choices=[], default=ALERT_FOR_ACCOUNT)


class RemoveSpendingAlertForm(PortalForm):
    """Issue 33 item 2: removes a spending alert — the account's, or one subscription's."""
    applies_to = HiddenField(default=ALERT_FOR_ACCOUNT)


class SupportRequestForm(PortalForm):
    subscription = TranslatedSelectField(_l("Subscription (optional)"), choices=[])
    # Translators: a support request's subject line (a field label).
    subject = StringField(_l("Subject"), validators=[
        DataRequired(_l("Enter a subject")),
        Length(max=SUBJECT_MAX, message=_l("The subject can be at most %(max)d characters long"))])
    body = TextAreaField(_l("What happened?"), validators=[
        DataRequired(_l("Describe what happened")),
        Length(max=BODY_MAX, message=_l("The description can be at most %(max)d characters long"))])


class InvoiceFilterForm(PortalForm):
    class Meta:
        csrf = False

    status = TranslatedSelectField(_l("Status"), choices=[])


class BillingDetailsForm(PortalForm):
    """B7. Only the shape is checked here; what the values must be (an
    organisationsnummer, a VAT number of the right country…) is the service's rule
    (billing/accounts/details.py), whose errors the view puts on these fields."""
    company_name = StringField(_l("Company name"), render_kw={"autocomplete": "organization"})
    country = TranslatedSelectField(_l("Country"), choices=[], render_kw={"autocomplete": "country"})
    org_number = StringField(_l("Organisation number"), render_kw={"spellcheck": "false"})
    vat_number = StringField(_l("VAT registration number (optional)"), render_kw={"spellcheck": "false"})
    street = StringField(_l("Street address or box"), render_kw={"autocomplete": "street-address"})
    postcode = StringField(_l("Postcode"), render_kw={"autocomplete": "postal-code"})
    city = StringField(_l("City"), render_kw={"autocomplete": "address-level2"})
    reference = StringField(_l("Your reference or purchase order number (optional)"))
    recipients = TextAreaField(_l("Also send invoices to (optional)"),
                               render_kw={"rows": 3, "spellcheck": "false", "autocomplete": "off"})
    invoice_language = RadioField(_l("Invoice language"), choices=[])  # the languages, set by the view


class DefaultMethodForm(PortalForm):
    """R15: a billing profile's default payment method (choices set by the view)."""
    method = RadioField(_l("Default payment method"), choices=[], validate_choice=False,
                        validators=[InputRequired(_l("Select a payment method"))])


class MoveSubscriptionsForm(PortalForm):
    """B8: pay-as-you-go subscriptions to move to another card (choices set by the view).
    A GET form for the preview; the confirmation posts the same fields with CSRF."""

    class Meta:
        csrf = False

    subscriptions = SelectMultipleField(_l("Subscriptions to move"), choices=[], coerce=str, validate_choice=False,
                                        widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
                                        validators=[InputRequired(_l("Select at least one subscription"))])
    # ux-F4: the first choice is "Choose a card" (empty), so no card — least of all the one
    # that failed — is chosen for the person.
    to = TranslatedSelectField(_l("Move them to"), choices=[],
                               validators=[InputRequired(_l("Choose the card to move them to"))])


class ConfirmMoveForm(PortalForm):
    expected_outstanding = HiddenField(validators=[InputRequired(), _minor_units])


DATE_INVALID = _l("Enter a date like 2026-11-30")
DATE_INPUT = {"inputmode": "numeric", "autocomplete": "off", "spellcheck": "false", "size": 10}


class PeriodForm(PortalForm):
    """A period of days, either end open (a GET filter: no CSRF)."""

    class Meta:
        csrf = False

    # Text, not <input type=date>: the native picker's parts are separate tab stops with
    # poor screen-reader support (GOV.UK's advice); the hint shows the format.
    # Translators: "period filter" — the first and last day of a period, both included
    # (sv "Från och med" / "Till och med"); the invoice parties' From/To have no context.
    first = DateField(lazy_pgettext("period filter", "From"), validators=[Optional()], invalid_value_message=DATE_INVALID,
                      widget=TextInput(), render_kw=DATE_INPUT)
    last = DateField(lazy_pgettext("period filter", "To"), validators=[Optional()], invalid_value_message=DATE_INVALID,
                     widget=TextInput(), render_kw=DATE_INPUT)

    # Days a period can name: wider than any payment, narrow enough that the start of
    # the day after, in any time zone, is still a date (0001-01-01 and 9999-12-31 are not).
    EARLIEST, LATEST = date(1900, 1, 1), date(9998, 12, 31)

    def validate_first(self, field) -> None:
        self._plausible(field)

    def validate_last(self, field) -> None:
        self._plausible(field)
        if field.data and self.first.data and field.data < self.first.data:
            raise ValidationError(_l("The end of the period must be on or after its start"))

    def _plausible(self, field) -> None:
        if field.data and not self.EARLIEST <= field.data <= self.LATEST:
            raise ValidationError(DATE_INVALID)


class PersonalSettingsForm(PortalForm):
    """B10: the person's own language (emails, documents) and time zone."""
    locale = RadioField(_l("Language for emails and documents"), choices=[])
    timezone = TranslatedSelectField(_l("Time zone"), choices=[])


class BulkDownloadForm(PeriodForm):
    """Issue 30: a period's invoice documents as one zip — a fiscal year, or the days
    from and to (a GET form: no CSRF; the years are set by the view)."""
    # Translators: the bulk download's choice of a whole year (sv "Räkenskapsår").
    year = TranslatedSelectField(_l("Fiscal year"), choices=[], default="")
    # Translators: a checkbox on the bulk download: the invoices' UBL files beside their PDFs.
    xml = BooleanField(_l("Include the e-invoices (XML)"))

    def validate(self, extra_validators=None) -> bool:
        """A year, or both ends of a period."""
        valid = super().validate(extra_validators)
        if valid and not self.year.data:
            for field, message in ((self.first, _l("Enter the first day of the period, or choose a year")),
                                   (self.last, _l("Enter the last day of the period, or choose a year"))):
                if field.data is None:
                    field.errors = [message]
                    valid = False
        return valid


class StatementForm(PeriodForm):
    """Issue 30: the account statement's period (both ends) and, on a customer
    agreement, its billing profile (choices set by the view)."""
    profile = TranslatedSelectField(_l("Billing profile"), choices=[], validate_choice=True)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field, message in ((self.first, _l("Enter the first day of the period")),
                               (self.last, _l("Enter the last day of the period"))):
            if not field.errors and field.data is None:
                field.errors = [message]
                valid = False
        return valid
# WCAG 2.2 SC 3.3.8: the code may be pasted or filled in by the browser; nothing to solve.
_ONE_TIME_CODE = {"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false",
                  "autocapitalize": "off"}


def _password_rule(form, field) -> None:
    problem = password_problem(field.data or "")
    if problem is not None:
        raise ValidationError(PASSWORD_PROBLEM[problem])  # the words: portal/wording/refusals.py


class InviteForm(PortalForm):
    """Issue 31: invite a person by email to a role (the Access page)."""
    email = EmailField(_l("Email address of the person to invite"), validators=[
        DataRequired(_l("Enter an email address")),
        Email(_l("Enter an email address in the correct format, like name@example.com"),
              check_deliverability=False),
        Length(max=254)], render_kw={"autocomplete": "off", "spellcheck": "false"})
    role = RadioField(_l("Role"), choices=[], validators=[InputRequired(_l("Choose a role"))])
    # Translators: where a role counts: the whole billing account or one billing profile.
    scope = TranslatedSelectField(_l("Where the role applies"), choices=[])
    locale = RadioField(_l("Language of the invitation"), choices=[],
                        validators=[InputRequired(_l("Choose the language of the invitation"))])


class AcceptInvitationForm(PortalForm):
    """Issue 31: a new person's name and password (NIST: length and a list of common
    passwords, no composition rules; paste allowed)."""
    name = StringField(_l("Your name"), validators=[
        DataRequired(_l("Enter your name")), Length(max=200)], render_kw={"autocomplete": "name"})
    password = PasswordField(_l("Choose a password"), validators=[
        DataRequired(_l("Choose a password")), _password_rule], render_kw={"autocomplete": "new-password"})
class EmailForm(PortalForm):
    email = EmailField(_l("Email address"), validators=[
        DataRequired(_l("Enter your email address")), Length(max=254)],
        render_kw={"autocomplete": "username", "spellcheck": "false"})


class NewPasswordForm(PortalForm):
    password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a new password")), _password_rule],
        render_kw={"autocomplete": "new-password"})


class CodeForm(PortalForm):
    code = StringField(_l("Code from your authenticator app"), validators=[
        DataRequired(_l("Enter the code from your authenticator app")), Length(max=20)],
        render_kw=_ONE_TIME_CODE)


class RememberCodeForm(CodeForm):
    remember = BooleanField(_l("Remember this browser for 30 days"))


class RecoveryCodeForm(PortalForm):
    code = StringField(_l("Recovery code"), validators=[
        DataRequired(_l("Enter one of your recovery codes")), Length(max=40)],
        render_kw={"autocomplete": "one-time-code", "spellcheck": "false", "autocapitalize": "off"})
    remember = BooleanField(_l("Remember this browser for 30 days"))


class SignInWithCodeForm(SignInForm):
    """Lock-out without lock-out: password and code together, answered as one."""
    code = StringField(_l("Code from your authenticator app"), validators=[
        DataRequired(_l("Enter the code from your authenticator app")), Length(max=20)],
        render_kw=_ONE_TIME_CODE)


class ConfirmSubscriptionForm(PortalForm):
    """Issue 33: Cancel at period end / Undo cancellation, as confirmed — the last day
    the confirmation page named (a month that turned meanwhile is asked again)."""
    last_day = HiddenField(validators=[InputRequired(), Regexp(r"^\d{4}-\d{2}-\d{2}$")])


class ChangePlanForm(PortalForm):
    """B24: the plan chosen (the provider's SUBSCRIPTION_PLANS, set by the view) and the
    day its price applies from, as the page named it (a month that turned is asked again)."""
    plan = RadioField(_l("New plan"), choices=[], validate_choice=False, validators=[InputRequired(_l("Choose a plan"))])
    price_from = HiddenField(validators=[InputRequired(), Regexp(r"^\d{4}-\d{2}-\d{2}$")])


class PaymentRequestForm(PortalForm):
    """B22: the open invoices one OCR reference is for (choices set by the view)."""
    invoices = SelectMultipleField(_l("Invoices to pay with one transfer"), choices=[], coerce=str,
                                   validate_choice=False, widget=ListWidget(prefix_label=False),
                                   option_widget=CheckboxInput(),
                                   validators=[InputRequired(_l("Choose at least two invoices"))])


class AutogiroForm(PortalForm):
    """B23: a mandate for Autogiro — the bank account and the payer, checked by the
    service (the banks' rules, stdnum); here only that each is given and short."""
    # Translators: a Swedish bank account's clearing number (sv "Clearingnummer").
    clearing = StringField(_l("Clearing number"), validators=[
        DataRequired(_l("Enter the clearing number")), Length(max=10, message=_l("Enter the clearing number"))])
    account_number = StringField(_l("Account number"), validators=[
        DataRequired(_l("Enter the account number")), Length(max=20, message=_l("Enter the account number"))])
    payer_id = StringField(_l("Personal or organisation number of the account holder"), validators=[
        DataRequired(_l("Enter the personal or organisation number")),
        Length(max=20, message=_l("Enter the personal or organisation number"))])
    accept = BooleanField(_l("I give the mandate above"), validators=[
        DataRequired(_l("Accept the mandate to pay by Autogiro"))])


class CancelMandateForm(PortalForm):
    """B23: the mandate's own button (CSRF only)."""
