"""On MySQL, compare item ids, subsets and splits exactly (binary collation), as SQLite does.

With the default utf8mb4_unicode_ci, "Q1" = "q1" and "math" = "Math" = "máth": imports would hit the
unique constraint where SQLite does not, and a subset filter would return other subsets' items.
"""

from django.db import migrations

COLUMNS = [("item_id", 64), ("subset", 100), ("split", 32)]


def binary_collation(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    for column, length in COLUMNS:
        schema_editor.execute(
            f"ALTER TABLE datasets_datasetitem MODIFY {column} varchar({length}) "
            "CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
        )


class Migration(migrations.Migration):
    dependencies = [("datasets", "0001_initial")]

    operations = [migrations.RunPython(binary_collation, migrations.RunPython.noop, atomic=False)]
