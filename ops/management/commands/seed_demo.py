"""``seed_demo [--no-mtm]``: the demo desk, so a fresh checkout shows a living book.

The data (instruments, two years of synthetic closes, strategies, a year of trades, two cash
flows, risk limits) comes from the pure ``portfolio.demo`` and ``risk.demo`` modules and is
written through the services in one transaction; the marks and the EOD risk snapshots follow,
one day per transaction, then the attribution as of the last day, the day's proposals and its
morning pack, and last the EOD and pre-open pipelines of those days recorded through
``ops.pipelines`` (identical rows again, and runs to see in the admin). It lives in ``ops``
because it spans every app. The demo users get a fresh random password on every run (never a
well-known one), printed once, because this command is how people log in.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from rest_framework.authtoken.models import Token

from attribution import report as attribution_report
from attribution import services as attribution_services
from briefing import services as briefing_services
from ops import pipelines
from ops.choices import Pipeline, RunStatus
from pms_project.errors import PMSError
from portfolio import calculations as calc
from portfolio import demo, selectors, services
from portfolio.book import book_get
from portfolio.choices import ExecutionSource
from portfolio.models import NavSnapshot, Portfolio, Strategy
from portfolio.services import InstrumentRow, instruments_upsert
from risk import demo as risk_demo
from risk import report as risk_report
from risk import services as risk_services
from trades import services as trades_services
from trades.choices import ProposalStatus
from trades.models import TradeProposal

# Desk groups whose work is done in the admin (risk edits limits and stress scenarios there,
# approvers decide trade proposals there).
ADMIN_ROLES = frozenset({"risk", "approver"})
DEMO_USERS = (
    ("demo", "superuser"),
    ("demo-trader", "trader"),
    ("demo-approver", "approver"),
    ("demo-viewer", "viewer"),
    ("demo-risk", "risk"),
    ("demo-analyst", "viewer"),
)
# Per-portfolio grants: demo-analyst is granted MACRO1 only, so the admin's "Portfolio grants"
# shows one (with a single demo portfolio it sees what everyone sees; a second portfolio would be
# hidden from it).
DEMO_GRANTS = {"demo-analyst": (demo.PORTFOLIO_CODE,)}


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str  # "superuser" or a desk group
    password: str
    token: str


def _ensure_user(username: str, role: str):
    """The demo user, created if missing, active, with its role (superuser or desk group)."""
    user, _ = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@example.com"}
    )
    user.is_active = True
    if role == "superuser":
        user.is_staff = user.is_superuser = True
    elif role in ADMIN_ROLES:
        user.is_staff = True  # the admin, limited to what the group's permissions allow
    user.save()
    if role != "superuser":
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


class Command(BaseCommand):
    help = (
        "Create the demo desk: portfolio MACRO1, 12 instruments with two years of synthetic "
        "closes, strategies, a year of trades and cash flows, risk limits, then mark every "
        "business day since the first trade, store its risk and generate the day's trade "
        "proposals (unless --no-mtm). If MACRO1 exists the data is left alone. Every run sets "
        "new random passwords for the users demo, demo-trader, demo-approver, demo-viewer, "
        "demo-risk, demo-analyst (granted MACRO1 only) and prints them with their API tokens."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--no-mtm", action="store_true", help="load the data but do not mark it to market"
        )

    def handle(self, *args, **options) -> None:
        portfolio = Portfolio.objects.filter(code=demo.PORTFOLIO_CODE).first()
        if portfolio is not None:
            self.stdout.write(
                f"portfolio {demo.PORTFOLIO_CODE} already exists: demo data left as it is"
            )
            if not NavSnapshot.objects.filter(portfolio=portfolio).exists():
                first = portfolio.executions.order_by("trade_date").first()
                start = first.trade_date if first else portfolio.inception_date
                self.stdout.write(
                    f"  it has no marks yet: run `manage.py mark_to_market --from {start}`"
                )
        else:
            try:
                portfolio, start, end = self._create_data()
                if not options["no_mtm"]:
                    self._mark(portfolio, start, end)
                    day = self._propose(portfolio, end)
                    self._brief(portfolio, day)
                    self._record_runs(portfolio, end, day)
            except PMSError as exc:
                raise CommandError(f"{exc.field}: {exc.message}") from exc
        # Passwords are reset last, so a failed run never leaves users with unprinted passwords.
        users = self._users()
        self._summary(portfolio)
        self._login_help(users)

    # --- Data ---------------------------------------------------------------------------------

    def _create_data(self) -> tuple[Portfolio, dt.date, dt.date]:
        """Instruments, prices, strategies, portfolio, trades and flows: all or nothing.

        Returns the portfolio and the range to mark (first trade date, end of the history).
        """
        started = time.monotonic()
        dates = demo.history_dates(demo.history_end(selectors.today()))
        paths = demo.price_paths(len(dates))
        with transaction.atomic():
            instruments_upsert(
                [
                    InstrumentRow(i.symbol, i.name, i.asset_class, i.currency, i.multiplier)
                    for i in demo.INSTRUMENTS
                ]
            )
            loaded = services.prices_load(
                services.PriceRow(symbol=symbol, date=day, close=closes[i])
                for symbol, closes in paths.items()
                for i, day in enumerate(dates)
            )
            for s in demo.STRATEGIES:
                Strategy.objects.get_or_create(
                    code=s.code,
                    defaults={
                        "name": s.name,
                        "asset_class": s.asset_class,
                        "risk_budget": s.risk_budget,
                        "generator": s.generator,
                    },
                )
            portfolio = Portfolio.objects.create(
                code=demo.PORTFOLIO_CODE,
                name=demo.PORTFOLIO_NAME,
                base_currency=demo.BASE_CURRENCY,
                inception_date=dates[0],
                initial_capital=demo.INITIAL_CAPITAL,
            )
            trader = _ensure_user("demo-trader", "trader")
            plan = demo.trade_plan(len(dates))
            for trade in plan:
                services.execution_record(
                    portfolio=portfolio,
                    instrument=services.instrument_by_symbol(trade.symbol),
                    strategy=services.strategy_by_code(trade.strategy),
                    trade_date=dates[trade.day],
                    quantity=trade.quantity,
                    price=paths[trade.symbol][trade.day],
                    source=ExecutionSource.MANUAL,
                    user=trader,
                )
            flows = demo.cash_flows(len(dates))
            for flow in flows:
                services.cash_flow_record(
                    portfolio=portfolio, date=dates[flow.day], amount=flow.amount, note=flow.note
                )
            for metric, soft, hard in risk_demo.LIMITS:
                risk_services.risk_limit_create(
                    portfolio=portfolio, metric=metric, soft=soft, hard=hard
                )
        self.stdout.write(
            f"created {demo.PORTFOLIO_CODE}: {len(demo.INSTRUMENTS)} instruments, {loaded} closes "
            f"({dates[0].isoformat()} to {dates[-1].isoformat()}), {len(plan)} executions, "
            f"{len(flows)} cash flows, {len(risk_demo.LIMITS)} risk limits "
            f"in {time.monotonic() - started:.1f}s"
        )
        return portfolio, dates[min(t.day for t in plan)], dates[-1]

    def _mark(self, portfolio: Portfolio, start: dt.date, end: dt.date) -> None:
        """Mark every business day from the first trade to the end of the history."""
        started = time.monotonic()
        snapshots = services.mark_to_market_range(portfolio=portfolio, start=start, end=end)
        self.stdout.write(
            f"marked {len(snapshots)} business days ({start.isoformat()} to {end.isoformat()}) "
            f"in {time.monotonic() - started:.1f}s"
        )
        started = time.monotonic()
        risk = risk_services.risk_snapshot_range(portfolio=portfolio, start=start, end=end)
        self.stdout.write(
            f"stored the risk of {len(risk)} business days in {time.monotonic() - started:.1f}s"
        )
        started = time.monotonic()
        results = attribution_services.attribution_record(portfolio=portfolio, business_date=end)
        self.stdout.write(
            f"stored the attribution as of {end.isoformat()} ({len(results)} periods, daily P&L "
            f"by segment since {start.isoformat()}) in {time.monotonic() - started:.1f}s"
        )

    def _propose(self, portfolio: Portfolio, end: dt.date) -> dt.date:
        """The morning's work for the approver: generated proposals (the system's) and one
        manual proposal of demo-trader, pending in the admin."""
        today = selectors.today()
        day = today if calc.is_business_day(today) else end
        started = time.monotonic()
        result = trades_services.proposals_generate(portfolio=portfolio, day=day)
        trades_services.proposal_create(
            portfolio=portfolio,
            symbol="GC",
            side="buy",
            quantity=Decimal(10),
            day=day,
            rationale="Gold as a hedge into the central bank meeting",
            user=_ensure_user("demo-trader", "trader"),
        )
        self.stdout.write(
            f"proposed for {day.isoformat()}: {result.signals} signals, "
            f"{len(result.created)} generated proposals and 1 manual one pending approval "
            f"in {time.monotonic() - started:.1f}s"
        )
        return day

    def _brief(self, portfolio: Portfolio, day: dt.date) -> None:
        """The morning pack of the proposals' day, as the pre-open pipeline generates it."""
        started = time.monotonic()
        pack = briefing_services.morning_pack_generate(portfolio=portfolio, business_date=day)
        self.stdout.write(
            f"generated the morning pack of {day.isoformat()} (as of the close of "
            f"{pack.as_of.isoformat()}) in {time.monotonic() - started:.1f}s"
        )

    def _record_runs(self, portfolio: Portfolio, end: dt.date, day: dt.date) -> None:
        """The last evening's EOD and the morning's pre-open through ``ops.pipelines``, so the
        admin's pipeline runs show the desk's day. Every step replaces what the seeding wrote
        with identical rows (the proposals are kept, the pack lists the manual one too)."""
        for pipeline, when in ((Pipeline.EOD, end), (Pipeline.PREOPEN, day)):
            run, _ = pipelines.run_inprocess(portfolio=portfolio, pipeline=pipeline, day=when)
            if run.status == RunStatus.FAILED:
                raise CommandError(f"{pipeline} of {when}: failed at {run.error}")
            self.stdout.write(
                f"recorded the {pipeline} pipeline of {when.isoformat()}: {run.status}"
                + (f" in {run.seconds:.1f}s" if run.seconds is not None else "")
            )

    def _summary(self, portfolio: Portfolio) -> None:
        try:
            book = book_get(portfolio)
        except PMSError as exc:
            self.stdout.write(f"book unavailable: {exc.message}")
            return
        leverage = f"{book['leverage']:.2f}x" if book["leverage"] is not None else "n/a"
        self.stdout.write(
            f"{portfolio.code} as of {book['as_of'].isoformat()}: NAV {book['nav']:,.2f} "
            f"{portfolio.base_currency}, gross {book['gross_exposure']:,.2f} "
            f"(leverage {leverage}), {len(book['positions'])} open positions"
            + ("" if book["complete"] else f", {len(book['unvalued'])} unvalued (incomplete)")
        )
        risk = risk_report.risk_live(portfolio)
        var99 = risk["var"]["var_99"]
        statuses = [row["status"] for row in risk["limits"]]
        self.stdout.write(
            f"risk: VaR 99 {var99['amount'] or 0:,.2f} ({var99['nav_fraction'] or 0:.2%} of NAV) "
            f"on {risk['scenarios']} scenarios; limits: "
            + ", ".join(f"{statuses.count(s)} {s}" for s in ("ok", "warning", "breach"))
        )
        pending = TradeProposal.objects.filter(
            portfolio=portfolio, status=ProposalStatus.PENDING
        ).count()
        self.stdout.write(f"trades: {pending} proposal(s) pending approval")
        try:
            window = attribution_report.resolve_window(portfolio, period="MTD")
            mtd = attribution_report.attribution_by(portfolio, window, "strategy")
        except PMSError as exc:
            self.stdout.write(f"attribution unavailable: {exc.message}")
            return
        by_strategy = ", ".join(f"{row['key']} {row['contribution']:+.2%}" for row in mtd["rows"])
        self.stdout.write(
            f"attribution MTD as of {mtd['as_of'].isoformat()}: TWR {mtd['twr']:+.2%} "
            f"over {mtd['days']} day(s); by strategy {by_strategy}"
        )

    # --- Users --------------------------------------------------------------------------------

    def _users(self) -> list[DemoUser]:
        """Give each demo user a new random password (and an API token) to print."""
        users = []
        with transaction.atomic():
            for username, role in DEMO_USERS:
                user = _ensure_user(username, role)
                password = secrets.token_urlsafe(12)
                user.set_password(password)
                user.save(update_fields=["password"])
                token, _ = Token.objects.get_or_create(user=user)
                users.append(DemoUser(username, role, password, token.key))
                codes = DEMO_GRANTS.get(username)
                if codes:
                    services.grants_add(user=user, portfolios=services.grant_portfolios(codes))
        return users

    def _login_help(self, users: list[DemoUser]) -> None:
        lines = ["", "How to log in (passwords are new on every run of seed_demo):"]
        for u in users:
            lines.append(
                f"  {u.username:<14} role {u.role:<9} password: {u.password}  token: {u.token}"
            )
            if u.username in DEMO_GRANTS:
                lines[-1] += f"  (granted {', '.join(DEMO_GRANTS[u.username])} only)"
        token = users[0].token
        base = settings.PMS_BASE_URL
        lines += [
            f"  desk:     {base}/  (the dashboard; log in at {base}/login/ as any user)"
            f"  ·  {base}/briefing/latest/  (the morning pack; print it for paper)",
            f"  admin:    {base}/admin/  (user demo)",
            f"  API docs: {base}/api/docs/",
            f'  example:  curl -H "Authorization: Token {token}" {base}/api/portfolio/book/',
            f"  risk:     {base}/api/risk/live/  ·  {base}/api/risk/stress/",
            f"  perf:     {base}/api/attribution/?period=MTD&by=strategy  ·  "
            f"{base}/api/attribution/series/?period=YTD",
            f"  approve:  {base}/admin/trades/tradeproposal/?status__exact=pending  "
            "(user demo-approver)",
        ]
        self.stdout.write("\n".join(lines))
