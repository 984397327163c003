"""`python -m services.payments`: serve the payments API with its relay, feeds consumer and
missed-payment scheduler."""

import uvicorn

from services.payments.main import create_app
from services.payments.settings import PaymentsSettings
from shared.http.logging import configure_logging

settings = PaymentsSettings()
configure_logging(settings.service_name, settings.log_level)
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)
