"""`python -m services.eligibility`: serve the eligibility API with its relay, registration consumer and verifier."""

import uvicorn

from services.eligibility.main import create_app
from services.eligibility.settings import EligibilitySettings
from shared.http.logging import configure_logging

settings = EligibilitySettings()
configure_logging(settings.service_name, settings.log_level)
uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port, log_config=None)
