"""The "approver" group (decides trade proposals in the admin and the API) and the audit trail's
append-only guard in the database.

The approver group holds ``trades.approve_tradeproposal`` and may view proposals, signals and the
audit trail (the admin saves no proposal form: decisions go through the services); traders
propose through the API (group membership, no model permission needed).
The trigger refuses any UPDATE or DELETE of an audit row, from the ORM, raw SQL or psql alike.
"""

from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "approver"
PERMISSIONS = (
    "approve_tradeproposal",
    "view_tradeproposal",
    "view_signal",
    "view_auditevent",
)

APPEND_ONLY = """
CREATE FUNCTION trades_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER trades_auditevent_append_only
    BEFORE UPDATE OR DELETE ON trades_auditevent
    FOR EACH ROW EXECUTE FUNCTION trades_audit_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS trades_auditevent_append_only ON trades_auditevent;
DROP FUNCTION IF EXISTS trades_audit_append_only();
"""


def forwards(apps, schema_editor):
    # Permissions are normally created after all migrations; the group needs them now.
    trades_app = apps.get_app_config("trades")
    trades_app.models_module = True
    create_permissions(trades_app, apps=apps, verbosity=0)
    trades_app.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="trades", codename__in=PERMISSIONS)
    )


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("trades", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
    ]
