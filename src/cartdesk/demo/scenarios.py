"""The support cases of the demo store, as scripted threads.

A script is the whole case from the customer's first message to the agent's
resolution; ``plans`` cuts it short to leave a conversation new, open, pending or
on hold, and adds the customer's return for reopened ones. Braced names are
filled per conversation (see ``plans.fill``). Written for this project.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Who = Literal["C", "A", "N"]  # customer, agent reply, internal note


@dataclass(frozen=True)
class Line:
    who: Who
    text: str


def C(text: str) -> Line:  # noqa: N802 - reads like a script
    return Line("C", text)


def A(text: str) -> Line:  # noqa: N802
    return Line("A", text)


def N(text: str) -> Line:  # noqa: N802
    return Line("N", text)


@dataclass(frozen=True)
class Scenario:
    key: str
    subjects: tuple[str, ...]
    tags: tuple[str, ...]
    team: str
    priority: str
    script: tuple[Line, ...]
    nudge: str  # the customer adding a detail before anyone answered
    hold_note: str  # why it waits on a third party
    reopen: str  # the customer coming back after it was solved
    weight: int = 10
    brands: tuple[str, ...] = ("northwind", "lumen-loom")
    business_only: bool = False


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        key="where-is-my-order",
        subjects=("Where is my order {order}?", "Order {order} still not here", "Tracking hasn't moved in days"),
        tags=("shipping", "where-is-my-order"),
        team="Front line",
        priority="normal",
        weight=22,
        script=(
            C("I ordered the {product} last {weekday} (order {order}) and the tracking page still says "
              "'label created'. I need it before a trip next weekend. Can you check what is going on?"),
            A("Thanks for the order number. {order} left our warehouse two days ago with {carrier}, tracking "
              "{tracking}. Their first scan is running late, which happens at the start of the week. I've asked "
              "them for an update and will come back to you as soon as I hear."),
            C("Thanks. It still hasn't changed on my side though, and the trip is getting close."),
            N("{carrier} support says the parcel is at their regional hub; it missed its arrival scan. "
              "Out for delivery tomorrow."),
            A("Good news: {carrier} confirmed the parcel is at their regional hub, it only missed a scan. It is out "
              "for delivery tomorrow. If it isn't with you by {weekday}, reply here and I'll send a replacement by "
              "express at no cost, so your trip is safe either way."),
            C("It just arrived. Thanks for chasing it!"),
        ),
        nudge="Forgot to say: I chose standard shipping and the estimate was 3 to 5 days. It has been 8.",
        hold_note="Opened a trace with {carrier} (case {ref}). They answer within two working days; on hold until then.",
        reopen="Sorry to open this again: the box arrived but the {product} inside is in {colour}, not the colour I "
               "ordered.",
    ),
    Scenario(
        key="wrong-size",
        subjects=("Exchange for a different size", "Wrong size, can I swap it?", "Size exchange for order {order}"),
        tags=("returns", "exchange"),
        team="Returns & refunds",
        priority="normal",
        weight=14,
        script=(
            C("The {product} from order {order} is lovely but the size {size} is too small. Can I exchange it for "
              "a {new_size}? I haven't worn it, tags are still on."),
            A("Happy to swap it. I've reserved a {new_size} for you so it can't sell out while yours is on the way "
              "back. You'll get a prepaid return label by email in a minute; drop the parcel at any {carrier} point "
              "and we ship the new size as soon as it's scanned."),
            C("Got the label, thank you. Dropped it off this morning."),
            N("Return scanned by {carrier}. Exchange order {order2} released to the warehouse."),
            A("Your return has been scanned, so the {new_size} is on its way: exchange order {order2}, tracking "
              "{tracking}. No charge for the swap. Enjoy it!"),
            C("Perfect, thanks so much."),
        ),
        nudge="I also have the receipt if you need it. The order was a gift so it's under my partner's email.",
        hold_note="Waiting for the warehouse to restock size {new_size} (expected in {days} days) before we ship.",
        reopen="The {new_size} arrived but it's the same length as the {size}. Are the sizes labelled correctly?",
    ),
    Scenario(
        key="damaged-item",
        subjects=("Item arrived damaged", "Broken {product}", "Damaged in transit: order {order}"),
        tags=("returns", "damaged"),
        team="Returns & refunds",
        priority="high",
        weight=12,
        script=(
            C("My {product} arrived today and it's damaged: the box was crushed and there's a tear along the seam. "
              "Order {order}. I've attached photos. What can you do?"),
            A("I'm sorry it arrived like that, and thank you for the photos; they make this quick. You don't need "
              "to send it back. I'm shipping a replacement today at no cost and will send the tracking as soon as "
              "the warehouse has it."),
            N("Filed a damage claim with {carrier} for {order} (claim {ref}). Replacement {order2} created, free "
              "express."),
            A("Your replacement is on the way: order {order2}, tracking {tracking}, express so it should be with "
              "you in two days. Please keep or recycle the damaged one."),
            C("Replacement came and it's perfect. Really appreciate how fast that was."),
        ),
        nudge="Also, the packaging was soaked, I think the parcel was left out in the rain.",
        hold_note="{carrier} damage claim {ref} opened; they want the packaging photos reviewed first.",
        reopen="The replacement has the same problem: the seam is coming apart after one day of use.",
    ),
    Scenario(
        key="refund-status",
        subjects=("Refund not received yet", "Where is my refund?", "Refund for return on order {order}"),
        tags=("refund", "billing"),
        team="Returns & refunds",
        priority="normal",
        weight=12,
        script=(
            C("I sent back the {product} from order {order} two weeks ago and still haven't seen the refund of "
              "{amount}. The tracking says you received it on {weekday}."),
            A("You're right, the return reached us on {weekday}. It was waiting for a quality check, which is "
              "now done, and I've released the refund of {amount} to your original payment method. Banks "
              "usually show it within 3 to 5 working days."),
            C("Thanks. Is there a reference I can give my bank if it doesn't show up?"),
            A("Of course: the refund reference is {ref}. If it hasn't appeared by next {weekday}, send me a note "
              "and I'll chase it with our payment provider."),
        ),
        nudge="For reference, it went back with {carrier}, tracking {tracking}.",
        hold_note="Refund {ref} stuck at the payment provider; ticket raised with them.",
        reopen="It's been a week and my bank still shows nothing for reference {ref}.",
    ),
    Scenario(
        key="discount-code",
        subjects=("Discount code not working", "Code {code} rejected at checkout", "Promo code problem"),
        tags=("discount", "checkout"),
        team="Front line",
        priority="normal",
        weight=10,
        script=(
            C("I'm trying to use the code {code} from your newsletter but checkout says it's not valid. It's for "
              "the {product} in my basket."),
            A("Thanks for flagging it. {code} excludes items that are already on sale, and the {product} was "
              "reduced yesterday, which is why checkout refused it. The sale price is lower than the code would "
              "have given you, so you're already getting the better deal."),
            C("Ah, I see. I already paid full price yesterday before the sale started though. Order {order}."),
            A("That's fair. I've refunded the difference of {amount} on order {order}, so you pay the sale price "
              "too. It will show on your statement in a few days."),
            C("That's great, thank you!"),
        ),
        nudge="I tried on my phone and my laptop, same error on both.",
        hold_note="Asked marketing whether {code} should apply to sale items; waiting on their answer.",
        reopen="Now the code fails on a different item that isn't on sale. Same error message.",
    ),
    Scenario(
        key="pre-sale-outdoor",
        subjects=("Question about the {product}", "Is the {product} right for me?", "Sizing question before I buy"),
        tags=("pre-sale",),
        team="Front line",
        priority="low",
        weight=9,
        brands=("northwind",),
        script=(
            C("Before I order: is the {product} warm enough for a week of hiking in the Rockies in October? I "
              "usually run cold. And do you think I'm a {size} or a {new_size}? I'm 5'9\" and fairly slim."),
            A("Great question. For October in the Rockies I'd wear a merino base layer under it; "
              "together they are comfortable down to about 20°F when you're moving. On sizing: with a slim build "
              "the {size} fits well over a base layer. If you like to layer a fleece under it too, go {new_size}."),
            C("Very helpful. And if the size is wrong, can I swap it?"),
            A("Yes, exchanges are free within 60 days as long as it hasn't been used outdoors. Happy hiking!"),
        ),
        nudge="Also, is the {colour} colour back in stock any time soon?",
        hold_note="Asked the product team for the {product}'s fill weight in size {size}.",
        reopen="Ordered the {size} and it's a bit tight across the shoulders after all. Can I still swap?",
    ),
    Scenario(
        key="pre-sale-home",
        subjects=("Question about the {product}", "Care instructions before I buy", "Will the {product} fit?"),
        tags=("pre-sale",),
        team="Front line",
        priority="low",
        weight=9,
        brands=("lumen-loom",),
        script=(
            C("Hello! Does the {product} shrink in the wash? I'd want the {size} size and our mattress is quite "
              "deep. Also, which colour is closest to the photos, {colour} or the natural one?"),
            A("Hi! It's pre-washed, so shrinkage is under 2% at 40°C; tumble dry on low keeps it that way. For a "
              "deep mattress the {size} works up to 35 cm. {colour} looks slightly warmer in daylight than on "
              "screen, the natural tone matches the photos most closely."),
            C("Thank you, that helps. Do you ship to Belgium?"),
            A("We do, with DHL in 2 to 4 working days, and shipping is free above €80."),
        ),
        nudge="I'm also looking at matching pillowcases, do they come in the same colours?",
        hold_note="Asked the supplier for the exact thread count of the {size} size.",
        reopen="Ordered it and after one wash it has shrunk more than I expected. Is that normal?",
    ),
    Scenario(
        key="address-change",
        subjects=("Change delivery address for {order}", "Wrong address on my order", "Urgent: address change"),
        tags=("shipping", "address-change"),
        team="Front line",
        priority="high",
        weight=8,
        script=(
            C("I just placed order {order} and realised it's going to my old address. Can you change it to "
              "{street}, {city}? Please hurry, I don't want it to ship to the old place."),
            A("Caught it in time: the order hadn't been picked yet, so I've changed the delivery address to "
              "{street}, {city}. You'll get a new shipping confirmation once it leaves the warehouse."),
            C("Thank you! Could you also update the address on my account so this doesn't happen again?"),
            A("Done, {street}, {city} is now your default address. Anything else I can help with?"),
        ),
        nudge="The apartment number is 4B, in case you need it for the label.",
        hold_note="Order already handed to {carrier}; requested an address intercept (case {ref}).",
        reopen="The tracking now shows it being delivered to the old address after all!",
    ),
    Scenario(
        key="cancellation",
        subjects=("Cancel my order", "Please cancel order {order}", "Cancellation request"),
        tags=("cancellation",),
        team="Front line",
        priority="high",
        weight=8,
        script=(
            C("Please cancel order {order}. I ordered the {product} twice by mistake."),
            A("No problem. I've cancelled the duplicate order {order} before it shipped, and the payment of "
              "{amount} has been voided, so it won't appear on your statement. Your other order is unaffected."),
            C("Great, thanks for the quick help."),
        ),
        nudge="The order I want to keep is the one with express shipping.",
        hold_note="Order already in packing; asked the warehouse to pull it before the {carrier} pickup.",
        reopen="I've just been charged for the cancelled order after all. Can you check?",
    ),
    Scenario(
        key="warranty",
        subjects=("Warranty claim: {product}", "Broken zip after a few months", "Is this covered by warranty?"),
        tags=("warranty",),
        team="Returns & refunds",
        priority="normal",
        weight=7,
        script=(
            C("The zip on my {product} broke after about five months. I bought it in the spring (order {order}). "
              "Is this covered by the warranty?"),
            A("It is: our workmanship guarantee covers zips for two years. Could you send a photo of the zip and "
              "the label inside? Then I'll arrange a repair or a replacement."),
            C("Photos attached. The slider came off completely."),
            N("Photos checked: slider failure, clearly a manufacturing fault. Replacement approved, no return "
              "needed."),
            A("Thanks for the photos; that's a manufacturing fault, so we'll replace it rather than repair it. "
              "The new one ships today as order {order2}, tracking {tracking}. No need to send the old one back."),
            C("Wow, that's excellent service. Thank you."),
        ),
        nudge="I've used it maybe a dozen times, always zipped it carefully.",
        hold_note="Sent to our repair partner for assessment (ticket {ref}); they answer within five days.",
        reopen="The replacement arrived but it's the old model, which had the same zip. Will it last?",
    ),
    Scenario(
        key="bulk-order",
        subjects=("Bulk order for {company}", "Quote request: {qty} units", "Team order enquiry"),
        tags=("b2b", "sales"),
        team="VIP",
        priority="high",
        weight=5,
        business_only=True,
        script=(
            C("Hello, I'm ordering for {company}. We'd like {qty} units of the {product} in mixed sizes, ideally "
              "with our logo. Could you send a quote with volume pricing and a delivery estimate?"),
            A("Thanks for thinking of us. For {qty} units we offer 18% off list price, and logo embroidery is "
              "{emb} per item with a one-off setup fee. Delivery is about three weeks after you approve the artwork. "
              "I've attached a quote; send me the size split and your logo as a vector file and we'll prepare a "
              "proof."),
            C("Great. The size split is in the attached sheet. Can we pay by invoice with 30 days?"),
            N("Credit check on {company} passed; invoice terms net 30 approved by Marcus."),
            A("Yes, net 30 is approved for {company}. The proof will be with you by {weekday}; once you sign it "
              "off, production starts and you'll get an invoice with the order confirmation."),
            C("Proof approved. Thank you for making this so easy."),
        ),
        nudge="We would need them before the season starts, so delivery date matters more than price.",
        hold_note="Waiting for the embroidery supplier to confirm capacity for {qty} units.",
        reopen="Small change: we need {qty} more units for a second group. Can we add them to the same order?",
    ),
    Scenario(
        key="missing-item",
        subjects=("Item missing from my parcel", "Only part of order {order} arrived", "Missing item"),
        tags=("shipping", "missing-item"),
        team="Returns & refunds",
        priority="normal",
        weight=7,
        script=(
            C("My parcel for order {order} arrived but the {product2} is missing. The {product} was in there, "
              "nothing else. The packing slip lists both."),
            A("Sorry about that. The {product2} shipped separately from our second warehouse, so it is in a "
              "different parcel: {carrier} tracking {tracking}. It should arrive tomorrow. We should have told "
              "you it would come in two boxes."),
            C("Oh, ok. That makes sense. I'll wait for it then."),
            A("Tracking shows it delivered this morning. Let me know if anything isn't right."),
        ),
        nudge="The box wasn't damaged at all, so I don't think it fell out.",
        hold_note="Warehouse checking the packing camera footage for {order}.",
        reopen="The second parcel arrived but the {product2} in it is the wrong size.",
    ),
    Scenario(
        key="double-charge",
        subjects=("Charged twice for one order", "Double payment on {order}", "Duplicate charge on my card"),
        tags=("billing", "payment"),
        team="Front line",
        priority="urgent",
        weight=5,
        script=(
            C("I've been charged twice for order {order}: two payments of {amount} on my card today. I only "
              "placed one order. Please fix this."),
            A("I can see why that's worrying. One of the two is an authorisation hold from a payment that failed "
              "and was retried; it was never captured. Your bank will release it within a few days, and I've "
              "asked our payment provider to release it right away."),
            C("My bank says they can't see a hold, they see two payments."),
            N("Payment provider confirms second charge was captured by mistake (incident {ref}). Refund issued."),
            A("You were right, and I apologise: the second payment was captured by mistake. I've refunded "
              "{amount} in full, reference {ref}. It should be back on your card within 3 to 5 days."),
        ),
        nudge="Screenshot of my banking app attached.",
        hold_note="Payment provider investigating the duplicate capture (incident {ref}).",
        reopen="The refund for {ref} still hasn't reached my card after a week.",
    ),
    Scenario(
        key="back-in-stock",
        subjects=("When is the {product} back?", "Restock date for size {size}?", "Out of stock question"),
        tags=("pre-sale", "stock"),
        team="Front line",
        priority="low",
        weight=6,
        script=(
            C("The {product} in {colour}, size {size}, has been sold out for weeks. Is it coming back?"),
            A("It is! The next delivery lands in about {days} days. I can't reserve stock, but if you click "
              "'notify me' on the product page you'll get an email the moment it's available."),
            C("Done, thanks. Any chance of a discount for waiting so long?"),
            A("I've added a code to your account: {code} gives you 10% off that item when it's back."),
        ),
        nudge="I'd also take it in {new_size} if that's available sooner.",
        hold_note="Supplier delayed the {product} shipment; new date not confirmed yet.",
        reopen="The notification came but by the time I clicked, size {size} was gone again.",
    ),
    Scenario(
        key="gift-order",
        subjects=("Gift note and wrapping", "Sending order {order} as a gift", "Can you hide the price?"),
        tags=("gift",),
        team="Front line",
        priority="low",
        weight=5,
        script=(
            C("Order {order} is a birthday present. Can you make sure there's no invoice or price in the box, and "
              "add a note saying 'Happy birthday, love from all of us'?"),
            A("Of course. I've marked {order} as a gift: no prices in the box, and your note will be handwritten "
              "on one of our cards. It ships tomorrow."),
            C("Lovely, thank you!"),
        ),
        nudge="The birthday is on {weekday}, so it would need to arrive by then.",
        hold_note="Gift cards out of stock at the warehouse; restock tomorrow before packing.",
        reopen="It arrived with the invoice in the box after all, and my friend saw the price.",
    ),
)


def for_brand(brand: str, *, business: bool) -> tuple[Scenario, ...]:
    return tuple(s for s in SCENARIOS if brand in s.brands and (business or not s.business_only))
