"""Mark-to-market continues from the previous snapshot instead of replaying the ledger.

A position snapshot now keeps the rest of its sleeve's ledger state (``avg_cost``, the opened
and closed dates; quantity and realized P&L were already there) and ``ledger_watermark``, the
largest execution id when it was written. No backfill: rows written before this migration have
no watermark, and the next mark-to-market replays their sleeves in full, once (the rows it writes
carry the state). Two indexes make a sleeve's executions after a date, or after an id, a short
index range whatever the length of the ledger.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portfolio", "0007_calendars"),
    ]

    operations = [
        migrations.AddField(
            model_name="positionsnapshot",
            name="avg_cost",
            field=models.DecimalField(blank=True, decimal_places=12, max_digits=28, null=True),
        ),
        migrations.AddField(
            model_name="positionsnapshot",
            name="closed_date",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="positionsnapshot",
            name="ledger_watermark",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="positionsnapshot",
            name="opened_date",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                fields=["portfolio", "instrument", "strategy", "trade_date", "id"],
                name="execution_sleeve_date",
            ),
        ),
        migrations.AddIndex(
            model_name="execution",
            index=models.Index(
                fields=["portfolio", "instrument", "strategy", "id"],
                include=("trade_date",),
                name="execution_sleeve_id",
            ),
        ),
    ]
