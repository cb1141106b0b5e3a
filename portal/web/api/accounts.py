"""/api/v1: billing accounts (both kinds), billing profiles and details, subscriptions
(create, rename, price change from a month, cancel) and their usage lines."""
from __future__ import annotations

from flask import request

from portal.billing.accounts.details import DetailsInput
from portal.billing.provider import catalog, reads
from portal.models import AccountKind
from portal.services import billing
from portal.web.api.core import WRITE, answers, bp, dump, idempotent, listed, spec
from portal.web.api.schemas import (AccountIn, AccountList, AccountOut, DetailsIn, DetailsOut,
                                    ListQuery, ProfileIn, ProfileList, ProfileOut, SubscriptionBatchIn,
                                    SubscriptionChangeIn, SubscriptionIn, SubscriptionList, SubscriptionOut,
                                    UsageBatchIn, UsageList, UsageOut)

@bp.post("/accounts")
@spec.validate(json=AccountIn, resp=answers(201, AccountOut, 409, 422), tags=["accounts"], **WRITE)
def create_account():
    body = request.context.json
    return idempotent(lambda: (201, dump(AccountOut, catalog.create_account(
        billing(), AccountKind(body.kind), body.name, body.notification_email, body.currency))))


@bp.get("/accounts")
@spec.validate(query=ListQuery, resp=answers(200, AccountList, 422), tags=["accounts"])
def list_accounts():
    q = request.context.query
    return listed(AccountOut, reads.accounts(billing(), q.after, q.limit, q.updated_since))


@bp.get("/accounts/<int:account_id>")
@spec.validate(resp=answers(200, AccountOut, 404), tags=["accounts"])
def get_account(account_id: int):
    return dump(AccountOut, catalog.account(billing(), account_id))


@bp.post("/accounts/<int:account_id>/profiles")
@spec.validate(json=ProfileIn, resp=answers(201, ProfileOut, 404, 409, 422), tags=["accounts"], **WRITE)
def create_profile(account_id: int):
    body = request.context.json
    return idempotent(lambda: (201, dump(ProfileOut, catalog.create_profile(billing(), account_id, body.name))))


@bp.get("/accounts/<int:account_id>/profiles")
@spec.validate(query=ListQuery, resp=answers(200, ProfileList, 404, 422), tags=["accounts"])
def list_profiles(account_id: int):
    q = request.context.query
    return listed(ProfileOut, reads.profiles(billing(), account_id, q.after, q.limit, q.updated_since))


def _put_details(account_id: int, profile_id: int | None):
    body = request.context.json
    values = DetailsInput(**body.model_dump())
    return idempotent(lambda: (200, dump(DetailsOut, catalog.put_details(billing(), account_id, profile_id, values))))


@bp.put("/accounts/<int:account_id>/details")
@spec.validate(json=DetailsIn, resp=answers(200, DetailsOut, 404, 409, 422), tags=["accounts"], **WRITE)
def put_account_details(account_id: int):
    """A pay-as-you-go account's billing details (B7)."""
    return _put_details(account_id, None)


@bp.put("/accounts/<int:account_id>/profiles/<int:profile_id>/details")
@spec.validate(json=DetailsIn, resp=answers(200, DetailsOut, 404, 409, 422), tags=["accounts"], **WRITE)
def put_profile_details(account_id: int, profile_id: int):
    """A customer agreement's billing profile's billing details (B7)."""
    return _put_details(account_id, profile_id)


@bp.post("/accounts/<int:account_id>/subscriptions")
@spec.validate(json=SubscriptionIn, resp=answers(201, SubscriptionOut, 404, 409, 422), tags=["subscriptions"],
               **WRITE)
def create_subscription(account_id: int):
    body = request.context.json
    return idempotent(lambda: (201, dump(SubscriptionOut, catalog.create_subscription(
        billing(), account_id, body.name, body.monthly_fee_minor, body.started_on, body.billing_profile_id))))


@bp.post("/accounts/<int:account_id>/subscriptions/batch")
@spec.validate(json=SubscriptionBatchIn, resp=answers(201, SubscriptionList, 404, 409, 422), tags=["subscriptions"],
               **WRITE)
def create_subscriptions(account_id: int):
    """Up to 1,000 subscriptions of one account in one request, in the order given; one
    refused, none created."""
    wanted = [catalog.NewSubscription(**item.model_dump()) for item in request.context.json.subscriptions]
    return idempotent(lambda: (201, listed(SubscriptionOut, catalog.create_subscriptions(
        billing(), account_id, wanted))))


@bp.get("/accounts/<int:account_id>/subscriptions")
@spec.validate(query=ListQuery, resp=answers(200, SubscriptionList, 404, 422), tags=["subscriptions"])
def list_subscriptions(account_id: int):
    q = request.context.query
    return listed(SubscriptionOut, reads.subscriptions(billing(), account_id, q.after, q.limit, q.updated_since))


@bp.get("/subscriptions/<int:subscription_id>")
@spec.validate(resp=answers(200, SubscriptionOut, 404), tags=["subscriptions"])
def get_subscription(subscription_id: int):
    return dump(SubscriptionOut, catalog.subscription(billing(), subscription_id))


@bp.patch("/subscriptions/<int:subscription_id>")
@spec.validate(json=SubscriptionChangeIn, resp=answers(200, SubscriptionOut, 404, 409, 422),
               tags=["subscriptions"], **WRITE)
def change_subscription(subscription_id: int):
    """Rename, change the price from a month not billed yet, or cancel (R12 follows)."""
    body = request.context.json
    change = catalog.SubscriptionChange(**body.model_dump())
    return idempotent(lambda: (200, dump(SubscriptionOut, catalog.change_subscription(
        billing(), subscription_id, change))))


@bp.post("/subscriptions/<int:subscription_id>/usage")
@spec.validate(json=UsageBatchIn, resp=answers(201, UsageList, 404, 409, 422), tags=["usage"], **WRITE)
def post_usage(subscription_id: int):
    """Up to 1,000 usage lines of one subscription, rated now, billed with their month."""
    lines = [catalog.Usage(**line.model_dump()) for line in request.context.json.lines]

    def work():
        rows = catalog.post_usage(billing(), subscription_id, lines)
        return 201, listed(UsageOut, rows)
    return idempotent(work)


@bp.get("/subscriptions/<int:subscription_id>/usage")
@spec.validate(query=ListQuery, resp=answers(200, UsageList, 404, 422), tags=["usage"])
def list_usage(subscription_id: int):
    q = request.context.query
    catalog.subscription(billing(), subscription_id)
    return listed(UsageOut, reads.usage(billing(), subscription_id, q.after, q.limit, q.updated_since))
