"""Run every benchmark in bench/ and gather their JSON figures into var/bench/report.json,
then print a short table: figure, floor, ratio.

Each benchmark is a module `bench/bench_*.py` with a `run() -> dict` function; benchmarks
assert nothing about time, they report figures beside their floors measured in the same
run. A result may carry a "table" of [what, figure, floor, ratio] rows; the others print as
one JSON line. BENCH_SCALE=small shrinks every benchmark for development (the full size is
the default); BENCH_ONLY=pages,chat runs only the named ones.
"""

import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPORT = BENCH_DIR.parent / "var" / "bench" / "report.json"

# The quick sizes of the benchmarks that read their own knobs; bench_pages reads BENCH_SCALE.
SMALL_SIZES = {
    "BENCH_BUNNIES": "5000",
    "BENCH_USERS": "50",
    "BENCH_DEPTH3_USERS": "10",
    "BENCH_SEED_USERS": "10000",
    "BENCH_CHAT_SOCKETS": "200",
    "BENCH_CHAT_RATES": "200",
    "BENCH_CHAT_SECONDS": "3",
    "BENCH_CHAT_LAYERS": "pubsub",
}


def _machine() -> dict:
    memory = Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1]
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {"cpus": os.cpu_count(), "memory_gib": round(int(memory) / 2**20, 1), "cpu": model}


def _chat_rows(result: dict) -> list:
    """bench_chat: each server's delivery rate and p99 beside the bare relay's."""
    rows = []
    for sockets, servers in result.items():
        if not sockets.endswith("_sockets"):
            continue
        floor = servers.get("floor", {})
        for server, figures in servers.items():
            if server == "floor":
                continue
            for rate, got in figures.items():
                if not rate.endswith("_per_s") or rate not in floor:
                    continue
                bare = floor[rate]
                rows.append(
                    [
                        f"chat {server} {sockets.replace('_', ' ')} {rate.replace('_', ' ')}"
                        f" (lost {got['lost']}, p99 {got['p99_ms']} ms)",
                        f"{got['msgs_per_s']:.0f} msg/s",
                        f"{bare['msgs_per_s']:.0f} msg/s relay",
                        round(got["msgs_per_s"] / bare["msgs_per_s"], 2),
                    ]
                )
    return rows


def _rows(name: str, result: dict) -> list:
    if "table" in result:
        return result["table"]
    if name == "chat":
        return _chat_rows(result)
    if name == "seed" and "seconds" in result:
        return [
            [
                f"seed {result['rows']:,} rows",
                f"{result['seconds']} s",
                f"{result['target_seconds']} s target",
                round(result["target_seconds"] / result["seconds"], 2),
            ]
        ]
    return []


def _print_table(report: dict) -> None:
    rows = [row for name, result in report.items() for row in _rows(name, result)]
    if not rows:
        return
    width = max(len(row[0]) for row in rows)
    print(f"\n{'what':<{width}}  {'figure':>22}  {'floor':>22}  {'ratio':>6}")
    for what, figure, floor, ratio in rows:
        shown = "" if ratio is None else f"{ratio:.2f}"
        print(f"{what:<{width}}  {figure:>22}  {floor:>22}  {shown:>6}")


def main() -> int:
    sys.path.insert(0, str(BENCH_DIR.parent))
    scale = os.environ.get("BENCH_SCALE", "full")
    if scale == "small":
        for name, value in SMALL_SIZES.items():
            os.environ.setdefault(name, value)
    only = {name for name in os.environ.get("BENCH_ONLY", "").split(",") if name}
    report = {"_run": {"scale": scale, "machine": _machine(), "started": time.time()}}
    for module_path in sorted(BENCH_DIR.glob("bench_*.py")):
        name = module_path.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        spec = importlib.util.spec_from_file_location(module_path.stem, module_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        started = time.perf_counter()
        report[name] = module.run()
        report[name]["bench_seconds"] = round(time.perf_counter() - started, 1)
        summary = {key: value for key, value in report[name].items() if key != "table"}
        print(json.dumps({name: summary})[:2000], flush=True)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2))
    _print_table(report)
    print(f"\n{len(report) - 1} benchmarks ({scale}); report in {REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
