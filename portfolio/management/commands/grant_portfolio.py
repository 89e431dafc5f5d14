"""``grant_portfolio USER PORTFOLIO [PORTFOLIO...]``: restrict a user to named portfolios.

1. Resolve the user and every portfolio first: an unknown one is an error naming it, and
   nothing is written.
2. Grant (or, with ``--revoke``, revoke) through ``portfolio.services``: one transaction, one
   audit event per grant changed; the cached GETs' remembered tokens are checked again.
3. Print the user's grants as they now are (``--list`` prints only that).

A user with no grant sees every portfolio: the first grant restricts them, and revoking the last
one gives them every portfolio again.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from pms_project.commands import command_error
from pms_project.errors import PMSError
from portfolio import services
from portfolio.models import PortfolioGrant


class Command(BaseCommand):
    help = (
        "Grant USER the named portfolios (a user with at least one grant sees and changes only "
        "those; with none, every portfolio). --revoke removes the grants; --list prints the "
        "grants of USER (of every user when USER is omitted)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("user", nargs="?", metavar="USER", help="username")
        parser.add_argument("portfolios", nargs="*", metavar="PORTFOLIO", help="portfolio codes")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--revoke", action="store_true", help="revoke instead of granting")
        action.add_argument("--list", action="store_true", help="only print the grants")

    def handle(self, *args, **options) -> None:
        username, codes = options["user"], options["portfolios"]
        try:
            user = services.grant_user(username) if username else None
            if options["list"]:
                if codes:
                    raise CommandError("portfolio: --list takes no portfolio codes")
                self._print(user)
                return
            if user is None:
                raise CommandError("user: name the user to grant portfolios to")
            if not codes:
                raise CommandError("portfolio: name at least one portfolio code")
            portfolios = services.grant_portfolios(codes)
            if options["revoke"]:
                count = services.grants_revoke(user=user, portfolios=portfolios)
                self.stdout.write(f"{user.username}: {count} grant(s) revoked")
            else:
                created = services.grants_add(user=user, portfolios=portfolios)
                self.stdout.write(f"{user.username}: {len(created)} grant(s) added")
        except PMSError as exc:
            raise command_error(exc, "nothing written") from exc
        self._print(user)

    def _print(self, user) -> None:
        grants = PortfolioGrant.objects.select_related("user", "portfolio").order_by(
            "user__username", "portfolio__code"
        )
        if user is not None:
            grants = grants.filter(user=user)
        by_user: dict[str, list[str]] = {}
        for grant in grants:
            by_user.setdefault(grant.user.username, []).append(grant.portfolio.code)
        if user is not None and not by_user:
            self.stdout.write(f"{user.username}: no grant (sees every portfolio)")
        for name, codes in by_user.items():
            self.stdout.write(f"{name}: {' '.join(codes)}")
