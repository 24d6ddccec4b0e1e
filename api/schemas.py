"""Models shared by the routes: pages of results, errors, and the paging helper."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from api.deps import PageParams
from api.errors import QueryError

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list: ``items`` from ``offset``, ``total`` matching rows."""

    items: list[T]
    total: int = Field(description="Rows matching the filters")
    limit: int
    offset: int


class ErrorBody(BaseModel):
    """What every refused request gets: a machine-readable ``error`` and a readable ``message``."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"error": "NotFoundError", "message": "auction 7 does not exist"},
    ]})  # fmt: skip

    error: str = Field(description="Error class or the contract's custom error name")
    message: str
    details: dict[str, Any] | None = None
    correlation_id: str | None = Field(
        None,
        description="Server-side failures (5xx) only: quote it to the operator, who finds the "
        "details in the log line with the same id (also in the `X-Correlation-ID` header)",
    )


#: ``responses=`` for routes: the error shapes OpenAPI should show.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid request"},
    401: {"model": ErrorBody, "description": "Not signed in"},
    403: {"model": ErrorBody, "description": "Not allowed for the signed-in account"},
    404: {"model": ErrorBody, "description": "Unknown resource"},
    413: {"model": ErrorBody, "description": "The request body is larger than the API accepts"},
    429: {"model": ErrorBody, "description": "Too many requests: wait for `Retry-After` seconds"},
    503: {"model": ErrorBody, "description": "The chain node or the read model is unavailable"},
}


def paginate(db: Session, stmt: Select[Any], paging: PageParams) -> tuple[list[Any], int]:
    """Rows ``paging.offset``.. of ``stmt`` (ordered by the caller) and the total.

    Raises:
        QueryError: the offset is past the last row (an empty first page is fine).
    """
    total = int(db.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one())
    if paging.offset and paging.offset >= total:
        raise QueryError(f"offset {paging.offset} is past the end: {total} rows match")
    rows = list(db.execute(stmt.limit(paging.limit).offset(paging.offset)).scalars())
    return rows, total
