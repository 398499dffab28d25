"""The Northwind Outfitters help center: written for the demo, in the store's own voice.

Each category is (slug, name, description, icon, sections); each section is
(name, articles); each article is (title, tags, Markdown). Articles marked
``INTERNAL`` are agent playbooks that never reach the public help center.
"""

from __future__ import annotations

INTERNAL = "internal"

CATEGORIES = [
    ("shipping-delivery", "Shipping & delivery", "Shipping options, delivery times and tracking your parcel.", "truck", [
        ("Shipping options", [
            ("Shipping options and costs", ["shipping", "costs", "free shipping"], """
We ship every order from our warehouse in Denver, Colorado.

| Option | Carrier | Cost | Delivery time |
|---|---|---|---|
| Standard | USPS or UPS Ground | $6.95, **free over $75** | 3–5 business days |
| Expedited | UPS 2nd Day Air | $14.95 | 2 business days |
| Overnight | FedEx Priority Overnight | $29.95 | next business day |

Orders placed before **1 pm Mountain Time** on a business day leave the warehouse the same day. Orders placed later, or on weekends and US holidays, leave the next business day.

Oversized items (tents over 20 lb, kayaks, roof boxes) ship by UPS Ground only; the checkout shows the price before you pay.
"""),
            ("Delivery times", ["delivery", "shipping", "how long"], """
How long delivery takes depends on the option you chose at checkout and where you live:

- **Standard:** 3–5 business days in the contiguous US; 5–8 business days to Alaska, Hawaii and Puerto Rico.
- **Expedited:** 2 business days.
- **Overnight:** the next business day, when you order before 1 pm Mountain Time.

Business days are Monday to Friday, not counting US federal holidays. During our Winter Sale and the week before Christmas, allow one or two extra days for Standard delivery.

Your shipping confirmation email has the carrier's own estimate, which is usually the most accurate date.
"""),
            ("Do you ship internationally?", ["international", "shipping", "canada", "customs"], """
Yes, we ship to Canada, the United Kingdom, the European Union, Australia and New Zealand.

- International orders ship with **FedEx International Economy**, 6–10 business days.
- Shipping costs $24.95, free on orders over $200.
- **Duties and taxes** are collected by the carrier on delivery and are not included in our prices. FedEx will contact you before delivery if anything is due.

We cannot ship fuel canisters, bear spray or knives with blades over 4 inches outside the US.
"""),
            ("Shipping to a P.O. box or APO/FPO address", ["po box", "apo", "military", "shipping"], """
We can ship to P.O. boxes and APO/FPO/DPO military addresses with **USPS only**.

At checkout, choose *Standard* shipping: Expedited and Overnight use UPS and FedEx, which do not deliver to P.O. boxes. Military addresses usually take 7–14 days to arrive.

Oversized items cannot be sent to P.O. boxes. If your order has one, enter a street address instead.
"""),
        ]),
        ("Tracking your order", [
            ("Where is my parcel?", ["tracking", "where is my order", "parcel", "package"], """
As soon as your order leaves our warehouse we send you a **shipping confirmation email** with a tracking number and a link to follow your parcel.

To track your parcel:

1. Open the shipping confirmation email (subject: *Your Northwind order is on its way*).
2. Click **Track your parcel**, or copy the tracking number into the carrier's site: UPS, USPS or FedEx.
3. If you have an account, you can also see tracking under **Account → Orders**.

No shipping email yet? Orders normally leave within one business day. Check your spam folder, then [contact us](../contact) with your order number (it starts with NW-).
"""),
            ("My tracking hasn't updated", ["tracking", "delay", "late", "stuck"], """
Tracking often pauses for a day or two while a parcel travels between hubs, especially over weekends. That is normal and your parcel is still moving.

If the tracking has not changed for **3 business days** (5 for international orders):

1. Check the carrier's site directly: it is sometimes ahead of our email updates.
2. Look for a delivery notice: a missed delivery can hold the parcel at a local depot.
3. Write to us with your order number. We open an inquiry with the carrier and, if the parcel is lost, send a replacement or refund right away; you do not have to wait for the carrier's answer.
"""),
            ("My package says delivered but I can't find it", ["delivered", "missing", "lost", "stolen"], """
Sorry about that. Most "delivered but not here" parcels turn up within a day. Please check:

- around your door, porch, garage or mailbox, and with neighbours;
- the delivery photo in the carrier's tracking, which shows where it was left;
- whether someone else at your address took it in.

If it has not appeared **48 hours** after the delivered scan, contact us with your order number. We open a claim with the carrier and send a replacement or a refund. We may ask you to confirm in writing that the parcel did not arrive.
"""),
        ]),
    ]),
    ("orders", "Orders", "Placing, changing and checking your orders.", "package", [
        ("Placing an order", [
            ("How to place an order", ["order", "checkout", "buy"], """
1. Add items to your cart and click **Checkout**.
2. Sign in, or continue as a guest with your email address.
3. Enter your shipping address and choose a shipping option.
4. Pay with a card, PayPal, Apple Pay, Google Pay or Klarna.

You get an **order confirmation email** within a few minutes with your order number (NW- followed by five digits). Keep it: it is the quickest way for us to find your order.
"""),
            ("What does my order status mean?", ["order status", "processing", "shipped"], """
- **Received:** we have your order and payment is authorised.
- **Processing:** our warehouse is picking and packing it. Changes are still possible for about an hour.
- **Shipped:** it has left the warehouse; the tracking link is in your shipping email.
- **Delivered:** the carrier has delivered it.
- **Cancelled:** the order was cancelled and any payment was released or refunded.

Orders with several items can ship in more than one parcel; each parcel gets its own tracking number.
"""),
        ]),
        ("Changing an order", [
            ("Change the delivery address", ["address", "change", "order"], """
You can change the delivery address **until the order ships**, usually within an hour of ordering.

Write to us as soon as possible with your order number and the new address. If the order has already shipped, we ask the carrier to redirect it: UPS and FedEx can usually do this for a small fee, which we cover. USPS parcels cannot be redirected once in transit.

For your next orders, update your saved addresses under **Account → Addresses**.
"""),
            ("Add or remove an item from an order", ["change order", "add item", "remove item"], """
We can remove an item from an order that has not shipped yet and refund it in full. Contact us with your order number and the item.

We cannot add items to an order that has been placed, because payment has already been taken. Place a second order instead; if both ship on the same day, we pack them together and refund the second shipping charge.
"""),
            ("An item is missing from my order", ["missing item", "incomplete", "order"], """
First, check your shipping emails: larger orders sometimes ship in **two or more parcels**, each with its own tracking number, and the other parcel may still be on its way.

If everything has arrived and an item is still missing, contact us within 30 days with your order number and the missing item. We check the packing record and ship the item again at no cost.
"""),
            ("I received the wrong item", ["wrong item", "wrong size", "mistake"], """
We're sorry, that is our mistake. Contact us with your order number and a photo of what arrived (including the label on the item).

We send the right item straight away with Expedited shipping, and email you a **prepaid return label** for the wrong one. You have 30 days to send it back; there is no charge.
"""),
        ]),
    ]),
    ("returns-refunds", "Returns & refunds", "Send something back, exchange it, and get your money back.", "rotate", [
        ("Returns", [
            ("Our return policy", ["returns", "policy", "30 days"], """
You can return unused items within **30 days of delivery** for a full refund.

- Items must be unworn and unwashed, with the original tags.
- Footwear must be tried on indoors only.
- **Final sale** items (marked on the product page) and opened fuel canisters cannot be returned.
- Returns are free in the US with our prepaid label; a $6.95 label fee is deducted from refunds for orders that shipped free.

Gear that fails because of a defect is covered by our warranty, not this policy: see *Warranty claims*.
"""),
            ("How to return an item", ["return", "send back", "label"], """
1. Go to **Account → Orders**, pick the order and click **Start a return** (guests: use the *Returns portal* link in your order email).
2. Choose the items and a reason, then print the **prepaid return label**.
3. Pack the items securely, stick the label on, and drop the parcel at any UPS location or USPS post office.

We email you when the return arrives at our warehouse and again when your refund is issued. You can return items from one order in one parcel.
"""),
            ("Print a return label", ["return label", "print", "no printer"], """
Your return label is a PDF in the return confirmation email and in **Account → Orders → Returns**.

No printer? Choose **QR code** when you start the return. Show the code at any UPS Store and they print the label for you, free.

Lost the label? Open the return again from your account and click **Download label**; the same label works until it is used.
"""),
        ]),
        ("Refunds", [
            ("When will I get my refund?", ["refund", "money back", "how long"], """
We issue your refund within **2 business days** of your return reaching our warehouse. You get an email when it is done.

After that, it depends on your payment method:

| Paid with | Money back in |
|---|---|
| Credit or debit card | 3–5 business days |
| PayPal | within 1 day |
| Klarna | 1–3 days; your Klarna plan is adjusted |
| Gift card | immediately, as a new gift card |

Refunds go to the original payment method. Shipping costs are refunded only when the return is our mistake or a defect.
"""),
            ("Refund for a damaged item", ["damaged", "broken", "refund", "arrived damaged"], """
If something arrived damaged, contact us within **14 days of delivery** with your order number and a photo of the damage and of the box.

You can choose a replacement or a full refund, including shipping. You do not need to send the damaged item back unless we ask; we may send a prepaid label so the carrier can inspect it.
"""),
        ]),
        ("Exchanges & warranty", [
            ("Exchange for a different size or colour", ["exchange", "size", "colour"], """
The quickest way to exchange is to **start a return** for the item and choose **Exchange** as the reason. Pick the new size or colour and we ship it as soon as your return is scanned by the carrier, so you don't wait for it to reach us.

Exchanges ship free. If the new item costs more, we charge the difference; if it costs less, we refund it.
"""),
            ("Warranty claims", ["warranty", "defect", "zip", "broken"], """
Northwind-brand gear has a **2-year warranty** against defects in materials and workmanship: zips, seams, buckles, waterproof coatings and tent poles. Other brands' gear is covered by its maker, and we help you claim.

To claim, contact us with your order number, photos of the defect and a short description. We repair, replace or refund the item. Normal wear, accidents and alterations are not covered, but ask us anyway: we offer low-cost repairs for most gear.
"""),
        ]),
    ]),
    ("payments-invoices", "Payments & invoices", "Payment methods, invoices, discount codes and gift cards.", "credit-card", [
        ("Payments", [
            ("Payment methods we accept", ["payment", "paypal", "card", "apple pay"], """
We accept:

- Visa, Mastercard, American Express and Discover
- PayPal
- Apple Pay and Google Pay
- Klarna (pay in 4 interest-free instalments)
- Northwind gift cards

Your card is **authorised** when you order and **charged when the order ships**. Prices are in US dollars.
"""),
            ("Why was my payment declined?", ["payment declined", "card declined", "payment failed"], """
A declined payment is decided by your bank or PayPal, not by us. The most common reasons are:

- the billing address does not match the one your bank has on file;
- the card has expired, or the security code was mistyped;
- your bank blocked an online or large payment; a quick call or a tap in your banking app usually lifts it.

Try again, or use another payment method. If you were charged for an order that failed, the authorisation is released by your bank within 3–5 business days.
"""),
            ("Pay later with Klarna", ["klarna", "pay later", "instalments"], """
Choose **Klarna** at checkout to pay in 4 interest-free instalments, every two weeks. The first is taken when your order ships.

Klarna decides whether to approve the plan. Questions about your instalments go to Klarna (app or klarna.com). When you return something, we tell Klarna and your plan is reduced automatically.
"""),
        ]),
        ("Invoices", [
            ("Get an invoice for your order", ["invoice", "receipt", "pdf"], """
Your order confirmation email is your receipt. For a **PDF invoice**:

1. Go to **Account → Orders** and open the order.
2. Click **Download invoice**.

Guests can ask us for an invoice by replying to the order confirmation email. Invoices show the items, shipping, tax and payment method, with our company details.
"""),
            ("Company invoices and tax-exempt orders", ["invoice", "company", "tax exempt", "business"], """
We can put your company name and address on the invoice. Add them in the **Company** field at checkout, or ask us to reissue an invoice with them.

Tax-exempt organisations (schools, non-profits, government): email us your exemption certificate before you order. We mark your account tax-exempt and sales tax is not charged on future orders. We cannot refund tax on past orders retroactively.

For orders over $2,000 or team kits, ask about our business accounts with invoice payment (net 30).
"""),
        ]),
        ("Discounts & gift cards", [
            ("Using a discount code", ["discount", "promo code", "coupon", "welcome10"], """
Enter your code in the **Discount code** box at checkout and click **Apply**.

If the code is not accepted, check that:

- it has not expired (the date is in the email it came in);
- your order meets its minimum, if it has one;
- the items are not already on sale; codes do not combine with sale prices or with each other.

WELCOME10 (10% off) works once per customer, on your first order. Forgot to add a code? Write to us within 7 days and we refund the difference.
"""),
            ("Gift cards", ["gift card", "balance", "voucher"], """
Gift cards are sent by email, in any amount from $25 to $500, and never expire.

To use one, enter the 16-digit code in the **Gift card** box at checkout. Any remaining balance stays on the card for next time. To check a balance, enter the code on the *Gift cards* page of our store.

Lost the email? We can resend it to the buyer's address.
"""),
        ]),
    ]),
    ("cancellations", "Cancellations", "Cancelling an order, before or after it ships.", "x-circle", [
        ("Cancelling", [
            ("Cancel an order", ["cancel", "cancellation", "order"], """
You can cancel an order **within one hour** of placing it, as long as it has not started processing:

1. Go to **Account → Orders** (guests: use the link in your order confirmation email).
2. Open the order and click **Cancel order**.

If the button is gone, the warehouse has started on your order. Write to us straight away with your order number: we can often still stop it.
"""),
            ("Cancel an order that has already shipped", ["cancel", "shipped", "refuse delivery"], """
Once an order has shipped we can no longer cancel it, but you can still get your money back:

- **Refuse the delivery:** the carrier returns the parcel to us and we refund you when it arrives, minus the original shipping cost.
- Or accept it and **return it** within 30 days with our free return label.
"""),
            ("Refunds for cancelled orders", ["cancel", "refund", "authorisation"], """
If you cancel before the order ships, you are **not charged**: the amount you saw on your statement was an authorisation, and your bank releases it within 3–5 business days (PayPal: immediately).

If the order had been charged, we refund the full amount including shipping within 2 business days of the cancellation.
"""),
        ]),
    ]),
    ("account", "Your account", "Signing in, passwords, email preferences and your data.", "user", [
        ("Account", [
            ("Create an account", ["account", "sign up", "register"], """
Create an account on the **Sign in** page, or tick *Create an account* at checkout.

With an account you can track orders, start returns, download invoices and save addresses. You do not need one to order: guests get the same order and tracking emails.

Orders you placed as a guest with the same email address appear in your new account automatically.
"""),
            ("Reset your password", ["password", "forgot password", "sign in", "login"], """
1. On the **Sign in** page, click **Forgot your password?**
2. Enter your email address; we send a reset link, valid for one hour.
3. Choose a new password of at least 10 characters.

No email? Check your spam folder and make sure you used the address you signed up with. After five failed sign-ins, wait 15 minutes before trying again.
"""),
            ("Change your email address or delete your account", ["account", "email", "delete account", "privacy"], """
Change your email address under **Account → Profile**. We send a confirmation link to the new address; the change takes effect when you click it.

To delete your account and personal data, write to us from the email address on the account. We delete it within 30 days; order records we must keep for tax purposes are kept, anonymised where possible.
"""),
            ("Order lookup without an account", ["guest", "order lookup", "no account"], """
Guests can find any order with the **Order lookup** page of our store: enter your order number (NW-…) and the email address you ordered with.

From there you can see the status and tracking, download an invoice and start a return.
"""),
            ("Newsletter and email preferences", ["newsletter", "unsubscribe", "emails"], """
To stop marketing emails, click **Unsubscribe** at the bottom of any newsletter, or untick *Newsletter* under **Account → Preferences**.

You still receive emails about your orders (confirmation, shipping, returns): those are not marketing and cannot be turned off.
"""),
        ]),
    ]),
    ("agent-playbooks", "Agent playbooks", "Internal procedures for the support team.", "book", [
        ("Playbooks", [
            ("Lost parcel claims with carriers", ["lost parcel", "claim", "carrier", INTERNAL], """
**Internal: not visible to customers.**

1. Check the tracking: no scan for 3 business days (5 international) counts as lost; "delivered" needs 48 hours and the customer's written confirmation.
2. Send the replacement or refund **first**: don't make the customer wait for the carrier.
3. Open the claim: UPS and FedEx through the shipper portal, USPS through the claims form. Attach the invoice.
4. Tag the conversation `carrier-claim` and add a note with the claim number.
"""),
            ("Refund approval limits", ["refund", "approval", "limits", INTERNAL], """
**Internal: not visible to customers.**

| Role | May refund without approval |
|---|---|
| Agent | up to $150 per order |
| Supervisor | up to $1,000 per order |
| Admin | any amount |

Above your limit, add a note mentioning @supervisor with the reason. Goodwill credits (gift cards) count towards the same limits.
"""),
        ]),
    ]),
]

