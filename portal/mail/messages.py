"""What each billing email says (R01, R09, R11, R12, R13, R18, R22), in the current
locale: every sentence is a whole translatable string with named placeholders.
The layout (templates/email/message.html and .txt) is the same for all of them, so
every email is plain text and accessible HTML from one source. What they are made of:
portal/mail/content.py; the emails of people and access: access_messages.py."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask_babel import gettext as _

from portal.billing.accounts.history import NAMES_SHOWN
from portal.billing.ids import payment_reference
from portal.i18n import month, some_names
from portal.wording import AUTOGIRO_REASON
from portal.mail.content import Content, Payload, billing_footer as _billing_footer, facts as _facts
from portal.mail.access_messages import (invitation, password_reset, password_reset_unknown, role_changed,
                                         sign_in_unlock)


def payment_failed(p: Payload, provider: str) -> Content:  # R01
    sub = p.text("subscription")
    paragraphs = [_("We could not collect the payment for %(subscription)s, so the subscription "
                    "is past due.", subscription=sub)]
    if p.raw.get("autogiro"):  # B23: a pay-as-you-go charge Autogiro could not draw
        reason = AUTOGIRO_REASON.get(p.text("reason"))
        paragraphs.extend([str(reason)] if reason else [])
        if p.day("next_draw_on"):
            paragraphs.append(_("Autogiro will try again on %(date)s. You can settle the balance now instead.",
                                date=p.day("next_draw_on")))
    elif p.reason():
        paragraphs.append(p.reason())
    if p.day("next_retry_on"):  # B14
        paragraphs.append(_("We will try the card again on %(date)s. You can settle the balance now instead.",
                            date=p.day("next_retry_on")))
    if p.day("disable_on"):
        paragraphs.append(_("Settle the balance by %(date)s to keep the subscription running. If it is "
                            "not settled by then, the subscription will be disabled and its services "
                            "will stop.", date=p.day("disable_on")))
    return Content(
        subject=_("Payment failed: %(subscription)s is past due", subscription=sub),
        heading=_("Your payment did not go through"), paragraphs=paragraphs,
        facts=_facts((_("Subscription"), sub), (_("Amount not paid"), p.money()),
                     (_("Will be disabled on"), p.day("disable_on"))),
        footer=_billing_footer(p, provider))


def subscription_disable_warning(p: Payload, provider: str) -> Content:  # R12
    sub, when = p.text("subscription"), p.day("disable_on")
    return Content(
        subject=_("Reminder: %(subscription)s will be disabled on %(date)s", subscription=sub, date=when),
        heading=_("%(subscription)s will be disabled on %(date)s", subscription=sub, date=when),
        paragraphs=[
            _("The balance for %(subscription)s is still past due. If it is not settled by %(date)s, "
              "the subscription will be disabled and its services will stop.", subscription=sub, date=when),
            _("Settle the balance now to keep it running."),
        ],
        facts=_facts((_("Subscription"), sub), (_("Total outstanding amount"), p.money()),
                     (_("Will be disabled on"), when)),
        footer=_billing_footer(p, provider))


def subscription_disabled(p: Payload, provider: str) -> Content:  # R12
    sub, when = p.text("subscription"), p.day("delete_on")
    return Content(
        subject=_("%(subscription)s has been disabled", subscription=sub),
        heading=_("%(subscription)s has been disabled", subscription=sub),
        paragraphs=[
            _("The balance for %(subscription)s was not settled, so the subscription has been disabled "
              "and its services have stopped.", subscription=sub),
            _("Its data will be deleted on %(date)s. Settle the balance before then and the "
              "subscription becomes active again.", date=when),
        ],
        facts=_facts((_("Subscription"), sub), (_("Data deleted on"), when)),
        footer=_billing_footer(p, provider))


def invoice_ready(p: Payload, provider: str) -> Content:  # R16, R18
    number = p.text("number")
    if p.raw.get("amount_minor") == 0:
        paragraphs = [_("Credits covered the whole amount of invoice %(number)s. There is nothing to pay.",
                        number=number)]
    else:
        paragraphs = [_("Invoice %(number)s for %(amount)s is ready. It is due on %(date)s.",
                        number=number, amount=p.money(), date=p.day("due_on"))]
    if p.raw.get("request_reference"):  # B22: the profile's payment request, one transfer for several invoices
        paragraphs.append(_("To pay invoices %(invoices)s with one transfer, pay %(amount)s and give OCR reference "
                            "%(ocr)s. This invoice is not among them: it has its own OCR reference.",
                            invoices=", ".join(p.raw.get("request_invoices", [])), ocr=p.text("request_reference"),
                            amount=p.money("request_minor")))
    return Content(
        subject=_("Invoice %(number)s is ready", number=number),
        heading=_("Your invoice is ready"), paragraphs=paragraphs,
        facts=_facts((_("Invoice"), number), (_("Amount due"), p.money()), (_("Due date"), p.day("due_on"))),
        footer=_billing_footer(p, provider))


def auto_charge_succeeded(p: Payload, provider: str) -> Content:  # R18
    number = p.text("number")
    return Content(
        subject=_("Invoice %(number)s has been paid", number=number),
        heading=_("Your invoice has been paid"),
        paragraphs=[_("We charged %(amount)s to %(method)s for invoice %(number)s. There is nothing "
                      "more to do.", amount=p.money(), method=p.method(in_sentence=True), number=number)],
        facts=_facts((_("Invoice"), number), (_("Amount paid"), p.money()), (_("Payment method"), p.method())),
        footer=_billing_footer(p, provider))


def auto_charge_failed(p: Payload, provider: str) -> Content:  # R18
    number = p.text("number")
    paragraphs = [_("We tried to charge %(amount)s to %(method)s for invoice %(number)s, but the "
                    "payment did not go through.", amount=p.money(), method=p.method(in_sentence=True), number=number)]
    if p.reason():
        paragraphs.append(p.reason())
    paragraphs.append(_("Pay the invoice online with another card by %(date)s.", date=p.day("due_on"))
                      if p.day("due_on") else _("Pay the invoice online with another card."))
    return Content(
        subject=_("Payment failed for invoice %(number)s", number=number),
        heading=_("The automatic payment did not go through"), paragraphs=paragraphs,
        facts=_facts((_("Invoice"), number), (_("Amount due"), p.money()), (_("Due date"), p.day("due_on"))),
        footer=_billing_footer(p, provider))


def invoice_past_due(p: Payload, provider: str) -> Content:  # R01-like for invoices, M4
    number = p.text("number")
    first = (_("Invoice %(number)s for %(amount)s was due on %(date)s and has not been paid.",
               number=number, amount=p.money(), date=p.day("due_on")) if p.day("due_on")
             else _("Invoice %(number)s for %(amount)s has not been paid.", number=number, amount=p.money()))
    return Content(
        subject=_("Invoice %(number)s is past due", number=number),
        heading=_("Your invoice is past due"),
        paragraphs=[first, _("Pay it now to avoid interruptions.")],
        facts=_facts((_("Invoice"), number), (_("Amount due"), p.money()), (_("Due date"), p.day("due_on"))),
        footer=_billing_footer(p, provider))


def autogiro_not_drawn(p: Payload, provider: str) -> Content:  # issue 34, B23
    number = p.text("number")
    paragraphs = [_("Autogiro could not draw %(amount)s for invoice %(number)s, so the invoice is past due.",
                    amount=p.money(), number=number)]
    reason = AUTOGIRO_REASON.get(p.text("reason"))
    if reason:
        paragraphs.append(str(reason))
    paragraphs.append(_("Autogiro will try again on %(date)s. You can pay the invoice online now instead.",
                        date=p.day("next_draw_on")) if p.day("next_draw_on")
                      else _("Pay the invoice online now, by card or bank transfer."))
    return Content(
        subject=_("Autogiro could not draw invoice %(number)s", number=number),
        heading=_("The Autogiro payment was not drawn"), paragraphs=paragraphs,
        facts=_facts((_("Invoice"), number), (_("Amount due"), p.money()), (_("Due date"), p.day("due_on"))),
        footer=_billing_footer(p, provider))


def autogiro_mandate_ended(p: Payload, provider: str) -> Content:  # issue 34, B23
    reason = AUTOGIRO_REASON.get(p.text("reason"))
    return Content(
        subject=_("Your Autogiro mandate is not active"),
        heading=_("Your Autogiro mandate is not active"),
        paragraphs=[_("Charges for subscriptions from %(provider)s are no longer drawn from the account ending in "
                      "%(last4)s at %(bank)s.", provider=provider, last4=p.text("last4"), bank=p.text("bank_name"))
                    if p.raw.get("subscriptions") else  # a pay-as-you-go account's mandate
                    _("Invoices from %(provider)s are no longer drawn from the account ending in %(last4)s at "
                      "%(bank)s.", provider=provider, last4=p.text("last4"), bank=p.text("bank_name"))]
        + ([str(reason)] if reason else [])
        + [_("Choose another payment method, or give a new mandate, on the Payment methods page.")],
        facts=_facts(), footer=_billing_footer(p, provider))


def _some(p: Payload, key: str, count_key: str | None = None) -> str:
    """The first few names under `key` and how many more (issue 20 item 4: a
    settlement of 300 subscriptions is not a 300-name sentence), as the Payments page
    lists them; `count_key`: how many there are in all (issue 28: the payload carries
    the first few names only; an older payload, every name)."""
    names = [str(v) for v in p.raw.get(key) or [] if v]
    count = p.raw.get(count_key) if count_key else None
    return some_names(names[:NAMES_SHOWN], count if isinstance(count, int) else len(names))


def _left_out(names: list[str], *others: list[str]) -> list[str]:
    """`names` less those in `others` (as often as they occur there)."""
    left, out = list(names), [name for group in others for name in group]
    for name in out:
        if name in left:
            left.remove(name)
    return left


def receipt(p: Payload, provider: str) -> Content:  # R09, R22
    paragraphs = [_("Thank you. %(amount)s was paid with %(method)s.", amount=p.money(),
                    method=p.method(in_sentence=True))]
    if "active" in p.raw:  # issue 28: each kind, the first few names and how many
        active = _some(p, "active", "active_count")
    else:  # an older payload: every name paid, less those not active
        left = _left_out(*([str(v) for v in p.raw.get(key) or [] if v] for key in ("subscriptions", "deleted",
                                                                                   "still_owing")))
        active = some_names(left[:NAMES_SHOWN], len(left))
    if active:
        paragraphs.append(_("These subscriptions are paid and active: %(subscriptions)s.", subscriptions=active))
    if p.raw.get("still_owing"):  # B12: a transfer that paid their oldest charges only
        paragraphs.append(_("These subscriptions still owe charges and are not active yet: %(subscriptions)s.",
                            subscriptions=_some(p, "still_owing", "still_owing_count")))
    if p.raw.get("deleted"):  # never re-enabled (M4); their charges were still owed (R12)
        paragraphs.append(_("These subscriptions have been deleted: their charges are paid, but a deleted "
                            "subscription cannot be active again: %(subscriptions)s.",
                            subscriptions=_some(p, "deleted", "deleted_count")))
    if p.names("invoices") and p.raw.get("left_minor"):  # B12: paid in part
        paragraphs.append(_("It was applied to these invoices, the oldest due first: %(invoices)s. "
                            "%(left)s is left to pay.", invoices=p.names("invoices"), left=p.money("left_minor")))
    elif p.names("invoices"):
        paragraphs.append(_("These invoices are paid: %(invoices)s.", invoices=p.names("invoices")))
    if p.money("credited_minor"):  # B15
        paragraphs.append(_("%(amount)s of it has become credit on the account: what it was for had already "
                            "been paid, or it was more than was owed. The credit pays what the account owes "
                            "next, or we refund it on request.", amount=p.money("credited_minor")))
    footer = (_("You receive this email because you made this payment in the %(provider)s billing portal. "
                "The account's billing notification address has its own copy.", provider=provider)
              if p.raw.get("payer_copy") else _billing_footer(p, provider))
    return Content(
        subject=_("Receipt for your payment of %(amount)s", amount=p.money()),
        heading=_("Payment received"), paragraphs=paragraphs,
        facts=_facts((_("Payment ID"), payment_reference(p.raw["payment_id"])
                                         if isinstance(p.raw.get("payment_id"), int) else ""), (_("Amount"), p.money()),
                     (_("Payment method"), p.method())),
        footer=footer)


def credit_added(p: Payload, provider: str) -> Content:  # B15
    why = (_("What it was for had already been paid.") if p.text("reason") in ("already_paid", "allocation_changed")
           else _("It was more than was owed."))
    return Content(
        subject=_("%(amount)s has become credit on your account", amount=p.money()),
        heading=_("Your account has credit"),
        paragraphs=[_("A payment of yours has been received, and %(amount)s of it paid nothing.",
                      amount=p.money()) + " " + why,
                    _("The money is kept as credit on the account: it pays the account's next charges or "
                      "invoices automatically. If you would rather have it back, open a support request and "
                      "we will refund it.")],
        facts=_facts((_("Payment ID"), payment_reference(p.raw["payment_id"])
                      if isinstance(p.raw.get("payment_id"), int) else ""), (_("Credit"), p.money())),
        footer=_billing_footer(p, provider))


def credit_refunded(p: Payload, provider: str) -> Content:  # B15
    paragraph = (_("We have refunded %(amount)s of your account's credit to %(method)s. It can take a few "
                   "days before it shows on the card's statement.", amount=p.money(),
                   method=p.method(in_sentence=True))
                 if p.text("how") == "card" else
                 _("We have refunded %(amount)s of your account's credit by bank transfer.", amount=p.money()))
    return Content(
        subject=_("%(amount)s of your credit has been refunded", amount=p.money()),
        heading=_("Your credit has been refunded"), paragraphs=[paragraph],
        facts=_facts((_("Payment ID"), payment_reference(p.raw["payment_id"])
                      if isinstance(p.raw.get("payment_id"), int) else ""), (_("Amount"), p.money())),
        footer=_billing_footer(p, provider))


def card_expiring(p: Payload, provider: str) -> Content:  # B8
    return Content(
        subject=_("%(card)s expires soon", card=p.method()),
        heading=_("Your card expires soon"),
        paragraphs=[_("%(card)s expires on %(date)s. After that, payments with it will be declined.",
                      card=p.method(), date=p.day("expires_on")),
                    _("Add a new card on the Payment methods page and choose it as the default or for the "
                      "subscriptions the old card pays for.")],
        facts=_facts((_("Payment method"), p.method()), (_("Expires"), p.day("expires_on"))),
        footer=_billing_footer(p, provider))


def payment_method_updated(p: Payload, provider: str) -> Content:  # issue 33 item 3
    return Content(
        subject=_("%(card)s has been updated", card=p.method()),
        heading=_("A saved card has been updated"),
        paragraphs=[_("%(card)s at %(provider)s now expires on %(date)s. Everything that used the card keeps "
                      "using it. Nothing was charged.", card=p.method(), provider=provider,
                      date=p.day("expires_on")),
                    _("If you did not expect this change, sign in and check the payment methods, or contact "
                      "your account administrator.")],
        facts=_facts((_("Payment method"), p.method()), (_("Expires"), p.day("expires_on")),
                     (_("Name on card"), p.text("holder"))),
        footer=_billing_footer(p, provider))


def subscription_cancel_planned(p: Payload, provider: str) -> Content:  # issue 33
    sub, last = p.text("subscription"), p.day("last_day")
    return Content(
        subject=_("%(subscription)s is cancelled at the end of the period", subscription=sub),
        heading=_("%(subscription)s is cancelled at the end of the period", subscription=sub),
        paragraphs=[_("%(subscription)s at %(provider)s keeps running until %(date)s and then ends. It is billed "
                      "for the days up to then, and nothing after.", subscription=sub, provider=provider, date=last),
                    _("Changed your mind? You can undo the cancellation on the subscription's page until then.")],
        facts=_facts((_("Subscription"), sub), (_("Last day"), last)), footer=_billing_footer(p, provider))


def subscription_plan_changed(p: Payload, provider: str) -> Content:  # issue 33, B24
    sub, start = p.text("subscription"), p.day("price_from")
    old, new = p.money("old_amount_minor"), p.money()
    return Content(
        subject=_("The plan of %(subscription)s has been changed", subscription=sub),
        heading=_("The plan of %(subscription)s has been changed", subscription=sub),
        paragraphs=[_("%(subscription)s at %(provider)s is on the %(plan)s plan from %(date)s. Its monthly price "
                      "changes from %(old)s to %(new)s, for the month from %(date)s on.", subscription=sub,
                      provider=provider, plan=p.text("plan"), date=start, old=old, new=new),
                    _("If you did not expect this change, sign in and check the subscription, or contact "
                      "your account administrator.")],
        facts=_facts((_("Subscription"), sub), (_("Plan"), p.text("plan")), (_("Monthly price"), new),
                     (_("New price from"), start)), footer=_billing_footer(p, provider))


def subscription_cancel_undone(p: Payload, provider: str) -> Content:  # issue 33
    sub = p.text("subscription")
    return Content(
        subject=_("%(subscription)s keeps running", subscription=sub),
        heading=_("The cancellation has been undone"),
        paragraphs=[_("%(subscription)s at %(provider)s is no longer cancelled. It keeps running and is billed "
                      "every month as before.", subscription=sub, provider=provider)],
        facts=_facts((_("Subscription"), sub)), footer=_billing_footer(p, provider))


def subscription_paused(p: Payload, provider: str) -> Content:  # B21
    sub, start = p.text("subscription"), p.day("paused_on")
    return Content(
        subject=_("%(subscription)s is paused", subscription=sub),
        heading=_("%(subscription)s is paused", subscription=sub),
        paragraphs=[_("%(subscription)s at %(provider)s is paused from %(date)s: its services have stopped, and "
                      "it is not billed for the days it is paused. What it was billed for before then is still "
                      "owed.", subscription=sub, provider=provider, date=start),
                    _("You can resume it on the subscription's page at any time; it is billed again from the day "
                      "you resume it.")],
        facts=_facts((_("Subscription"), sub), (_("Paused from"), start)), footer=_billing_footer(p, provider))


def subscription_resumed(p: Payload, provider: str) -> Content:  # B21
    sub, start = p.text("subscription"), p.day("resumed_on")
    return Content(
        subject=_("%(subscription)s has been resumed", subscription=sub),
        heading=_("%(subscription)s has been resumed", subscription=sub),
        paragraphs=[_("%(subscription)s at %(provider)s runs again from %(date)s, and is billed from that day "
                      "(pro rata by day for this month).", subscription=sub, provider=provider, date=start),
                    _("If you did not expect this change, sign in and check the subscription, or contact "
                      "your account administrator.")],
        facts=_facts((_("Subscription"), sub), (_("Resumed on"), start)), footer=_billing_footer(p, provider))


def spending_alert(p: Payload, provider: str) -> Content:  # issue 33 item 2
    try:
        when = month(date.fromisoformat(p.text("month")))
    except ValueError:
        when = ""
    percent, sub = p.text("percent"), p.text("subscription")
    if sub:  # an alert of one subscription's costs
        paragraphs = [_("The costs of %(subscription)s at %(provider)s in %(month)s have reached %(percent)s %% "
                        "of the monthly amount of its spending alert: %(spent)s of %(amount)s.", subscription=sub,
                        provider=provider, month=when, percent=percent, spent=p.money("spent_minor"),
                        amount=p.money())]
    else:
        paragraphs = [_("The costs of the account at %(provider)s in %(month)s have reached %(percent)s %% of the "
                        "monthly amount of the spending alert: %(spent)s of %(amount)s.", provider=provider,
                        month=when, percent=percent, spent=p.money("spent_minor"), amount=p.money())]
    if percent == "100":
        paragraphs.append(_("Nothing stops or changes: this is only a warning. The costs page shows what each "
                            "subscription has cost this month."))
    else:
        paragraphs.append(_("The costs page shows what each subscription has cost this month. You get one more "
                            "email if the costs reach the whole amount."))
    return Content(
        subject=_("Spending alert: %(percent)s %% of %(amount)s reached", percent=percent, amount=p.money()),
        heading=_("This month's costs have reached %(percent)s %% of your spending alert", percent=percent),
        paragraphs=paragraphs,
        facts=_facts(*(((_("Subscription"), sub),) if sub else ()),
                     (_("Costs this month so far"), p.money("spent_minor")),
                     (_("Monthly amount of the alert"), p.money())),
        footer=_("You receive this email because a spending alert is set for the account at %(provider)s. "
                 "Change or remove it on the costs page.", provider=provider))


def notification_email_changed(p: Payload, provider: str) -> Content:  # R11
    old, new = p.text("old"), p.text("new")
    paragraphs = [_("Billing notifications from %(provider)s are now sent to %(new)s instead of %(old)s.",
                    provider=provider, new=new, old=old)]
    if p.to_address.lower() == old.lower():
        paragraphs.append(_("If you did not ask for this change, sign in and change the address back, "
                            "or contact your account administrator."))
    else:
        paragraphs.append(_("Payment failures, invoices and past-due balances will be sent to this "
                            "address. Add it to your contacts so that the messages do not end up in "
                            "the spam folder."))
    return Content(
        subject=_("The billing notification address has changed"),
        heading=_("The billing notification address has changed"), paragraphs=paragraphs,
        facts=_facts((_("Previous address"), old), (_("New address"), new)),
        footer=_("You receive this email because this address was, or has become, the billing "
                 "notification address of an account at %(provider)s.", provider=provider))


def support_request_received(p: Payload, provider: str) -> Content:  # R13
    return Content(
        subject=_("We have received your support request"),
        heading=_("We have received your support request"),
        paragraphs=[_("Thank you. We have received your support request and will answer by email.")],
        # Translators: the number a person quotes about a support request or payment (a label).
        facts=_facts((_("Reference"), f"#{p.text('request_id')}" if p.text("request_id") else ""),
                     (_("Subject"), p.text("subject"))),
        footer=_("You receive this email because you opened a support request in the %(provider)s "
                 "billing portal.", provider=provider))


def billing_details_changed(p: Payload, provider: str) -> Content:  # B7, told as R11
    return Content(
        subject=_("Your billing details have changed"),
        heading=_("Your billing details have changed"),
        paragraphs=[_("The billing details of %(company)s at %(provider)s were changed. Invoices issued from "
                      "now on carry the new details; invoices already issued do not change.",
                      company=p.text("company_name"), provider=provider),
                    _("If you did not expect this change, sign in and check the billing details, or contact "
                      "your account administrator.")],
        facts=_facts((_("Company name"), p.text("company_name"))),
        footer=_billing_footer(p, provider))


COMPOSERS: dict[str, Callable[[Payload, str], Content]] = {
    f.__name__: f for f in (payment_failed, subscription_disable_warning, subscription_disabled,
                            invoice_ready, auto_charge_succeeded, auto_charge_failed, invoice_past_due,
                            receipt, notification_email_changed, support_request_received,
                            billing_details_changed, card_expiring, credit_added, credit_refunded, invitation,
                            role_changed, password_reset, password_reset_unknown, sign_in_unlock,
                            payment_method_updated, subscription_cancel_planned, subscription_cancel_undone,
                            subscription_plan_changed, subscription_paused, subscription_resumed, spending_alert, autogiro_not_drawn,
                            autogiro_mandate_ended)
}


class UnknownTemplate(LookupError):
    pass


def compose(template: str, payload: dict[str, Any], to_address: str, provider: str) -> Content:
    """The message's words in the current locale (the caller forces the recipient's)."""
    composer = COMPOSERS.get(template)
    if composer is None:
        raise UnknownTemplate(template)
    return composer(Payload(payload or {}, to_address), provider)
