"""`python -m services.registration`: serve the registration API with its relay and consumer."""

import uvicorn

from services.registration.main import create_app
from services.registration.settings import RegistrationSettings
from shared.http.logging import configure_logging

settings = RegistrationSettings()
configure_logging(settings.service_name, settings.log_level)
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)
