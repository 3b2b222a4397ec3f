"""Settings of the test run: the production settings (``TIPGRAPH_DEBUG`` off), with a secret key
of the run's own, since ``backend.settings`` refuses to start without one outside development.
A ``TIPGRAPH_SECRET_KEY`` in the environment is kept."""

import os
import secrets

os.environ.setdefault("TIPGRAPH_SECRET_KEY", f"tests-only-{secrets.token_urlsafe(40)}")

from backend.settings import *  # noqa: F403
