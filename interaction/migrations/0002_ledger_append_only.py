"""Postgres refuses UPDATE and DELETE on the score ledger: it is append-only by construction."""

from __future__ import annotations

from django.db import migrations

FORWARD = """
CREATE OR REPLACE FUNCTION parley_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the score ledger is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER interaction_scoreevent_append_only
    BEFORE UPDATE OR DELETE ON interaction_scoreevent
    FOR EACH ROW EXECUTE FUNCTION parley_ledger_append_only();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS interaction_scoreevent_append_only ON interaction_scoreevent;
DROP FUNCTION IF EXISTS parley_ledger_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("interaction", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
