"""The docs name tests as evidence (docs/RELIABILITY.md's table above all): every test they name
exists where they say, so moving a test means moving its mention too."""

from __future__ import annotations

import re

from tests.conftest import BASE_DIR

NAMED = re.compile(r"(tests/[\w/]+\.py)(?:::(\w+))?")


def test_every_test_the_docs_name_exists():
    docs = [BASE_DIR / "README.md", *(BASE_DIR / "docs").glob("*.md")]
    named = {match for path in docs for match in NAMED.findall(path.read_text())}
    assert any(test for _, test in named), "no test named in the docs: the pattern is wrong"
    missing = []
    for module, test in sorted(named):
        path = BASE_DIR / module
        if not path.is_file():
            missing.append(module)
        elif test and not re.search(rf"^\s*(?:async )?def {test}\b", path.read_text(), re.MULTILINE):
            missing.append(f"{module}::{test}")
    assert not missing, f"the docs name tests that are not there: {missing}"
