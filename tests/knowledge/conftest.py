from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from cartdesk.auth.schemas import Principal
from cartdesk.brands.models import Brand
from cartdesk.knowledge.models import Category
from tests.factories.conversations import make_brand
from tests.factories.knowledge import make_section, make_writer


@pytest.fixture
def brand(session: Session) -> Brand:
    return make_brand(session)


@pytest.fixture
def writer(session: Session) -> Principal:
    return make_writer(session)


@pytest.fixture
def section(session: Session, brand: Brand) -> Category:
    return make_section(session, brand=brand, name="Shipping")
