"""Benchmark: the API's read model and its indexer, on SQLite and PostgreSQL.

1. Indexer throughput: a backlog of at least 100,000 contract events on Anvil (allocations of
   100 token ids to 1,000 registered enterprises, 200 recipients a transaction, many
   transactions a block), indexed from block 0 into an empty read model, events/s per database.
   The figure covers everything: ``eth_getLogs``, block timestamps, decoding, projections and
   statistics roll-ups, commits.
2. Query latency with 1,000,000 events in the read model: the read model is filled through the
   same projector with synthetic events of 2,162 enterprises over ten years (trades, anchored
   emission batches, cash movements), then an audit-trail query (one account's history, a page
   of 100, sometimes in a time window or for one token) and a statistics query (emissions,
   allocations or trading grouped by month/year and region/industry/enterprise) are timed
   through the API (in-process client, a regulator's session), p50 and p95 per database. The
   same queries on a read model of 50,000 events run first as the baseline of this run.
3. Requests/s of a read endpoint (``GET /participants/{address}`` with a session) served by uvicorn with two
   workers, under wrk (Debian package) or, without it, a Python load generator. Baseline of the same
   run (``read_rps_floor``): the same server answering a path no route matches (404 from the
   router: no session, no database), the most this stack serves on this machine.

Run: python bench/api.py [--events 100000] [--rows 1000000] [--quick]   (last line: JSON)
PostgreSQL: ETS_TEST_POSTGRES_URL, else scripts/postgres starts a throwaway server.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# `python bench/api.py` puts bench/ first on the path, where this file would shadow the `api` package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from eth_account.signers.local import LocalAccount  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402
from sqlalchemy import text  # noqa: E402

from api.config import ApiSettings  # noqa: E402
from api.context import AppContext  # noqa: E402
from chain.anchoring import BatchTotal, pack_totals  # noqa: E402
from chain.compile import compile_contracts  # noqa: E402
from chain.events import ZERO_ADDRESS, DecodedEvent  # noqa: E402
from chain.node import AnvilNode  # noqa: E402
from chain.onboarding import register_enterprises  # noqa: E402
from chain.siwe import wallet_sign_in  # noqa: E402
from chain.suite import LocalSuite, deploy_local_suite  # noqa: E402
from chain.tx import ChainClient  # noqa: E402
from domain.tokens import POLLUTANTS, Kind, encode_id  # noqa: E402
from readmodel.indexer.project import Projector  # noqa: E402
from readmodel.indexer.run import Indexer  # noqa: E402
from readmodel.migrate import upgrade  # noqa: E402
from readmodel.session import make_engine, scratch_database  # noqa: E402
from sim.sample import generate_enterprises, sample_account, sample_profile  # noqa: E402

#: The load generator is one client sending thousands of requests a second as one account: the
#: rate limits are set out of its reach, explicitly (production defaults stay on).
UNTHROTTLED = {
    "api_rate_limit_client": "100000000/minute",
    "api_rate_limit_sign_in": "100000000/minute",
    "api_rate_limit_principal": "100000000/minute",
}

ROOT = Path(__file__).resolve().parents[1]
console = Console(stderr=True)
COLUMNS = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
BATCH = 200  # recipients per allocation transaction
START = 1_514_736_000  # 2018-01-01 00:00 +08:00
YEARS = 10


# ---------------------------------------------------------------------- databases


def postgres_server() -> str:
    url = os.environ.get("ETS_TEST_POSTGRES_URL")
    if url:
        return url
    return subprocess.run(
        [str(ROOT / "scripts/postgres")], check=True, capture_output=True, text=True
    ).stdout.strip()


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh empty database URL of ``kind`` (dropped afterwards for PostgreSQL)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/bench-{uuid.uuid4().hex[:8]}.db"
        return
    with scratch_database(postgres_server(), "ets_bench") as url:
        yield url


# ---------------------------------------------------------------------- 1. the backlog on the chain


def make_backlog(suite: LocalSuite, enterprises: int, events: int, progress: Progress) -> int:
    """Register ``enterprises`` and allocate enough token ids to all of them for ``events``
    TransferSingle events; returns the number of blocks."""
    chain, regulator = suite.chain, suite.regulator
    sample = generate_enterprises(enterprises, years=3, seed=7).enterprises
    accounts = [sample_account(e.credit_code) for e in sample]
    task = progress.add_task(f"register {enterprises:,} enterprises", total=enterprises)
    register_enterprises(
        suite.registry,
        suite.members,
        [(a.address, sample_profile(e)) for a, e in zip(accounts, sample, strict=True)],
        on_batch=lambda k: progress.advance(task, k),
    )
    ids = [encode_id(Kind.ALLOWANCE, p, v) for v in range(2025, 2060) for p in POLLUTANTS.values()]
    ids = ids[: -(-events // enterprises)]
    token = suite.allowance.contract.functions
    calls: list[tuple[Any, LocalAccount]] = [(token.setCap(i, 10**12), regulator) for i in ids]
    chain.send_packed(calls, gas=200_000)
    calls = []
    for n, token_id in enumerate(ids):
        for b, start in enumerate(range(0, enterprises, BATCH)):
            part = accounts[start : start + BATCH]
            ref = n.to_bytes(4, "big") + b.to_bytes(4, "big") + bytes(24)
            calls.append(
                (token.allocate(token_id, [a.address for a in part], [1_000 + b] * len(part), ref), regulator)
            )
    task = progress.add_task(f"allocate {len(ids)} ids ({len(calls)} transactions)", total=len(calls))
    chain.send_packed(calls, gas=9_000_000, chunk=50, on_progress=lambda k: progress.advance(task, k))
    return int(chain.w3.eth.block_number)


def index_throughput(suite: LocalSuite, url: str, progress: Progress) -> tuple[float, int]:
    """Events/s of indexing the whole chain into the empty read model at ``url``."""
    engine = make_engine(url)
    upgrade(engine)
    indexer = Indexer(suite.chain, suite.manifest, engine, page_blocks=500)
    task = progress.add_task(f"index into {engine.dialect.name}", total=None)
    start = time.perf_counter()
    events = indexer.catch_up(
        lambda r, _t: progress.update(
            task, description=f"index into {engine.dialect.name} (block {r.to_block})"
        )
    )
    seconds = time.perf_counter() - start
    progress.update(task, total=1, completed=1)
    engine.dispose()
    return events / seconds, events


# ---------------------------------------------------------------------- 2. a big read model


def _address(i: int) -> str:
    return sample_account(f"bench-{i}").address


class Synthetic:
    """Deterministic synthetic events of 2,162 enterprises over ten years."""

    def __init__(self, enterprises: int = 2_162, seed: int = 11) -> None:
        self.rng = random.Random(seed)
        self.sample = generate_enterprises(enterprises, years=3, seed=seed).enterprises
        self.accounts = [sample_account(e.credit_code).address for e in self.sample]
        self.devices = [_address(i) for i in range(enterprises)]
        self.ids = [encode_id(Kind.ALLOWANCE, p, v) for v in range(2018, 2028) for p in (1, 2, 3)]
        self.block = 1
        self.log = 0

    def _event(
        self, t: int, contract: str, name: str, args: dict[str, Any], parties: tuple[str, ...]
    ) -> DecodedEvent:
        self.log += 1
        if self.log > 200:
            self.block, self.log = self.block + 1, 0
        return DecodedEvent(
            self.block,
            self.log,
            "0x" + f"{self.block:016x}{self.log:08x}".rjust(64, "0"),
            t,
            contract,
            "0x" + "00" * 20,
            name,
            args,
            parties,
        )

    def registrations(self) -> list[DecodedEvent]:
        out = []
        for a, e in zip(self.accounts, self.sample, strict=True):
            args = {
                "account": a,
                "creditCode": e.credit_code,
                "name": e.name,
                "regionCode": e.region_code,
                "industryCode": e.industry_code,
                "latitude": int(e.latitude * 1e6),
                "longitude": int(e.longitude * 1e6),
            }
            out.append(self._event(START, "ConsortiumRegistry", "EnterpriseRegistered", args, (a,)))
        return out

    def pages(self, rows: int, page: int = 20_000) -> Iterator[list[DecodedEvent]]:
        """``rows`` events in time order: 45 % allowance trades, 35 % anchored batches, 20 % cash."""
        span = YEARS * 365 * 86_400
        rng = self.rng
        out: list[DecodedEvent] = []
        for n in range(rows):
            t = START + n * span // rows
            kind = rng.random()
            if kind < 0.45:
                src, dst = rng.sample(self.accounts, 2)
                args = {
                    "operator": src,
                    "from": src,
                    "to": dst,
                    "id": rng.choice(self.ids),
                    "value": rng.randint(1, 500),
                }
                out.append(self._event(t, "AllowanceToken", "TransferSingle", args, (src, dst)))
            elif kind < 0.80:
                i = rng.randrange(len(self.accounts))
                args = {
                    "batchId": "0x" + f"{n:064x}",
                    "device": self.devices[i],
                    "enterprise": self.accounts[i],
                    "firstSequence": n,
                    "lastSequence": n + 59,
                    "previousSequence": n - 1,
                    "periodStart": t - 3600,
                    "periodEnd": t,
                    "count": 60,
                    "root": "0x" + f"{n + 1:064x}",
                    "totals": "0x"
                    + pack_totals([BatchTotal("a21026", "kg", rng.randint(1_000, 90_000), 2)]).hex(),
                }
                out.append(
                    self._event(
                        t, "EmissionsLedger", "BatchAnchored", args, (self.devices[i], self.accounts[i])
                    )
                )
            else:
                src, dst = rng.sample(self.accounts, 2)
                if rng.random() < 0.3:
                    src = ZERO_ADDRESS
                args = {"from": src, "to": dst, "value": rng.randint(100, 10**7)}
                parties = (dst,) if src == ZERO_ADDRESS else (src, dst)
                out.append(self._event(t, "SettlementToken", "Transfer", args, parties))
            if len(out) == page:
                yield out
                out = []
        if out:
            yield out


def fill(url: str, rows: int, progress: Progress) -> Synthetic:
    engine = make_engine(url)
    upgrade(engine)
    synthetic = Synthetic()
    projector = Projector()
    task = progress.add_task(f"{rows:,} events into {engine.dialect.name}", total=rows)
    with engine.begin() as conn:
        projector.apply(conn, synthetic.registrations())
    for page in synthetic.pages(rows):
        with engine.begin() as conn:
            projector.apply(conn, page)
        progress.advance(task, len(page))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    engine.dispose()
    return synthetic


def percentiles(samples: list[float]) -> dict[str, float]:
    samples = sorted(samples)
    return {
        "p50": round(statistics.median(samples), 2),
        "p95": round(samples[int(0.95 * (len(samples) - 1))], 2),
    }


def time_queries(
    suite: LocalSuite, url: str, synthetic: Synthetic, samples: int
) -> dict[str, dict[str, float]]:
    """p50/p95 (ms) of audit-trail and statistics queries through the API on the read model at ``url``."""
    from fastapi.testclient import TestClient

    from api.main import create_app

    settings = ApiSettings(database_url=url, api_domain="testserver", **UNTHROTTLED)
    ctx = AppContext(settings, suite.chain, suite.manifest, make_engine(url))
    rng = random.Random(5)
    with TestClient(create_app(ctx, migrate=False, indexer=False), base_url="http://testserver") as client:
        headers = {"Authorization": f"Bearer {wallet_sign_in(client.post, suite.regulator)}"}
        year_s = 365 * 86_400

        def audit() -> str:
            account = rng.choice(synthetic.accounts)
            params: dict[str, Any] = {"account": account, "limit": 100}
            shape = rng.random()
            if shape < 0.3:
                start = START + rng.randrange(YEARS) * year_s
                params |= {"from_time": start, "to_time": start + year_s}
            elif shape < 0.5:
                params |= {"token_id": rng.choice(synthetic.ids)}
            return "/audit/events?" + "&".join(f"{k}={v}" for k, v in params.items())

        def stats() -> str:
            metric = rng.choice(["emissions_t", "traded", "allocated"])
            grain = rng.choice(["month", "year"])
            group = rng.choice(["time", "region", "industry", "enterprise", "time,region"])
            year = 2018 + rng.randrange(YEARS)
            start, end = (f"{year}-01", f"{year}-12") if grain == "month" else ("2018", "2027")
            groups = "&".join(f"group_by={g}" for g in group.split(","))
            return f"/stats?metric={metric}&grain={grain}&{groups}&from_period={start}&to_period={end}"

        out: dict[str, dict[str, float]] = {}
        for name, make in (("audit", audit), ("stats", stats)):
            for _ in range(10):  # warm the caches of the database, not of the answers
                client.get(make(), headers=headers)
            timings = []
            for _ in range(samples):
                path = make()
                start = time.perf_counter()
                response = client.get(path, headers=headers)
                timings.append((time.perf_counter() - start) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
            out[name] = percentiles(timings)
    ctx.engine.dispose()
    return out


# ---------------------------------------------------------------------- 3. requests/s


def read_rps(
    suite: LocalSuite, manifest: Path, url: str, paths: list[str], seconds: int = 10
) -> tuple[list[float], str]:
    """Requests/s of ``GET path`` (signed in) for each of ``paths``, on uvicorn (two workers) under
    a local load generator; the first path must answer 200, the others may answer anything."""
    import httpx

    port = 18_000 + random.randrange(1000)
    env = dict(
        os.environ,
        ETS_RPC_URL=suite.chain.w3.provider.endpoint_uri,
        ETS_MANIFEST=str(manifest),  # type: ignore[attr-defined]
        ETS_DATABASE_URL=url,
        ETS_API_EMBEDDED_INDEXER="0",
        ETS_API_JSON_LOGS="1",  # a JSON request log line a request, as `ets api --workers 2` serves
        ETS_API_DOMAIN=f"127.0.0.1:{port}",
        ETS_DEMO="1",
        **{f"ETS_{name.upper()}": value for name, value in UNTHROTTLED.items()},
    )
    log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in the finally below; read on failure
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:app_from_env",
            "--factory",
            "--workers",
            "2",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=base) as client:
            token = wallet_sign_in(client.post, suite.regulator)
        check = httpx.get(base + paths[0], headers={"Authorization": f"Bearer {token}"})
        if check.status_code != 200:
            raise RuntimeError(f"{paths[0]}: {check.status_code} {check.text[:300]}")
        wrk = shutil.which("wrk")
        rates: list[float] = []
        for i, path in enumerate(paths):
            if not wrk:
                rates.append(python_load(base + path, token, seconds, ok_only=i == 0))
                continue
            result = subprocess.run(
                [wrk, "-t2", "-c32", f"-d{seconds}s", "-H", f"Authorization: Bearer {token}", base + path],
                capture_output=True,
                text=True,
                check=True,
            )
            found = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
            non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
            if found is None or (i == 0 and non2xx is not None):
                raise RuntimeError(f"wrk: {result.stdout}")
            rates.append(float(found.group(1)))
        return rates, "wrk -t2 -c32" if wrk else "python threads"
    except Exception:
        log.seek(0)
        print(log.read()[-3000:].decode(errors="replace"), file=sys.stderr)
        raise
    finally:
        server.terminate()
        server.wait(10)
        log.close()


def python_load(url: str, token: str, seconds: int, threads: int = 8, ok_only: bool = True) -> float:
    import httpx

    done = [0]
    stop = time.perf_counter() + seconds
    lock = threading.Lock()

    def worker() -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
            while time.perf_counter() < stop:
                response = client.get(url)
                if ok_only:
                    response.raise_for_status()
                with lock:
                    done[0] += 1

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return done[0] / (time.perf_counter() - start)


# ---------------------------------------------------------------------- main


def main(events: int, rows: int, samples: int) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "indexer_events_per_s": {},
        "audit_query_p50_ms": {},
        "audit_query_p95_ms": {},
        "stats_query_p50_ms": {},
        "stats_query_p95_ms": {},
        "baseline_rows": 50_000,
    }
    with (
        AnvilNode(accounts=10, gas_limit=60_000_000) as node,
        tempfile.TemporaryDirectory() as tmp_name,
        Progress(*COLUMNS, console=console) as progress,
    ):
        tmp = Path(tmp_name)
        suite = deploy_local_suite(
            ChainClient.connect(node.url, compile_contracts()), tmp / "deployment.json"
        )
        blocks = make_backlog(suite, 1_000, events, progress)
        figures["backlog_blocks"] = blocks
        for kind in ("sqlite", "postgresql"):
            with database(kind, tmp) as url:
                rate, indexed = index_throughput(suite, url, progress)
            figures["indexer_events_per_s"][kind] = round(rate)
            figures["backlog_events"] = indexed
        for kind in ("sqlite", "postgresql"):
            for size, suffix in ((50_000, "_baseline"), (rows, "")):
                with database(kind, tmp) as url:
                    synthetic = fill(url, size, progress)
                    timed = time_queries(suite, url, synthetic, samples)
                    if kind == "sqlite" and not suffix:
                        (rps, floor), generator = read_rps(
                            suite,
                            tmp / "deployment.json",
                            url,
                            [f"/participants/{synthetic.accounts[0]}", "/no-such-route"],
                        )
                        figures["read_rps"], figures["load_generator"] = round(rps), generator
                        figures["read_rps_floor"] = round(floor)
                for name in ("audit", "stats"):
                    for p in ("p50", "p95"):
                        figures[f"{name}_query_{p}_ms{suffix}"] = figures.get(
                            f"{name}_query_{p}_ms{suffix}", {}
                        )
                        figures[f"{name}_query_{p}_ms{suffix}"][kind] = timed[name][p]
        figures["rows"] = rows
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000, help="events in the chain backlog")
    parser.add_argument("--rows", type=int, default=1_000_000, help="events in the read model for queries")
    parser.add_argument("--samples", type=int, default=300, help="timed requests per query kind")
    parser.add_argument("--quick", action="store_true", help="a small run (10k events, 100k rows)")
    options = parser.parse_args()
    if options.quick:
        options.events, options.rows, options.samples = 10_000, 100_000, 100
    print(json.dumps(main(options.events, options.rows, options.samples)))
