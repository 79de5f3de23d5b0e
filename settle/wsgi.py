import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settle.settings.production")
application = get_wsgi_application()

# Refuse to serve with a weak SECRET_KEY or an ENCRYPTION_KEY that cannot read the stored secrets.
from settle.core.checks import refuse_to_start_on_errors  # noqa: E402

refuse_to_start_on_errors()
