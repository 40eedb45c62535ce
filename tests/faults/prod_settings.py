"""Production settings with STATIC_ROOT in a temporary folder, so a test can collect static
files for the manifest storage without writing into the checkout."""

from __future__ import annotations

import os

from practika_project.production import *  # noqa: F403

STATIC_ROOT = os.environ["FAULTS_STATIC_ROOT"]
