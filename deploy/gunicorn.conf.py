"""gunicorn for Bunnybook's pages and API: sync WSGI workers, which on this kind of machine
serve several times the requests per second of one ASGI server (bench/LOG.md).
Sockets are served by daphne; the router (deploy/Caddyfile) sends /ws/ there."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# gunicorn's own advice for sync workers: two per core, plus one.
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * (os.cpu_count() or 1) + 1))
worker_class = "sync"
# A slow client is the router's problem, not a worker's: Caddy buffers requests.
timeout = 30
keepalive = 5
# Recycled now and then, so a slow leak cannot grow for ever.
max_requests = 5000
max_requests_jitter = 500
forwarded_allow_ips = "*"  # only the router reaches gunicorn (not published in compose)
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


def post_worker_init(worker):
    """Once the app is loaded, hand what it allocated to the permanent generation: Python's
    collector then stops re-walking those ~150,000 objects every few requests (a full
    collection each ~30 feed pages cost about 4 ms a page, measured in bench/bench_pages.py)."""
    import gc

    gc.collect()
    gc.freeze()
