from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from portfolio.models import CashFlow, Instrument, Portfolio, Price, Strategy


class PortfolioFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Portfolio
        django_get_or_create = ("code",)

    code = "MACRO1"
    name = "Macro fund"
    base_currency = "USD"
    inception_date = dt.date(2024, 1, 2)
    initial_capital = Decimal("1000000")


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("symbol",)

    symbol = factory.Sequence(lambda n: f"INS{n}")
    name = factory.LazyAttribute(lambda o: f"{o.symbol} future")
    asset_class = "EQUITY"
    currency = "USD"
    multiplier = Decimal(1)


class StrategyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Strategy
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"STRAT{n}")
    name = factory.LazyAttribute(lambda o: f"{o.code} strategy")
    asset_class = "EQUITY"
    risk_budget = Decimal("0.01")


class PriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Price

    instrument = factory.SubFactory(InstrumentFactory)
    date = dt.date(2024, 3, 1)
    close = Decimal(100)


class CashFlowFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CashFlow

    portfolio = factory.SubFactory(PortfolioFactory)
    date = dt.date(2024, 3, 1)
    amount = Decimal(100000)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("pw-for-tests-1")

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        for name in extracted or []:
            self.groups.add(Group.objects.get(name=name))
