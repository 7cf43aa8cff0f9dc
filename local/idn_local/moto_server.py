"""moto's server for local mode, closed to web pages.

moto answers every `Origin` with `Access-Control-Allow-Origin: *` (flask-cors), so a page open in
the developer's browser that finds the port could read Secrets Manager (a real tenant's client
secret under `--tenant-url`). Here moto runs without CORS, and any request that carries an `Origin`
header (browsers send one on every cross-origin request and on preflights; boto3 never does) is
refused with 403 before moto sees it, so a page cannot even send blind writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server import werkzeug_app
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from werkzeug.serving import make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def refuse_browsers(app: WsgiApp) -> WsgiApp:
    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if "HTTP_ORIGIN" in environ:
            body = b'{"message": "local AWS emulation refuses browser requests"}'
            start_response(
                "403 Forbidden", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return app(environ, start_response)

    return guarded


class LocalMotoServer(ThreadedMotoServer):
    """ThreadedMotoServer without CORS and behind `refuse_browsers`."""

    def _server_entry(self) -> None:
        werkzeug_app.DISABLE_GLOBAL_CORS = True  # type: ignore[attr-defined]  # read when each service's app is built
        app = werkzeug_app.DomainDispatcherApplication(werkzeug_app.create_backend_app)
        self._server = make_server(
            self._ip_address,
            self._port,
            refuse_browsers(app),
            True,
            request_handler=werkzeug_app.MotoRequestHandler,
        )
        self._server_ready_event.set()
        self._server.serve_forever()
