"""Indexes for the analytics queries, and the one way a ledger row may be deleted.

The analytics reports filter sessions by start time and order each session's attempts
(LAG over (session, created_at, id)). The ledger stays append-only, except inside a
transaction that sets `parley.erasure = 'on'` (SET LOCAL): `manage.py delete_learner_data`
does, to erase a learner's sessions with their ledger (docs/privacy.md). Updates are
always refused.
"""

from __future__ import annotations

from django.db import migrations, models

FORWARD = """
CREATE OR REPLACE FUNCTION parley_ledger_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('parley.erasure', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the score ledger is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""

BACKWARD = """
CREATE OR REPLACE FUNCTION parley_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the score ledger is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("interaction", "0005_attempt_evidence")]

    operations = [
        migrations.AddIndex(
            model_name="attempt",
            index=models.Index(
                fields=["session", "created_at", "id"], name="interaction_session_770f9b_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="session",
            index=models.Index(fields=["started_at"], name="interaction_started_19516f_idx"),
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
