"""`coral_serve.client`: a typed Python client for the coral_serve API, sync and async.

Requests and answers are the server's own pydantic models (`coral_serve.schema`, a leaf
package of pydantic only), sent with httpx: this package imports without Ray, FastAPI or
OpenCV, so it runs on a laptop with just those two installed (README: "Python client").

    from coral_serve.client import CoralClient
    with CoralClient("http://edge-box:9001", token="...") as coral:
        for view in coral.pipelines():
            print(view.name, view.status.state)
"""

from __future__ import annotations

from coral_serve.client.asynchronous import AsyncCoralClient
from coral_serve.client.errors import CoralAPIError
from coral_serve.client.sync import CoralClient

__all__ = ["AsyncCoralClient", "CoralAPIError", "CoralClient"]
