"""The fitted judge replaced the hand-tuned thresholds: stored overrides keep only its floors."""

from typing import Any

from django.db import migrations, models

import scenarios.models

FLOORS = ("correct_floor", "incorrect_floor", "wrong_language_floor")


def keep_floors(apps: Any, schema_editor: Any) -> None:
    Scenario = apps.get_model("scenarios", "Scenario")
    for scenario in Scenario.objects.exclude(audio_judging={}):
        kept = {k: v for k, v in (scenario.audio_judging or {}).items() if k in FLOORS}
        if kept != scenario.audio_judging:
            scenario.audio_judging = kept
            scenario.save(update_fields=["audio_judging"])


class Migration(migrations.Migration):
    dependencies = [
        ("scenarios", "0004_remove_scenario_confidence_threshold"),
    ]

    operations = [
        migrations.RunPython(keep_floors, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="scenario",
            name="audio_judging",
            field=models.JSONField(
                blank=True,
                default=dict,
                help_text=(
                    'The fair judge\'s floors for spoken answers, e.g. {"correct_floor": 0.97} '
                    "(docs/fair-judge.md). Empty: inherit the difficulty's and the global ones."
                ),
                validators=[scenarios.models.validate_audio_judging],
            ),
        ),
    ]