# Related articles, by title: "see also" links that help a reader who landed one step off.
RELATED = [
    ("Where is my parcel?", "My tracking hasn't updated"),
    ("Where is my parcel?", "Delivery times"),
    ("My package says delivered but I can't find it", "Where is my parcel?"),
    ("Our return policy", "How to return an item"),
    ("How to return an item", "When will I get my refund?"),
    ("How to return an item", "Print a return label"),
    ("Cancel an order", "Refunds for cancelled orders"),
    ("Cancel an order", "Cancel an order that has already shipped"),
    ("Get an invoice for your order", "Company invoices and tax-exempt orders"),
    ("Payment methods we accept", "Pay later with Klarna"),
    ("Change the delivery address", "Where is my parcel?"),
    ("Exchange for a different size or colour", "Our return policy"),
]

# A few articles in Spanish, to show translations and the fallback to English.
SPANISH = {
    "Where is my parcel?": ("¿Dónde está mi paquete?", """
Cuando tu pedido sale de nuestro almacén te enviamos un **correo de confirmación de envío** con el número de seguimiento.

1. Abre el correo *Your Northwind order is on its way*.
2. Haz clic en **Track your parcel**, o copia el número de seguimiento en la web de UPS, USPS o FedEx.
3. Si tienes cuenta, también verás el seguimiento en **Cuenta → Pedidos**.

¿Aún no tienes el correo? Los pedidos salen en un día hábil. Revisa la carpeta de spam y, si no está, escríbenos con tu número de pedido (empieza por NW-).
"""),
    "Our return policy": ("Nuestra política de devoluciones", """
Puedes devolver artículos sin usar en los **30 días siguientes a la entrega** y te devolvemos el importe completo.

- Los artículos deben estar sin usar, sin lavar y con las etiquetas originales.
- Los artículos de **venta final** no se pueden devolver.
- Las devoluciones dentro de EE. UU. son gratuitas con nuestra etiqueta prepagada.
"""),
    "Payment methods we accept": ("Métodos de pago", """
Aceptamos Visa, Mastercard, American Express y Discover, PayPal, Apple Pay, Google Pay, Klarna y tarjetas regalo de Northwind.

Tu tarjeta se **autoriza** al hacer el pedido y se **cobra cuando el pedido se envía**. Los precios están en dólares estadounidenses.
"""),
}
