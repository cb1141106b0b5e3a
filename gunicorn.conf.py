"""Read by gunicorn from the working directory (`gunicorn wsgi:app`): settings that
belong to the server rather than the app."""
from gunicorn.http import wsgi

_default_headers = wsgi.Response.default_headers


def _without_server_banner(self):
    """No `Server: gunicorn` header: the software behind the portal is nobody's business."""
    return [line for line in _default_headers(self) if not line.lower().startswith("server:")]


wsgi.Response.default_headers = _without_server_banner
