"""The ``database_url`` fixture: every backend gives a fresh database that stores and reads rows."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, create_engine, inspect, select


@contextmanager
def _engine(url: str) -> Iterator[Engine]:
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_database_url_round_trips_rows_when_fresh(database_url: str) -> None:
    metadata = MetaData()
    readings = Table(
        "readings",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("device", String(32), nullable=False),
    )
    with _engine(database_url) as engine:
        assert inspect(engine).get_table_names() == []
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(readings.insert(), [{"device": "CEMS-01"}, {"device": "CEMS-02"}])
        with engine.connect() as conn:
            devices = conn.execute(select(readings.c.device).order_by(readings.c.id)).scalars().all()
    assert devices == ["CEMS-01", "CEMS-02"]


def test_database_url_dialect_matches_backend(database_url: str, request: pytest.FixtureRequest) -> None:
    backend = request.node.callspec.params["database_url"]
    with _engine(database_url) as engine:
        assert engine.dialect.name == backend
        if backend == "postgresql":
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT current_database()").scalar_one().startswith("ets_t_")
