"""Payment methods (Betalningsmetoder, B8, R15): see every method and what uses it,
add a card without paying, remove one nothing uses, set a billing profile's default,
move pay-as-you-go subscriptions to another card after seeing what moves."""
from __future__ import annotations

from flask import flash, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l, ngettext

from portal.billing.accounts import overview
from portal.billing.bank import autogiro, autogiro_status
from portal.billing.payments import methods
from portal.billing.accounts import access
from portal.billing.accounts.access import Action
from portal.billing.payments.methods import CHECK_WIRE
from portal.errors import (CardDeclined, CardRemoved, InvalidCard, InvalidDetails, InvalidInput, InvalidState,
                           MethodInUse, NotEligible, NotFound)
from portal.forms import (AddCardForm, AutogiroForm, ConfirmMoveForm, DefaultMethodForm, MoveSubscriptionsForm,
                          UpdateCardForm)
from portal.i18n import day, some_names, this_page_is
from portal.models import AccountKind, MandateStatus, MethodKind
from portal.services import billing
from portal.wording import DECLINE_REASON, card_name
from portal.web.checkout import CARD_ERROR_FIELD, CARD_ERROR_TEXT, see_other_url
from portal.web.common import page_arg, safe_next, see_other, signed_in_blueprint, user
from portal.web.rendering import render
from portal.web.security import step_up_required

bp = signed_in_blueprint("methods")
TEMPLATE = "methods/index.html"


@bp.get("/accounts/<int:account_id>/payment-methods")
def index(account_id: int):
    return _page(account_id)


def _page(account_id: int, status: int = 200, card_form: AddCardForm | None = None,
          move_form: MoveSubscriptionsForm | None = None, autogiro_form: tuple[int, AutogiroForm] | None = None,
          account_mandate_form: AutogiroForm | None = None):
    b, me = billing(), user()
    page = methods.methods_page(b, me, account_id, page_arg())
    this_page_is("methods.index", account_id=account_id)  # also when a POST (add a card) answers with it
    if card_form is None:
        card_form = AddCardForm(formdata=None)
    card_form.forget_secrets()
    if move_form is None:
        move_form = MoveSubscriptionsForm(formdata=None)
    mandates, next_draws = autogiro_status.for_methods_page(b, page.account, {use.method.kind for use in page.methods})
    _move_choices(move_form, page, mandates)
    defaults = {}
    for entry in page.profiles:
        form = DefaultMethodForm(formdata=None, prefix=f"p{entry.profile.id}",
                                 method=str(entry.profile.default_payment_method_id or ""))
        form.method.choices = _default_choices(page, entry.profile)
        if entry.profile.default_payment_method and entry.profile.default_payment_method.kind == CHECK_WIRE:
            form.method.data = CHECK_WIRE
        defaults[entry.profile.id] = form
    # B23: a mandate form per billing profile (the one posted, with its errors).
    mandate_forms = {entry.profile.id: AutogiroForm(formdata=None, prefix=f"ag{entry.profile.id}")
                     for entry in page.profiles}
    if autogiro_form is not None:
        mandate_forms[autogiro_form[0]] = autogiro_form[1]
    # B23 for pay-as-you-go: one mandate form for the account; its subscriptions move to the mandate.
    if account_mandate_form is None and page.account.kind == AccountKind.PAY_AS_YOU_GO:
        account_mandate_form = AutogiroForm(formdata=None, prefix="ag")
    return render(TEMPLATE, status=status, account=page.account, page=page, card_form=card_form,
                  move_form=move_form, defaults=defaults, mandate_forms=mandate_forms,
                  account_mandate_form=account_mandate_form, mandates=mandates, next_draws=next_draws,
                  move_to_mandate=any(m.status == MandateStatus.ACTIVE for m in mandates.values()))


def _default_choices(page, profile) -> list[tuple[str, str]]:
    """R15: the saved cards, and check/wire transfer where the profile is approved."""
    choices = [(str(use.method.id), card_name(use.method)) for use in page.methods
               if use.method.is_card and not use.expired]
    if profile.check_wire_approved:
        choices.append((CHECK_WIRE, _("Check/wire transfer")))
    return choices


