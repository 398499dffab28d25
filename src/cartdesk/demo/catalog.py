"""What the demo brands sell, and the small facts threads mention (carriers, places, sizes)."""

from __future__ import annotations

PRODUCTS = {
    "northwind": (
        "Ridgeline 3L rain shell",
        "Summit 800 down jacket",
        "Trailhead 28L daypack",
        "Basecamp merino base layer",
        "Granite mid hiking boots",
        "Alpine Lite 2-person tent",
        "Switchback trail runners",
        "Cascade fleece pullover",
        "Timberline insulated vest",
        "Northfork softshell pants",
        "Glacier 20°F sleeping bag",
        "Kestrel trekking poles",
    ),
    "lumen-loom": (
        "stonewashed linen duvet cover",
        "waffle-weave bath towel set",
        "merino wool throw",
        "organic percale sheet set",
        "hand-loomed table runner",
        "quilted cotton bedspread",
        "linen napkins (set of 6)",
        "chunky knit cushion cover",
    ),
}

SIZES = {
    "northwind": ("XS", "S", "M", "L", "XL", "XXL"),
    "lumen-loom": ("single", "double", "queen", "king"),
}

COLOURS = {
    "northwind": ("forest green", "slate grey", "ember orange", "glacier blue", "black"),
    "lumen-loom": ("natural oat", "sage", "terracotta", "mist blue", "charcoal"),
}

CITIES = (
    "Boulder", "Portland", "Asheville", "Burlington", "Bend", "Missoula", "Duluth", "Flagstaff",
    "Utrecht", "Ghent", "Leipzig", "Aarhus", "Bristol", "Galway",
)

STREETS = (
    "41 Aspen Court", "1207 Pine Ridge Road", "88 Harbour Lane", "9 Willow Street", "350 Canyon Drive",
    "12 Mill Race", "27 Orchard Row", "604 Lakeview Avenue",
)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Shown in a customer's reply when they write from a phone or the chat widget.
CHASERS = (
    "Hi, just checking in on this — any news?",
    "Hello? I still haven't heard back about this.",
    "Following up on my message above. Could someone take a look?",
    "Any update? I'd really like to get this sorted this week.",
)

# What an agent jots down while looking into a case.
TRIAGE_NOTES = (
    "Checked {order} in the store admin: paid, picked and handed to {carrier}.",
    "Customer has several earlier orders with us, no previous issues.",
    "Looked this up with the warehouse team, answer below.",
    "Same question came in twice this week; worth a help-center article.",
)
