"""Run every benchmark in bench/ and gather their JSON figures into var/bench/report.json.

Each benchmark is a module `bench/bench_*.py` with a `run() -> dict` function; benchmarks
assert nothing about time, they report figures beside their floors.
"""

import importlib.util
import json
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPORT = BENCH_DIR.parent / "var" / "bench" / "report.json"


def main() -> int:
    sys.path.insert(0, str(BENCH_DIR.parent))
    report = {}
    for module_path in sorted(BENCH_DIR.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(module_path.stem, module_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        report[module_path.stem] = module.run()
        print(json.dumps({module_path.stem: report[module_path.stem]}))
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2))
    print(f"{len(report)} benchmarks; report in {REPORT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