def _move_choices(form: MoveSubscriptionsForm, page, mandates: dict) -> None:
    # The subscriptions are not limited to the page shown: the service checks them.
    # ux-F4: none chosen beforehand; the card that failed is named as such. B23: an
    # Autogiro mandate once the bank has approved it.
    cards = [(str(use.method.id), _("%(card)s (the card that failed)", card=card_name(use.method)) if use.failed
              else card_name(use.method)) for use in page.methods
             if (use.method.is_card and not use.expired)
             or (use.method.kind == MethodKind.AUTOGIRO and getattr(mandates.get(use.method.id), "status", None)
                 == MandateStatus.ACTIVE)]
    first = _("Choose a payment method") if any(m.status == MandateStatus.ACTIVE for m in mandates.values()) \
        else _("Choose a card")
    form.to.choices = [("", first)] + cards if cards else []


@bp.post("/accounts/<int:account_id>/payment-methods/cards")
@step_up_required  # issue 31: the code again before a card is added
def add_card(account_id: int):
    form = AddCardForm()
    if not form.validate_on_submit():
        overview.require_allowed(billing(), user(), account_id, Action.MANAGE_PAYMENT_METHODS)
        return _page(account_id, 422, card_form=form)
    try:
        method = methods.add_card(billing(), user(), account_id, form.card())
    except InvalidCard as invalid:
        getattr(form, CARD_ERROR_FIELD.get(invalid.reason, "card_number")).errors = [
            CARD_ERROR_TEXT.get(invalid.reason, CARD_ERROR_TEXT["number"])]
        return _page(account_id, 422, card_form=form)
    except CardDeclined as declined:
        form.card_number.errors = [_("The bank did not accept the card, so it was not saved. %(reason)s",
                                     reason=DECLINE_REASON.get(declined.reason, DECLINE_REASON["generic_decline"]))]
        return _page(account_id, 402, card_form=form)
    flash(_("%(card)s has been added. Nothing was charged.", card=card_name(method)), "success")
    return see_other("methods.index", account_id=account_id)


@bp.route("/accounts/<int:account_id>/payment-methods/<int:method_id>/update", methods=["GET", "POST"])
def update(account_id: int, method_id: int):
    """Issue 33 item 3: the card's new expiry date and name on card, in place (no JS
    needed: a page of its own, POST then redirect)."""
    b, me = billing(), user()
    use = methods.card_use(b, me, account_id, method_id)  # another account's card: 404 before anything
    overview.require_allowed(b, me, account_id, Action.MANAGE_PAYMENT_METHODS)
    this_page_is("methods.update", account_id=account_id, method_id=method_id)
    if request.method == "GET":
        form = UpdateCardForm(formdata=None, exp_month=f"{use.method.exp_month:02d}" if use.method.exp_month else "",
                              exp_year=str(use.method.exp_year or ""), holder=use.method.holder_name or "")
        return render("methods/update.html", account=use.method.account, use=use, form=form)
    form = UpdateCardForm()
    status = 422
    if form.validate_on_submit():
        try:
            method = methods.update_card(b, me, account_id, method_id, int(form.exp_month.data),
                                         int(form.exp_year.data), form.holder.data)
        except InvalidCard as invalid:
            getattr(form, CARD_ERROR_FIELD.get(invalid.reason, "exp_month")).errors = [
                UPDATE_EXPIRED if invalid.reason == "expired" else CARD_ERROR_TEXT.get(invalid.reason,
                                                                                        CARD_ERROR_TEXT["expiry"])]
        except CardDeclined as declined:
            status = 402
            form.exp_month.errors = [_("The bank did not accept the card, so it was not changed. %(reason)s",
                                       reason=DECLINE_REASON.get(declined.reason, DECLINE_REASON["generic_decline"]))]
        else:
            flash(_("%(card)s has been updated. It is good through %(date)s. Nothing was charged.",
                    card=card_name(method), date=day(methods.expires_on(method))), "success")
            return see_other("methods.index", account_id=account_id)
    return render("methods/update.html", status=status, account=use.method.account, use=use, form=form)


UPDATE_EXPIRED = _l("That date has passed. Enter the expiry date printed on the new card.")


@bp.post("/accounts/<int:account_id>/payment-methods/<int:method_id>/remove")
def remove(account_id: int, method_id: int):
    try:
        methods.remove_card(billing(), user(), account_id, method_id)
    except MethodInUse as in_use:
        flash(in_use_text(in_use), "error")
    else:
        flash(_("The card has been removed."), "success")
    return see_other("methods.index", account_id=account_id)


