"""README.md's configuration table names every environment variable the settings read."""

from __future__ import annotations

import re

from tests.conftest import BASE_DIR

READ = re.compile(r'env(?:\.[a-z_]+)?\(\s*"([A-Z][A-Z0-9_]+)"|os\.environ(?:\.get)?[\[(]"([A-Z][A-Z0-9_]+)"')
NOT_SETTINGS = {"DJANGO_SETTINGS_MODULE", "REMAP_SIGTERM", "PROMETHEUS_MULTIPROC_DIR"}


def test_every_setting_is_in_the_readme_table():
    sources = [*(BASE_DIR / "practika_project").glob("*.py"), BASE_DIR / "gunicorn.conf.py"]
    names = {a or b for path in sources for a, b in READ.findall(path.read_text())} - NOT_SETTINGS
    table = (BASE_DIR / "README.md").read_text()
    assert names, "no settings found: the pattern is wrong"
    missing = sorted(name for name in names if f"`{name}`" not in table)
    assert not missing, f"README.md's table lacks {missing}"
