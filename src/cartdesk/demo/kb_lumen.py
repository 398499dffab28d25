"""The Lumen & Loom help center (home textiles, Amsterdam): English with Dutch translations.

Same shapes as kb_northwind; ``DUTCH`` maps an English title to its Dutch text.
"""

from __future__ import annotations

CATEGORIES = [
    ("delivery", "Delivery", "Delivery times, costs and tracking in Europe.", "truck", [
        ("Delivery", [
            ("Delivery times and costs", ["delivery", "shipping", "costs"], """
| Country | Carrier | Delivery time | Cost |
|---|---|---|---|
| Netherlands | PostNL | 1–2 working days | €4.95, free over €60 |
| Belgium, Germany | DHL | 2–3 working days | €6.95, free over €90 |
| Rest of the EU | DHL | 3–6 working days | €12.95 |

Orders placed before 3 pm (Amsterdam time) on a working day leave our studio the same day.
"""),
            ("Track your parcel", ["tracking", "parcel", "where is my order"], """
You receive an email with a **PostNL or DHL tracking link** as soon as your parcel leaves our studio.

Has the tracking not moved for 3 working days? Write to us with your order number (LL-…) and we will ask the carrier.
"""),
        ]),
    ]),
    ("returns", "Returns & refunds", "Returning items within 30 days and your refund.", "rotate", [
        ("Returns", [
            ("Returning an item", ["return", "refund", "30 days"], """
You may return unused, unwashed items in their original packaging within **30 days** of delivery.

1. Register the return in your account or with the link in your delivery email.
2. Print the label and bring the parcel to a PostNL or DHL point.

Returns within the Netherlands are free; from other countries the label costs €6.95. We refund within 5 working days of receiving the parcel.
"""),
        ]),
    ]),
    ("care-products", "Care & products", "Caring for linen and wool, sizes and materials.", "star", [
        ("Care", [
            ("Caring for linen bedding", ["linen", "washing", "care"], """
- Wash at **40 °C** with a mild detergent, without bleach or softener.
- Tumble dry on low, or line dry; take the linen out while slightly damp for fewer creases.
- Linen softens with every wash; a little shrinkage (up to 3%) in the first wash is normal.
"""),
        ]),
    ]),
    ("payments", "Payments & orders", "iDEAL, cards, cancellations and invoices.", "credit-card", [
        ("Payments", [
            ("Payment methods", ["payment", "ideal", "bancontact", "card"], """
We accept **iDEAL**, Bancontact, Visa, Mastercard, PayPal and Klarna (pay after delivery). Prices include Dutch VAT.
"""),
            ("Cancel your order", ["cancel", "order"], """
Orders can be cancelled until they leave our studio. Email us with your order number as soon as possible; once it has shipped, you can return it within 30 days instead.
"""),
        ]),
    ]),
]

RELATED = [("Delivery times and costs", "Track your parcel"), ("Returning an item", "Cancel your order")]

DUTCH = {
    "Delivery times and costs": ("Levertijden en verzendkosten", """
| Land | Vervoerder | Levertijd | Kosten |
|---|---|---|---|
| Nederland | PostNL | 1–2 werkdagen | €4,95, gratis vanaf €60 |
| België, Duitsland | DHL | 2–3 werkdagen | €6,95, gratis vanaf €90 |
| Rest van de EU | DHL | 3–6 werkdagen | €12,95 |

Bestellingen die vóór 15.00 uur op een werkdag binnenkomen, verlaten dezelfde dag onze studio.
"""),
    "Track your parcel": ("Je pakket volgen", """
Zodra je pakket onze studio verlaat, krijg je een e-mail met een **track-and-trace-link** van PostNL of DHL.

Is de status 3 werkdagen niet veranderd? Mail ons je bestelnummer (LL-…) en wij vragen het na bij de vervoerder.
"""),
    "Returning an item": ("Een artikel retourneren", """
Je kunt ongebruikte, ongewassen artikelen in de originele verpakking binnen **30 dagen** na levering retourneren.

1. Meld de retour aan in je account of via de link in je leveringsmail.
2. Print het label en breng het pakket naar een PostNL- of DHL-punt.

Retourneren binnen Nederland is gratis. We storten het bedrag binnen 5 werkdagen na ontvangst terug.
"""),
}
