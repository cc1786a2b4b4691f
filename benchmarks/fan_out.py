"""fan_out over real HTTP: request latency against downstream count.

The downstreams are small ASGI apps, each under its own uvicorn server on
its own unix socket, all in one child process; the fan-out service is the
catalogue's own code (systems/fan_out.py) calling them with httpx.  Each
downstream sleeps the latency the client asks for in a header (10 ms +
an exponential tail, mean 20 ms, from a seeded generator), so both variants
see the same latencies.  In the "one slow" rows one downstream per request takes
0.5 s (a stuck dependency, six deadlines long).

For N = 1, 2, 4 ... 32 downstreams and each variant, ``--requests``
requests run one after another; the script prints p50 / p99 latency, the
ratio of p50 to the baseline (deadline_partial with one downstream, all
fast, measured in the same run), and for deadline_partial the share of
downstreams missing from the answer.  A plot goes to docs/systems/fan_out.png.

    .venv/bin/python benchmarks/fan_out.py [--requests 30] [--max-n 32] [--plot]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from systems.fan_out import DeadlinePartial, WaitsForAll  # noqa: E402

DEADLINE = 0.080  # seconds
SLOW = 0.5


# ------------------------------------------------------------ the servers
def make_app(name: str) -> Any:
    body = name.upper().encode()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        await asyncio.sleep(int(headers.get(b"x-latency-us", b"0")) / 1e6)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    return app


async def serve(directory: str, n: int) -> None:
    import uvicorn

    servers = [
        uvicorn.Server(uvicorn.Config(make_app(f"d{i}"), uds=os.path.join(directory, f"d{i}.sock"),
                                      log_level="warning", lifespan="off", access_log=False))
        for i in range(n)
    ]
    for s in servers:
        s.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the parent stops us
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks = [asyncio.create_task(s.serve()) for s in servers]
    await stop.wait()
    for s in servers:
        s.should_exit = True
    await asyncio.wait(tasks, timeout=5)


# ------------------------------------------------------------- the client
async def measure(directory: str, n: int, requests: int, slow: bool, seed: int) -> dict[str, Any]:
    import httpx

    clients = [
        httpx.AsyncClient(transport=httpx.AsyncHTTPTransport(uds=os.path.join(directory, f"d{i}.sock")),
                          base_url=f"http://d{i}", timeout=10)
        for i in range(n)
    ]
    out: dict[str, Any] = {}
    try:
        for c in clients:  # connections open before timing starts
            (await c.get("/")).raise_for_status()
        for name, cls in (("waits_for_all", WaitsForAll), ("deadline_partial", DeadlinePartial)):
            rng = random.Random(seed)  # the same latencies for both variants
            latencies: list[float] = []
            missing: list[float] = []
            for _ in range(requests):
                delays = [0.010 + rng.expovariate(1 / 0.020) for _ in range(n)]
                if slow:
                    delays[rng.randrange(n)] = SLOW
                calls = {f"d{i}": _caller(clients[i], delays[i]) for i in range(n)}
                service = cls(calls, DEADLINE)
                t0 = time.perf_counter()
                answer = await service.handle()
                latencies.append(time.perf_counter() - t0)
                missing.append(len(answer.missing) / n)
                await asyncio.sleep(0.005 if name == "deadline_partial" else 0)  # cancelled calls close
            latencies.sort()
            out[name] = {
                "p50": statistics.median(latencies),
                "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
                "missing": statistics.mean(missing),
            }
    finally:
        for c in clients:
            await c.aclose()
    return out


def _caller(client: Any, delay: float) -> Any:
    async def call() -> str:
        response = await client.get("/", headers={"x-latency-us": str(int(delay * 1e6))})
        response.raise_for_status()
        return str(response.text)

    return call


def wait_for_sockets(directory: str, n: int, proc: subprocess.Popen[bytes], limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the downstream process exited with {proc.returncode}")
        if all(os.path.exists(os.path.join(directory, f"d{i}.sock")) for i in range(n)):
            return
        time.sleep(0.05)
    raise SystemExit(f"the {n} downstream sockets did not appear within {limit:.0f}s")


def run(requests: int, max_n: int, plot: bool) -> None:
    ns = [n for n in (1, 2, 4, 8, 16, 32, 64) if n <= max_n]
    rows: list[tuple[int, bool, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="racekit-fanout-") as directory:
        # the servers' stderr goes to a file: uvicorn logs an "invalid state"
        # traceback for each request the client cancels mid-flight (harmless)
        log = open(os.path.join(directory, "servers.log"), "wb")  # noqa: SIM115 - closed below
        proc = subprocess.Popen([sys.executable, __file__, "--serve", directory, str(max(ns))], stderr=log)
        try:
            wait_for_sockets(directory, max(ns), proc)
            for slow in (False, True):
                for n in ns:
                    rows.append((n, slow, asyncio.run(measure(directory, n, requests, slow, seed=n))))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
            tracebacks = Path(directory, "servers.log").read_text(errors="replace").count("Traceback")
    base = next(r["deadline_partial"]["p50"] for n, slow, r in rows if n == 1 and not slow)
    print(f"fan_out over real HTTP (uvicorn on unix sockets, httpx), deadline {DEADLINE * 1000:.0f} ms, "
          f"{requests} requests per point; baseline: deadline_partial, 1 downstream, all fast = {base * 1000:.1f} ms p50")
    print(f"(the downstream servers logged {tracebacks} tracebacks: uvicorn on requests cancelled mid-flight)")
    print(f"{'N':>3} {'slow':>5} | {'variant':<17} {'p50 ms':>8} {'p99 ms':>8} {'p50/base':>9} {'missing':>8}")
    for n, slow, r in rows:
        for name in ("waits_for_all", "deadline_partial"):
            m = r[name]
            print(f"{n:>3} {'yes' if slow else 'no':>5} | {name:<17} {m['p50'] * 1000:>8.1f} {m['p99'] * 1000:>8.1f} "
                  f"{m['p50'] / base:>9.2f} {m['missing'] * 100:>7.0f}%")
    if plot:
        draw(rows, ns)


def draw(rows: list[tuple[int, bool, dict[str, Any]]], ns: list[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(10, 4))
    for slow, style in ((False, "-"), (True, "--")):
        for name, colour in (("waits_for_all", "tab:red"), ("deadline_partial", "tab:blue")):
            ys = [r[name]["p99"] * 1000 for n, s, r in rows if s == slow]
            ax.plot(ns, ys, style, color=colour, marker="o", label=f"{name}{' (one slow)' if slow else ''}")
        ys = [r["deadline_partial"]["missing"] * 100 for n, s, r in rows if s == slow]
        bx.plot(ns, ys, style, color="tab:blue", marker="o", label=f"deadline_partial{' (one slow)' if slow else ''}")
    ax.axhline(DEADLINE * 1000, color="grey", linewidth=0.8)
    ax.set(xscale="log", yscale="log", xlabel="downstreams", ylabel="p99 latency (ms)", title="latency vs fan-out")
    ax.set_xticks(ns, [str(n) for n in ns])
    bx.set(xscale="log", xlabel="downstreams", ylabel="downstreams missing (%)", title="deadline_partial: missing")
    bx.set_xticks(ns, [str(n) for n in ns])
    ax.legend(fontsize=7)
    bx.legend(fontsize=7)
    fig.tight_layout()
    out = ROOT / "docs" / "systems" / "fan_out.png"
    fig.savefig(out, dpi=90)
    print(f"plot: {out.relative_to(ROOT)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", nargs=2, metavar=("DIR", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--max-n", type=int, default=32)
    parser.add_argument("--plot", action="store_true")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve[0], int(args.serve[1])))
        return
    run(args.requests, args.max_n, args.plot)


if __name__ == "__main__":
    main()
