"""Project-wide pytest settings: in CI, hypothesis is derandomized so a red run is reproducible."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

# tests/frameworks/<name>/ run inside each framework's own venv (noxfile.py sets CFCODE_FRAMEWORK_TESTS);
# the main run does not collect them (those libraries are not installed here, and their pins clash).
collect_ignore = [] if os.environ.get("CFCODE_FRAMEWORK_TESTS") else ["frameworks"]
