"""/api/v1: webhook endpoints (registered with a secret), the events written for the
provider, each endpoint's delivery log, and replaying an event."""
from __future__ import annotations

from flask import request
from sqlalchemy import select

from portal.billing.provider import reads, webhooks
from portal.models import WebhookEndpoint
from portal.services import billing
from portal.web.api.core import WRITE, answers, bp, dump, idempotent, listed, spec
from portal.web.api.schemas import (DeliveryList, DeliveryOut, EndpointCreated, EndpointIn, EndpointList, EndpointOut,
                                    EventList, EventOut, ListQuery, ReplayIn)


@bp.post("/webhook-endpoints")
@spec.validate(json=EndpointIn, resp=answers(201, EndpointCreated, 422), tags=["events"], **WRITE)
def add_endpoint():
    """Register a URL; the answer carries its signing secret (made if not given)."""
    body = request.context.json
    return idempotent(lambda: (201, dump(EndpointCreated, webhooks.add_endpoint(
        billing().session, billing().clock, body.url, body.secret))))


@bp.get("/webhook-endpoints")
@spec.validate(query=ListQuery, resp=answers(200, EndpointList, 422), tags=["events"])
def list_endpoints():
    """The endpoints events go to (one removed leaves the list; one listed has not changed since made)."""
    q = request.context.query
    found = reads.page(billing(), reads.since(select(WebhookEndpoint).where(WebhookEndpoint.disabled_at.is_(None)),
                                              WebhookEndpoint.created_at, q.updated_since),
                       WebhookEndpoint.id, q.after, q.limit)
    return listed(EndpointOut, found)


@bp.delete("/webhook-endpoints/<int:endpoint_id>")
@spec.validate(resp=answers(200, EndpointOut, 404), tags=["events"], **WRITE)
def disable_endpoint(endpoint_id: int):
    """No more events to this endpoint; it is gone from the API (its log stays in the
    database: `flask events deliveries`)."""
    return idempotent(lambda: (200, dump(EndpointOut, webhooks.disable_endpoint(
        billing().session, billing().clock, endpoint_id))))


@bp.get("/webhook-endpoints/<int:endpoint_id>/deliveries")
@spec.validate(query=ListQuery, resp=answers(200, DeliveryList, 404, 422), tags=["events"])
def list_deliveries(endpoint_id: int):
    """The endpoint's delivery log: each event sent, its attempts, the last answer."""
    q = request.context.query
    webhooks.endpoint(billing().session, endpoint_id)
    found = reads.deliveries(billing(), endpoint_id, q.after, q.limit, q.updated_since)
    return listed(DeliveryOut, found)


@bp.get("/events")
@spec.validate(query=ListQuery, resp=answers(200, EventList, 422), tags=["events"])
def list_events():
    q = request.context.query
    found = reads.events(billing(), q.after, q.limit, q.updated_since)
    return listed(EventOut, found)


@bp.post("/events/<int:event_id>/replay")
@spec.validate(json=ReplayIn, resp=answers(201, DeliveryList, 404, 422), tags=["events"], **WRITE)
def replay(event_id: int):
    """Send an event again, to every active endpoint or to one."""
    endpoint_id = request.context.json.endpoint_id

    def work():
        added = webhooks.replay(billing().session, event_id, endpoint_id)
        return 201, listed(DeliveryOut, added)
    return idempotent(work)
