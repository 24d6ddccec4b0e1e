"""Import of anchored readings from oracle queue files into the read model: only ANCHORED
batches the indexer has seen, each once, rows equal to the queue's signed readings."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from readmodel import models as m
from readmodel.indexer.readings import import_readings
from tests.api.conftest import ApiWorld
from tests.utils.anchoring import bind_site
from tests.utils.compliance import ENTERPRISES


def _count(world: ApiWorld) -> int:
    with world.ctx.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(m.Reading)).scalar_one())


def test_import_readings_takes_indexed_anchored_batches_once(world: ApiWorld, tmp_path: Path) -> None:
    site = bind_site(world.c, ENTERPRISES[0], tmp_path / "queue.db")
    first = site.anchor(site.cut())
    cut_only = site.cut(start=first.period_end + 600)
    missing = tmp_path / "absent.db"

    before_index = import_readings(world.ctx.engine, [site.queue.path or "", missing])
    assert (before_index.batches, before_index.readings, before_index.skipped) == (0, 0, 1)
    assert not missing.exists()

    world.index()
    imported = import_readings(world.ctx.engine, [site.queue.path or ""])
    assert (imported.batches, imported.readings, imported.present) == (1, first.count, 0)
    assert _count(world) == first.count

    again = import_readings(world.ctx.engine, [site.queue.path or ""])
    assert (again.batches, again.readings, again.present) == (0, 0, 1)
    assert _count(world) == first.count

    with world.ctx.engine.connect() as conn:
        rows = conn.execute(
            select(m.Reading)
            .where(m.Reading.batch_id == "0x" + first.batch_id.hex())
            .order_by(m.Reading.position)
        ).all()
        cut_rows = conn.execute(
            select(func.count())
            .select_from(m.Reading)
            .where(m.Reading.batch_id == "0x" + cut_only.batch_id.hex())
        ).scalar_one()
    stored = site.queue.batch_readings(first.batch_id)
    assert [r.sequence for r in rows] == [s.signed.sequence for s in stored]
    assert [r.leaf for r in rows] == ["0x" + s.signed.digest.hex() for s in stored]
    assert [r.value for r in rows] == [str(s.signed.reading.value) for s in stored]
    assert rows[1].frame_hashes == ["0x" + h.hex() for h in stored[1].signed.witness.hashes]
    assert cut_rows == 0
    site.queue.close()
