"""Plain factory functions over the real services: tests build data the way the app does."""

import datetime as dt
import itertools
from decimal import Decimal

from settle.companies.models import Level, Membership, User
from settle.companies.services import create_company

_seq = itertools.count(1)


def make_user(*, email: str | None = None, password: str = "correct horse battery", full_name: str = "") -> User:
    email = email or f"user{next(_seq)}@example.com"
    return User.objects.create_user(email=email, password=password, full_name=full_name)


def make_company(*, name: str | None = None, creator: User | None = None, currency: str = "USD", time_zone: str = "UTC"):
    creator = creator or make_user()
    return create_company(creator=creator, name=name or f"Company {next(_seq)}", currency=currency, time_zone=time_zone)


def add_member(company, *, level: str, user: User | None = None) -> Membership:
    user = user or make_user()
    return Membership.objects.create(user=user, company=company, level=level)


def creator_of(company) -> User:
    return Membership.objects.get(company=company, level=Level.CREATOR).user


def d(value: str) -> Decimal:
    return Decimal(value)


def days_ago(company, n: int) -> dt.date:
    return company.today() - dt.timedelta(days=n)