def in_use_text(in_use: MethodInUse) -> str:
    """Why a card cannot be removed (B2), the same words as on the page."""
    reasons = []
    if in_use.default_for:
        reasons.append(_("it is the default payment method of %(profiles)s", profiles=some_names(in_use.default_for)))
    if in_use.subscriptions:
        reasons.append(ngettext("%(num)d subscription uses it", "%(num)d subscriptions use it", in_use.subscriptions))
    if in_use.unconfirmed:
        reasons.append(_("a payment with it is not confirmed yet"))
    return _("The card cannot be removed: %(reasons)s. Choose another card for them first.",
             reasons=some_names(reasons))  # the language's list, not a hard-coded "; " (a11y-8)


@bp.post("/accounts/<int:account_id>/profiles/<int:profile_id>/default-method")
def set_default(account_id: int, profile_id: int):
    """R15; also "Use this card for future invoices" on a receipt (B5), which comes
    back to the receipt (`next`)."""
    methods.profile_of(billing(), user(), account_id, profile_id)  # another's id: 404 before anything
    form = DefaultMethodForm(prefix=f"p{profile_id}")
    back = safe_next(request.form.get("next")) or url_for("methods.index", account_id=account_id)
    raw = form.method.data or ""
    choice = CHECK_WIRE if raw == CHECK_WIRE else int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
    if not form.validate_on_submit() or choice is None:
        overview.require_allowed(billing(), user(), account_id, Action.MANAGE_PAYMENT_METHODS, profile_id)
        flash(_("Select a payment method"), "error")
        return see_other_url(back)
    try:
        method = methods.set_profile_default(billing(), user(), account_id, profile_id, choice)
    except CardRemoved:  # removed in another tab meanwhile
        flash(_("That card has been removed. Choose another payment method."), "error")
        return see_other_url(back)
    except NotEligible:
        flash(_("This billing profile is not approved to pay by check/wire transfer. "
                 "You can ask for it with a support request."), "error")
        return see_other_url(back)
    flash(_("%(method)s is now the default payment method. Invoices issued from now on are charged to it.",
            method=card_name(method)) if method.is_card else
          _("Check/wire transfer is now the default payment method. Pay invoices to the remittance details "
             "on each invoice."), "success")
    return see_other_url(back)


@bp.get("/accounts/<int:account_id>/payment-methods/move")
def preview_move(account_id: int):
    """B8: which subscriptions change, and the outstanding charges that go with them,
    before anything is changed."""
    b, me = billing(), user()
    overview.require_allowed(b, me, account_id, Action.MANAGE_PAYMENT_METHODS)
    page = methods.methods_page(b, me, account_id)
    form = MoveSubscriptionsForm(request.args)
    _move_choices(form, page, autogiro_status.mandates_of(b, page.account.id))
    if not form.validate():
        return _page(account_id, 422, move_form=form)
    try:
        preview = methods.preview_move(b, me, account_id, _ids(form.subscriptions.data), int(form.to.data))
    except InvalidInput:
        form.subscriptions.errors = [_("These subscriptions already use that card. Choose others.")]
        return _page(account_id, 422, move_form=form)
    confirm = ConfirmMoveForm(formdata=None, expected_outstanding=str(preview.outstanding.minor))
    return render("methods/move.html", account=page.account, preview=preview, form=form, confirm=confirm)


@bp.post("/accounts/<int:account_id>/payment-methods/move")
def move(account_id: int):
    b, me = billing(), user()
    form = MoveSubscriptionsForm(request.form)
    page = methods.methods_page(b, me, account_id)
    _move_choices(form, page, autogiro_status.mandates_of(b, page.account.id))
    confirm = ConfirmMoveForm()
    if not (form.validate() and confirm.validate_on_submit()):
        overview.require_allowed(b, me, account_id, Action.MANAGE_PAYMENT_METHODS)
        return _page(account_id, 422, move_form=form)
    try:
        preview = methods.move_subscriptions(b, me, account_id, _ids(form.subscriptions.data), int(form.to.data),
                                             int(confirm.expected_outstanding.data))
    except InvalidInput:
        flash(_("The subscriptions or their charges changed since the page was shown. Nothing was moved. "
                 "Check them and try again."), "error")
        return see_other("methods.index", account_id=account_id)
    flash(ngettext("%(num)d subscription now uses %(card)s.", "%(num)d subscriptions now use %(card)s.",
                   len(preview.subscriptions), card=card_name(preview.target)), "success")
    return see_other("methods.index", account_id=account_id)


