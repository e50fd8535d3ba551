"""The newest wrong or unclear attempts with words, for the answers learners give
(telemetry.answers): the read of its newest 10,000 stops at the bound."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('interaction', '0007_analytics_indexes'),
        ('scenarios', '0003_scenario_reveal_after'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='attempt',
            index=models.Index(condition=models.Q(('outcome__in', ['incorrect_answer', 'unclear']), models.Q(('transcript', ''), _negated=True)), fields=['-created_at', '-id'], name='attempt_missed_recent_idx'),
        ),
    ]
