from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "practika_project.settings")

from web.request_body import RequestBodyMiddleware  # noqa: E402  (needs the settings module set)

# Bodies that stall, and answers that leave a body unread, must not hold a thread or break the
# client's next request on the connection (web/request_body.py).
application = RequestBodyMiddleware(get_wsgi_application())
