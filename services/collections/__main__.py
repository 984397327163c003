"""`python -m services.collections`: serve the collections API with its relays, feeds consumer,
dunning scheduler and notice delivery."""

import uvicorn

from services.collections.main import create_app
from services.collections.settings import CollectionsSettings
from shared.http.logging import configure_logging

settings = CollectionsSettings()
configure_logging(settings.service_name, settings.log_level)
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)
