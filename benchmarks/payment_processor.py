"""Payment processor: requests/s vs uvicorn worker processes (and what stress alone finds).

    python benchmarks/payment_processor.py [--seconds 3] [--workers 1,2,4] [--clients 4]

Part 1 - uvicorn serves the ``unique_key`` app on a unix socket with W
worker processes; C client processes (httpx, keep-alive) send ``POST /pay``
with fresh idempotency keys for ``--seconds``, plus a retry of each key
(answered from the stored response).  Reported: new payments/s and replays/s
and the ratio to one worker.  Everything shares one SQLite file (WAL,
synchronous=FULL) - on tmpfs here, so this measures the software, not a disk.

Part 2 - the check-then-insert race under plain stress: ``--trials`` runs of
4 clients paying the same 6 keys at once against 3 workers (no forced
interleaving, no kills); how many runs double-charged.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from racekit import catalogue_root  # noqa: E402
from racekit.crash.procs import Service, child_env, scratch_dir  # noqa: E402
from specs.payment_processor import charged_twice  # noqa: E402
from stateful_tests.test_payment_processor import _uds_ready, run_http  # noqa: E402


def serve(variant: str, workdir: Path, workers: int) -> Service:
    sock = workdir / "pay.sock"
    env = child_env(catalogue_root(), {"PAY_VARIANT": variant, "PAY_DB": str(workdir / "payments.db"),
                                       "PAY_PROVIDER": str(workdir / "provider.db")})
    argv = [sys.executable, "-m", "uvicorn", "--factory", "systems.payment_processor:app_from_env", "--uds", str(sock),
            "--workers", str(workers), "--log-level", "warning", "--no-access-log"]
    return Service(argv, cwd=catalogue_root(), env=env, log=workdir / "uvicorn.log", ready=lambda: _uds_ready(sock), start_timeout=60)


def _client(sock: str, prefix: str, seconds: float, out: Any) -> None:
    """One load-generating process: pay a fresh key, then retry it, until time is up."""
    paid = replayed = errors = 0
    end = time.monotonic() + seconds
    with httpx.Client(transport=httpx.HTTPTransport(uds=sock), timeout=10.0) as http:
        i = 0
        while time.monotonic() < end:
            key = f"{prefix}-{i}"
            i += 1
            for first in (True, False):
                r = http.post("http://pay/pay", json={"amount": 100}, headers={"Idempotency-Key": key})
                if not 200 <= r.status_code < 300:
                    errors += 1
                elif first:
                    paid += 1
                else:
                    replayed += 1
    out.put((paid, replayed, errors))


def load(sock: Path, clients: int, seconds: float, tag: str) -> tuple[int, int, int]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_client, args=(str(sock), f"{tag}{c}", seconds, out)) for c in range(clients)]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join(30)
    return sum(r[0] for r in results), sum(r[1] for r in results), sum(r[2] for r in results)


def in_process(seconds: float) -> float:
    """The handler alone, one process, no HTTP: payments (+ a replay each) per second."""
    from systems import payment_processor as pp

    with scratch_dir("racekit-bench-pay-local-") as d:
        db, provider = str(d / "payments.db"), str(d / "provider.db")
        pp.create_dbs(db, provider, "unique_key")
        p = pp.Processor(db, provider, "unique_key")
        n, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            p.pay(f"k{n}", 100)
            p.pay(f"k{n}", 100)
            n += 1
        p.close()
    return n / seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--clients", type=int, default=4, help="load-generating processes")
    ap.add_argument("--trials", type=int, default=20)
    args = ap.parse_args()
    print(f"handler without HTTP, one process: {in_process(args.seconds):.0f} payments/s (each with a replay)\n")
    base = None
    print(f"{'workers':>7} {'payments/s':>11} {'replays/s':>10} {'errors':>7} {'ratio':>6}")
    for w in (int(x) for x in args.workers.split(",")):
        with scratch_dir("racekit-bench-pay-") as workdir, serve("unique_key", workdir, w):
            load(workdir / "pay.sock", args.clients, 0.5, "warm")
            paid, replayed, errors = load(workdir / "pay.sock", args.clients, args.seconds, "k")
        rate = paid / args.seconds
        base = base or rate
        print(f"{w:7d} {rate:11.0f} {replayed / args.seconds:10.0f} {errors:7d} {rate / base:6.2f}", flush=True)
    bad = 0
    for t in range(args.trials):
        with scratch_dir("racekit-bench-pay-race-") as workdir:
            out = run_http("check_then_insert", workdir, random_kills=0, seed=t)
        bad += int(charged_twice(out["charges"]) is not None)
    print(f"\ncheck_then_insert under stress (4 clients x 6 shared keys, 3 workers): double charge in {bad}/{args.trials} runs")


if __name__ == "__main__":
    main()
