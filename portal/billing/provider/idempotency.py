"""Idempotency-Key (issue 32, as Stripe and the IETF draft do it): a create or update
sent with a key stores its answer in the same transaction as the change, so the same
key and body get that answer again — never a second change — and the same key with
another body is refused. Keys are per token."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from portal.billing.clock import Clock
from portal.billing.transaction import write_transaction
from portal.errors import Refused
from portal.models import IdempotentRequest

Answer = tuple[int, Any]  # status code, JSON body


def request_hash(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _stored(session: Session, token_id: int, key: str, digest: str) -> Answer | None:
    row = session.scalar(select(IdempotentRequest).where(IdempotentRequest.token_id == token_id,
                                                         IdempotentRequest.key == key))
    if row is None:
        return None
    if row.request_hash != digest:
        raise Refused("idempotency_key_reused", "this Idempotency-Key was used with another request")
    return row.status_code, row.body


def once(session: Session, clock: Clock, token_id: int, key: str | None, digest: str,
         work: Callable[[], Answer], *, own_transactions: bool = False) -> Answer:
    """`work()` once per key: in one write transaction with the stored answer, unless
    `own_transactions` (work that commits as it goes, like issuing invoices: its answer
    is stored after it, and running it again is harmless by its own rules)."""
    if key is not None and len(key) > 255:
        raise Refused("invalid_idempotency_key", "an Idempotency-Key of at most 255 characters", status=400)
    if key is not None:
        answer = _stored(session, token_id, key, digest)
        session.commit()
        if answer is not None:
            return answer
    if own_transactions:
        answer = work()
        if key is not None:
            with write_transaction(session):
                _store(session, clock, token_id, key, digest, answer)
        return answer
    try:
        with write_transaction(session):
            answer = work()
            if key is not None:
                _store(session, clock, token_id, key, digest, answer)
                session.flush()
    except IntegrityError:
        # The same key, at the same moment, in another request: its answer wins.
        session.rollback()
        if key is not None and (stored := _stored(session, token_id, key, digest)) is not None:
            return stored
        raise
    return answer


def _store(session: Session, clock: Clock, token_id: int, key: str, digest: str, answer: Answer) -> None:
    session.add(IdempotentRequest(token_id=token_id, key=key, request_hash=digest, status_code=answer[0],
                                  body=answer[1], created_at=clock.now()))
