"""The HTTP face of coral_serve: one FastAPI app, one router per resource."""

from coral_serve.web.app import create_web_app
from coral_serve.web.services import Services

__all__ = ["Services", "create_web_app"]
