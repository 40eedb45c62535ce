"""A video a person attaches is that person's own: an exercise's demonstration its creator's, a
reply's video its author's, a comment's video reply its author's.

The owner is a column of another table, which a CHECK cannot read, so a trigger checks each row
as it is written (PostgreSQL only; the SQLite of `make run` trusts the services). An exercise's
creator may become NULL (the account was deleted) while its video, which goes with that account,
is still set until the same deletion clears it: that update is let through.
"""

from django.db import migrations

FUNCTION = """
CREATE FUNCTION spaces_video_owned_by() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    row jsonb := to_jsonb(NEW);
    video text := row ->> TG_ARGV[0];
    person bigint := (row ->> TG_ARGV[1])::bigint;
BEGIN
    IF video IS NULL OR (person IS NULL AND TG_OP = 'UPDATE') THEN
        RETURN NEW;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM videos_video WHERE id = video AND owner_id = person) THEN
        RAISE EXCEPTION 'video % of % is not owned by its %', video, TG_TABLE_NAME, TG_ARGV[1]
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
"""

TRIGGERS = [
    ("spaces_exercise", "video_id", "created_by_id"),
    ("spaces_reply", "video_id", "author_id"),
    ("spaces_comment", "video_reply_id", "author_id"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION, params=None)  # its % are PL/pgSQL's, not parameters
    for table, video, person in TRIGGERS:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_video_owned BEFORE INSERT OR UPDATE OF {video}, {person} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION spaces_video_owned_by('{video}', '{person}')"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _video, _person in TRIGGERS:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_video_owned ON {table}")
    schema_editor.execute("DROP FUNCTION IF EXISTS spaces_video_owned_by()")


class Migration(migrations.Migration):
    dependencies = [("spaces", "0001_initial"), ("videos", "0003_hls_playlist")]

    operations = [migrations.RunPython(create, drop)]
