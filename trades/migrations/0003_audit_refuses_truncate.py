"""The audit trail refuses TRUNCATE too.

0002's row trigger refuses UPDATE and DELETE; TRUNCATE fires no row trigger, so a statement
trigger refuses it. ``TRUNCATE ... CASCADE`` from a table the audit references is refused as well:
PostgreSQL fires the truncate triggers of every table it empties.

One deliberate way through: a session that sets ``pms.audit_truncate = 'allow'`` (``SET
pms.audit_truncate = 'allow'``) may empty it — the test suite does, for Django's ``flush`` between
transactional tests (conftest.py). No connection of the application sets it. Like the row trigger,
this guards against mistakes and the application's own user, not a superuser who can drop it.
"""

from __future__ import annotations

from django.db import migrations

REFUSE_TRUNCATE = """
CREATE FUNCTION trades_audit_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('pms.audit_truncate', true) = 'allow' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER trades_auditevent_no_truncate
    BEFORE TRUNCATE ON trades_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION trades_audit_no_truncate();
"""
ALLOW_TRUNCATE = """
DROP TRIGGER IF EXISTS trades_auditevent_no_truncate ON trades_auditevent;
DROP FUNCTION IF EXISTS trades_audit_no_truncate();
"""


class Migration(migrations.Migration):
    dependencies = [("trades", "0002_approver_group_and_append_only_audit")]
    operations = [migrations.RunSQL(REFUSE_TRUNCATE, ALLOW_TRUNCATE)]
