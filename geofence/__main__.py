"""``python -m geofence`` runs the command line."""

from __future__ import annotations

import sys

from geofence.cli import main

sys.exit(main())
