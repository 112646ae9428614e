"""A closed-loop HTTP load generator, run in its own process so that it never shares the
server's interpreter: CONCURRENCY keep-alive connections, each sending GETs (round-robin
over the given paths) for DURATION seconds. Prints one JSON line: requests, errors, rps,
p50/p99 latency in ms.

    python bench/load.py PORT DURATION CONCURRENCY COOKIE PATH [PATH ...]
"""

import http.client
import json
import sys
import threading
import time


def main() -> None:
    port, duration, concurrency, cookie = (
        int(sys.argv[1]),
        float(sys.argv[2]),
        int(sys.argv[3]),
        sys.argv[4],
    )
    paths = sys.argv[5:]
    # As the TLS-terminating router forwards them.
    headers = {"X-Forwarded-Proto": "https", **({"Cookie": cookie} if cookie else {})}
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, failed, n = [], [], offset
        while time.perf_counter() < deadline:
            target = paths[n % len(paths)]
            n += 1
            started = time.perf_counter()
            try:
                conn.request("GET", target, headers=headers)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failed.append(f"{target}: {response.status}")
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            except (OSError, http.client.HTTPException) as error:
                failed.append(f"{target}: {error!r}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - started)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors.extend(failed)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def quantile(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 1)

    print(
        json.dumps(
            {
                "requests": len(latencies),
                "errors": len(errors),
                "first_errors": errors[:3],
                "rps": round(len(latencies) / wall, 1),
                "p50_ms": quantile(0.50) if latencies else None,
                "p99_ms": quantile(0.99) if latencies else None,
            }
        )
    )


if __name__ == "__main__":
    main()
