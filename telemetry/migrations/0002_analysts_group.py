"""The `analysts` group: staff and its members read analytics (telemetry.access)."""

from __future__ import annotations

from django.db import migrations

ANALYSTS_GROUP = "analysts"  # telemetry.access.ANALYSTS_GROUP, frozen here


def create_group(apps, schema_editor) -> None:
    apps.get_model("auth", "Group").objects.get_or_create(name=ANALYSTS_GROUP)


def remove_group(apps, schema_editor) -> None:
    apps.get_model("auth", "Group").objects.filter(name=ANALYSTS_GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [("telemetry", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_group, remove_group)]
