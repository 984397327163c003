"""`python -m services.invoicing`: serve the invoicing API with its relay, feeds consumer, and
billing, statement and delivery workers."""

import uvicorn

from services.invoicing.main import create_app
from services.invoicing.settings import InvoicingSettings
from shared.http.logging import configure_logging

settings = InvoicingSettings()
configure_logging(settings.service_name, settings.log_level)
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)