def _ids(raw: list[str]) -> list[int]:
    return [int(value) for value in raw if value.isascii() and value.isdigit() and len(value) < 10]


# B23: Autogiro. What the service refuses, on its field.
MANDATE_ERROR = {"clearing": _l("Enter a clearing number of a Swedish bank, for example 8327-9"),
                 "account_number": _l("Enter the account number as the bank gives it; check the digits"),
                 "payer_id": _l("Enter a valid personal or organisation number, for example 556036-0793")}


@bp.post("/accounts/<int:account_id>/profiles/<int:profile_id>/autogiro")
@step_up_required  # like adding a card: the code again before a bank account is given
def give_mandate(account_id: int, profile_id: int):
    b, me = billing(), user()
    methods.profile_of(b, me, account_id, profile_id)  # another's id: 404 before anything
    form = AutogiroForm(prefix=f"ag{profile_id}")
    if not form.validate_on_submit():
        overview.require_allowed(b, me, account_id, Action.MANAGE_PAYMENT_METHODS, profile_id)
        return _page(account_id, 422, autogiro_form=(profile_id, form))
    try:
        mandate = autogiro.give_mandate(b, me, account_id, form.clearing.data, form.account_number.data,
                                        form.payer_id.data, profile_id=profile_id)
    except InvalidDetails as invalid:
        for name in invalid.problems:
            getattr(form, name).errors = [MANDATE_ERROR[name]]
        return _page(account_id, 422, autogiro_form=(profile_id, form))
    flash(_("The mandate for Autogiro from %(bank)s has been sent to Bankgirot. It is pending until the bank "
            "approves it, usually within a few banking days.", bank=mandate.bank_name), "success")
    return see_other("methods.index", account_id=account_id)


@bp.post("/accounts/<int:account_id>/autogiro")
@step_up_required
def give_account_mandate(account_id: int):
    """B23 for pay-as-you-go: a mandate of the account, which its subscriptions can be
    moved to once the bank has approved it."""
    b, me = billing(), user()
    if access.get_account(b.session, me, account_id).kind != AccountKind.PAY_AS_YOU_GO:
        raise NotFound("account")   # a customer agreement gives its mandates per billing profile
    overview.require_allowed(b, me, account_id, Action.MANAGE_PAYMENT_METHODS)
    form = AutogiroForm(prefix="ag")
    if form.validate_on_submit():
        try:
            mandate = autogiro.give_mandate(b, me, account_id, form.clearing.data, form.account_number.data,
                                            form.payer_id.data)
        except InvalidDetails as invalid:
            for name in invalid.problems:
                getattr(form, name).errors = [MANDATE_ERROR[name]]
        else:
            flash(_("The mandate for Autogiro from %(bank)s has been sent to Bankgirot. It is pending until the bank "
                    "approves it, usually within a few banking days.", bank=mandate.bank_name), "success")
            return see_other("methods.index", account_id=account_id)
    return _page(account_id, 422, account_mandate_form=form)


@bp.post("/accounts/<int:account_id>/autogiro/<int:method_id>/cancel")
def cancel_mandate(account_id: int, method_id: int):
    b, me = billing(), user()
    mandate = autogiro_status.mandates_of(b, access.get_account(b.session, me, account_id).id).get(method_id)
    if mandate is None:
        raise NotFound("mandate")
    try:
        autogiro.cancel_mandate(b, me, mandate.id)
    except InvalidState:
        flash(_("The mandate has already ended."), "error")
    else:
        payg = mandate.payment_method.account.kind == AccountKind.PAY_AS_YOU_GO
        flash(_("The mandate for Autogiro has been cancelled. No more charges are drawn from the account. Move the "
                "subscriptions that used it to a card.") if payg
              else _("The mandate for Autogiro has been cancelled. No more invoices are drawn from the account."),
              "success")
    return see_other("methods.index", account_id=account_id)
