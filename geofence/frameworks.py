"""What the Django, Flask and FastAPI integrations share: the install hint for a missing
framework. (The ``identify=`` callable they take is ``geofence.identify``'s, as the ASGI and
WSGI middleware's is.)"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, extra: str) -> ModuleType:
    """Import ``module``, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"geofence.{extra} needs {module}: pip install 'geofence-policy[{extra}]'"
        ) from None
