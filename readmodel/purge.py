"""Purging the API's expired state from the read model: SIWE nonces past their lifetime, sessions
expired or signed out, transaction intents never signed, and relayed ones past their retention.
Run by the scheduler (:func:`scheduler.service.add_purge_job`), never by a request."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, and_, delete, or_

from readmodel import models as m
from readmodel.models import BUILT

logger = logging.getLogger(__name__)

#: How long a relayed intent (pending, success, reverted) is kept after its expiry: the record of
#: what the API relayed for whom.
INTENT_RETENTION_SECONDS = 30 * 86_400


@dataclass(frozen=True)
class PurgeReport:
    """Rows deleted by one purge."""

    nonces: int
    sessions: int
    intents: int


def purge_expired(
    engine: Engine, *, now: int | None = None, intent_retention_s: int = INTENT_RETENTION_SECONDS
) -> PurgeReport:
    """Delete, in one transaction: nonces past their expiry (used or not: a used one is refused
    until then, an unknown one after); sessions past their expiry or signed out; intents never
    relayed once expired; relayed intents ``intent_retention_s`` after their expiry.

    Returns:
        How many rows of each kind went.
    """
    now = int(time.time()) if now is None else now
    n, s, i = m.SiweNonce, m.ApiSession, m.TxIntent
    with engine.begin() as conn:
        nonces = cast(CursorResult[Any], conn.execute(delete(n).where(n.expires_at <= now))).rowcount
        sessions = cast(
            CursorResult[Any], conn.execute(delete(s).where(or_(s.expires_at <= now, s.revoked.is_(True))))
        ).rowcount
        intents = cast(
            CursorResult[Any],
            conn.execute(
                delete(i).where(
                    or_(
                        and_(i.status == BUILT, i.expires_at <= now),
                        i.expires_at <= now - intent_retention_s,
                    )
                )
            ),
        ).rowcount
    report = PurgeReport(nonces, sessions, intents)
    logger.info(
        "purged expired API state", extra={"nonces": nonces, "sessions": sessions, "intents": intents}
    )
    return report
