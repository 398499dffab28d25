"""Orders from a CSV file, one row per order line, so a store on any platform can bring its history.

Columns: order_number, email, customer_name, placed_at (ISO 8601 with zone), currency,
sku, title, quantity, unit_price, discount, tax, shipping_total (on any row of the order),
paid_total (optional). Rows of one order are grouped by order_number. Each order is
imported in its own savepoint: a bad row keeps its order out and is reported with its
row number; the others go in. Orders already present are skipped, so a re-run is safe.
"""

from __future__ import annotations

import csv
import io
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from cartdesk.brands import service as brands_service
from cartdesk.commerce import service
from cartdesk.commerce.schemas import OrderCreate
from cartdesk.events.schemas import Actor
from cartdesk.kit.errors import AppError, ValidationFailed

REQUIRED = ("order_number", "sku", "quantity")


@dataclass
class ImportReport:
    created: int = 0
    skipped: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


def import_orders(session: Session, *, actor: Actor, text: str, brand: str | int | None = None) -> ImportReport:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise ValidationFailed(f"The CSV lacks the column(s) {', '.join(missing)}.", details=[{"field": "file"}])
    target = brands_service.resolve(session, ref=brand)
    groups: OrderedDict[str, list[tuple[int, dict[str, str]]]] = OrderedDict()
    for row_number, row in enumerate(reader, start=2):
        groups.setdefault((row.get("order_number") or "").strip(), []).append((row_number, row))
    report = ImportReport()
    for number, rows in groups.items():
        rows_text = ", ".join(str(n) for n, _ in rows)
        if not number:
            report.errors.append({"rows": rows_text, "message": "order_number is empty"})
            continue
        if service.get_order_by_number(session, brand_id=target.id, number=number) is not None:
            report.skipped += 1
            continue
        try:
            with session.begin_nested():
                service.create_order(session, actor=actor, order_in=_order_in(target.id, number, rows))
            report.created += 1
        except (AppError, ValidationError, ValueError) as exc:
            message = exc.message if isinstance(exc, AppError) else _first_error(exc)
            report.errors.append({"rows": rows_text, "order_number": number, "message": message})
    return report


def _order_in(brand_id: int, number: str, rows: list[tuple[int, dict[str, str]]]) -> OrderCreate:
    def first(key: str) -> str | None:
        return next((r[key].strip() for _, r in rows if (r.get(key) or "").strip()), None)

    placed = first("placed_at")
    return OrderCreate(
        brand=brand_id, number=number, email=first("email"),
        customer={"email": first("email"), "name": first("customer_name")} if first("email") else None,
        currency=first("currency"), placed_at=datetime.fromisoformat(placed) if placed else None,
        shipping_total=first("shipping_total") or "0", paid_total=first("paid_total"),
        lines=[{k: v for k, v in {
            "sku": r.get("sku"), "title": r.get("title") or None, "quantity": r.get("quantity"),
            "unit_price": r.get("unit_price") or None, "discount": r.get("discount") or "0",
            "tax": r.get("tax") or "0",
        }.items() if v is not None} for _, r in rows],
    )


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        return f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}"
    return str(exc)
