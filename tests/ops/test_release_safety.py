"""Release safety: models match migrations, releases can run twice, migrations are additive.

`heroku rollback` brings back old code but leaves the database as the new release left it. That
is safe only when each release's migrations expand the schema (new tables, nullable columns,
columns with a database default) and a later release contracts it, once no running code reads
what goes away. The migrations named in released_migrations.txt have shipped; every other one
must be additive and reversible.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.db.migrations import operations as ops
from django.db.migrations.loader import MigrationLoader
from django.db.models import NOT_PROVIDED

from tests.conftest import BASE_DIR, procfile

RELEASED = Path(__file__).with_name("released_migrations.txt")
PROJECT_APPS_PREFIX = "domain."

# Operations that take away something the previous release's code still reads or writes.
CONTRACTING = (ops.RemoveField, ops.DeleteModel, ops.RenameField, ops.RenameModel, ops.AlterModelTable)


def released() -> set[tuple[str, str]]:
    lines = RELEASED.read_text().splitlines()
    return {tuple(line.split(".", 1)) for line in lines if line.strip() and not line.startswith("#")}


def project_migrations() -> list[tuple[tuple[str, str], object]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    names = {config.label: config.name for config in apps.get_app_configs()}
    return sorted(
        (key, migration) for key, migration in loader.disk_migrations.items()
        if names.get(key[0], "").startswith(PROJECT_APPS_PREFIX)
    )


def _required_without_db_default(field) -> bool:
    return not field.null and getattr(field, "db_default", NOT_PROVIDED) is NOT_PROVIDED and not field.many_to_many


def contract_violations(migration) -> list[str]:
    """Why this migration would break the previous release's code, if it would."""
    problems = []
    for op in migration.operations:
        name = type(op).__name__
        if isinstance(op, CONTRACTING):
            problems.append(f"{name} removes or renames what the running release uses")
        elif isinstance(op, ops.AddField) and _required_without_db_default(op.field):
            problems.append(f"AddField {op.model_name}.{op.name} is NOT NULL without db_default: "
                            "the previous release's inserts would fail")
        elif isinstance(op, ops.AlterField) and _required_without_db_default(op.field):
            problems.append(f"AlterField {op.model_name}.{op.name} makes a column required without db_default")
        elif isinstance(op, (ops.RunPython, ops.RunSQL)) and not op.reversible:
            problems.append(f"{name} has no reverse, so the schema cannot go back")
    return problems


def test_models_and_migrations_agree():
    result = subprocess.run(
        [sys.executable, "manage.py", "makemigrations", "--check", "--dry-run"],
        cwd=BASE_DIR, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"models changed without a migration:\n{result.stdout}{result.stderr}"


def test_the_released_list_names_real_migrations():
    on_disk = {key for key, _ in project_migrations()}
    assert released() <= on_disk, f"released but missing from disk: {released() - on_disk}"


def test_migrations_after_the_last_release_are_additive():
    shipped = released()
    problems = {
        f"{app}.{name}": contract_violations(migration)
        for (app, name), migration in project_migrations()
        if (app, name) not in shipped
    }
    assert {k: v for k, v in problems.items() if v} == {}


def test_the_additive_rule_catches_a_contracting_migration():
    from django.db import migrations, models

    class Contracting(migrations.Migration):
        operations = [
            migrations.RemoveField("video", "title"),
            migrations.AddField("video", "rating", models.IntegerField(default=0)),
            migrations.AddField("video", "note", models.TextField(null=True)),
            migrations.AddField("video", "score", models.IntegerField(db_default=0)),
            migrations.RunPython(lambda apps, schema: None),
        ]

    problems = contract_violations(Contracting("0099_contract", "videos"))
    assert len(problems) == 3
    assert problems[0].startswith("RemoveField") and "video.rating" in problems[1] and "RunPython" in problems[2]


@pytest.mark.django_db(transaction=True)
def test_each_apps_latest_migration_can_be_undone_and_redone(postgres):
    """What a rollback of the schema (to the previous release's migrations) relies on."""
    latest: dict[str, str] = {}
    previous: dict[str, str] = {}
    for (app, name), _ in project_migrations():
        previous[app], latest[app] = latest.get(app, "zero"), name
    try:
        for app in latest:
            call_command("migrate", app, previous[app], verbosity=0)
            call_command("migrate", verbosity=0)
    finally:
        call_command("migrate", verbosity=0)
    applied = MigrationLoader(connection).applied_migrations
    assert all((app, name) in applied for app, name in latest.items())


@pytest.mark.slow
def test_the_release_command_is_safe_to_run_twice(processes):
    first = processes("release")
    assert first.popen.wait(180) == 0, first.output()
    second = processes("release")
    assert second.popen.wait(180) == 0, second.output()
    assert "No migrations to apply" in second.output()
    assert "created" not in second.output() and "updated" not in second.output()
    assert "release" in procfile()
