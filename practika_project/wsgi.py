"""The web process's WSGI application.

With production's manifest storage it refuses to start when static files were never collected:
every page names its assets through collectstatic's manifest, so without it every page would
answer 500. The image collects them at build; anything else must run collectstatic first.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured
from django.core.wsgi import get_wsgi_application

NO_STATIC_MANIFEST = (
    "Static files were never collected ({path} is missing, empty or unreadable): run collectstatic "
    "(python manage.py collectstatic --noinput) before starting web."
)


def require_static_manifest() -> None:
    from django.contrib.staticfiles.storage import (
        ManifestFilesMixin,
        staticfiles_storage,
    )

    try:
        # The storage loads the manifest as it is made: no file gives no names.
        if not isinstance(staticfiles_storage, ManifestFilesMixin) or staticfiles_storage.hashed_files:
            return
    except ValueError:  # a manifest that is not JSON, or of another version
        pass
    path = os.path.join(str(staticfiles_storage.location), staticfiles_storage.manifest_name)
    raise ImproperlyConfigured(NO_STATIC_MANIFEST.format(path=path))


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "practika_project.settings")
# gunicorn.conf.py wraps it in the request-body guard (web/request_body.py), which needs gunicorn.
application = get_wsgi_application()
require_static_manifest()
