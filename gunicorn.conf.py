"""gunicorn configuration: the ASGI app on uvicorn workers.

    gunicorn -c gunicorn.conf.py                     # 127.0.0.1:8000, WEB_CONCURRENCY workers
    gunicorn -c gunicorn.conf.py --bind 0.0.0.0:80   # the command line overrides the address

Timeouts are ordered issuer request (OSAPP_ISSUER_TIMEOUT, 10 s) < refresh lock wait
(OSAPP_REFRESH_LOCK_WAIT, 15 s) < worker timeout (30 s), so a hung issuer call is answered by
osapp, never by a killed worker.
"""

import os
import shutil
from pathlib import Path

from osapp.environment import claims_session

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "osapp.settings")
# prometheus-client multiprocess mode: every worker writes its counters here and /metrics sums
# them. Set before any worker imports prometheus_client; emptied when the master starts.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", str(Path(claims_session()[0]["STATE_DIR"]).resolve() / "prometheus")
)


def on_starting(server):
    # Refuse to serve on a configuration `manage.py check` rejects (a corrupt or missing baked
    # JWKS, a bad variable): every request would fail; better that the deploy does.
    from osapp.claims import serving_errors
    from osapp.environment import environment_problems

    errors = environment_problems(claims_session()[1]) + serving_errors()
    if errors:
        for error in errors:
            server.log.error("%s: %s (%s)", error.id, error.msg, error.hint)
        raise SystemExit(1)
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    Path(_metrics_dir).mkdir(parents=True, exist_ok=True)


def post_worker_init(worker):
    # A forked worker is not yet a serving one: it still imports Django. This line says it
    # has loaded the app; tests (and operators reading the log) wait for one per worker.
    worker.log.info("osapp worker %s loaded the app", worker.pid)


def child_exit(server, worker):  # noqa: ARG001 - gunicorn hook signature
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


wsgi_app = "osapp.asgi:application"
worker_class = "osapp.workers.OsappUvicornWorker"
bind = [os.environ.get("OSAPP_BIND", "127.0.0.1:8000")]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# gunicorn 27's runtime control socket defaults to one path per user, which instances running
# side by side (several ports, tests) would fight over; osapp needs none.
control_socket_disable = True
keepalive = 5
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# Request-header limits that apply to gunicorn's own parser; the uvicorn worker enforces its
# own (osapp.workers.MAX_REQUEST_HEAD_BYTES), sized for token cookies.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 65536
