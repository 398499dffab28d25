"""The printable return label: a one-page PDF with the RMA as a Code 128 barcode.

Drawn with reportlab (its graphics barcode module), so the warehouse scanner reads
the RMA straight off the parcel.
"""

from __future__ import annotations

import io

from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas

from cartdesk.commerce.actions import format_address
from cartdesk.commerce.models import Order, Return


def render_label(*, ret: Return, order: Order, store_name: str, return_address: str) -> bytes:
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setTitle(f"Return label {ret.rma}")
    pdf.setAuthor(store_name)
    width, height = A4
    left, top = 20 * mm, height - 20 * mm
    # The label itself: a box to cut out and tape to the parcel.
    box_h = 120 * mm
    pdf.setLineWidth(1.2)
    pdf.setDash(4, 3)
    pdf.rect(left - 5 * mm, top - box_h, width - 2 * left + 10 * mm, box_h + 5 * mm)
    pdf.setDash()
    pdf.setFont("Helvetica-Bold", 22)
    pdf.drawString(left, top - 12 * mm, "RETURN")
    pdf.setFont("Helvetica", 10)
    pdf.drawRightString(width - left, top - 10 * mm, store_name)
    pdf.drawRightString(width - left, top - 15 * mm, f"Order {order.number}")
    pdf.setFont("Helvetica", 9)
    pdf.drawString(left, top - 26 * mm, "FROM")
    pdf.drawString(left + 80 * mm, top - 26 * mm, "TO")
    pdf.setFont("Helvetica", 11)
    _lines(pdf, left, top - 32 * mm, format_address(order.shipping_address or {}).split(", "))
    _lines(pdf, left + 80 * mm, top - 32 * mm, [f"{store_name} Returns", *return_address.split(", ")])
    barcode = code128.Code128(ret.rma, barHeight=22 * mm, barWidth=0.5 * mm, humanReadable=False)
    barcode.drawOn(pdf, left, top - 100 * mm)
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(left, top - 110 * mm, ret.rma)
    # Below the cut line: what goes in the box.
    y = top - box_h - 15 * mm
    pdf.setFont("Helvetica-Bold", 12)
    pdf.drawString(left, y, "Packing slip — put this in the parcel")
    pdf.setFont("Helvetica", 10)
    lines = {li.id: li for li in order.lines}
    for item in ret.items:
        y -= 6 * mm
        pdf.drawString(left, y, f"{item.quantity} × {lines[item.line_id].title}  ({lines[item.line_id].sku})")
    y -= 10 * mm
    pdf.setFont("Helvetica", 9)
    pdf.drawString(left, y, f"Resolution: {ret.resolution.replace('_', ' ')}. Reason: {ret.reason.replace('_', ' ') or '—'}.")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _lines(pdf: canvas.Canvas, x: float, y: float, lines: list[str]) -> None:
    for line in lines:
        pdf.drawString(x, y, line)
        y -= 5 * mm
