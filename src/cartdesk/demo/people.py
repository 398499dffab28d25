"""The cast of the demo store: brands, the support team and the customers."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from cartdesk.auth.models import Role

DEMO_EMAIL_DOMAIN = "demo.cartdesk.dev"


@dataclass(frozen=True)
class DemoBrand:
    slug: str
    name: str
    support_email: str
    website_url: str
    currency: str
    timezone: str
    color: str
    order_prefix: str
    carriers: tuple[str, ...]
    codes: tuple[str, ...]
    share: float  # of all conversations


BRANDS = (
    DemoBrand(
        slug="northwind", name="Northwind Outfitters", support_email="support@northwind-outfitters.example",
        website_url="https://northwind-outfitters.example", currency="USD", timezone="America/Denver",
        color="#2f6b4f", order_prefix="NW", carriers=("UPS", "USPS", "FedEx"),
        codes=("TRAIL15", "WELCOME10", "BASECAMP20"), share=0.75,
    ),
    DemoBrand(
        slug="lumen-loom", name="Lumen & Loom", support_email="hello@lumenandloom.example",
        website_url="https://lumenandloom.example", currency="EUR", timezone="Europe/Amsterdam",
        color="#b4654a", order_prefix="LL", carriers=("PostNL", "DHL"),
        codes=("LINEN10", "COSYHOME15", "NEWNEST"), share=0.25,
    ),
)


@dataclass(frozen=True)
class DemoUser:
    key: str
    name: str
    role: Role
    password: str
    teams: tuple[str, ...] = ()

    @property
    def email(self) -> str:
        return f"{self.key}@{DEMO_EMAIL_DOMAIN}"

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


AGENT_PASSWORD = "demo-agent-pass"

USERS = (
    DemoUser("admin", "Dana Whitfield", Role.admin, "demo-admin-pass"),
    DemoUser("supervisor", "Marcus Reyes", Role.supervisor, "demo-supervisor-pass", ("VIP",)),
    DemoUser("priya", "Priya Natarajan", Role.agent, AGENT_PASSWORD, ("Front line",)),
    DemoUser("tom", "Tom Becker", Role.agent, AGENT_PASSWORD, ("Front line", "Returns & refunds")),
    DemoUser("lena", "Lena Hoffmann", Role.agent, AGENT_PASSWORD, ("Front line", "Returns & refunds")),
    DemoUser("kenji", "Kenji Watanabe", Role.agent, AGENT_PASSWORD, ("Front line", "VIP")),
)

TEAMS = {
    "Front line": "First answer on everything that comes in.",
    "Returns & refunds": "Exchanges, returns, damaged goods, refunds and warranty claims.",
    "VIP": "Our best customers and business accounts.",
}


def team_members(team: str) -> tuple[DemoUser, ...]:
    """Who answers for a team (the supervisor only steps in for VIP)."""
    return tuple(u for u in USERS if team in u.teams)


SUPERVISOR = USERS[1]


@dataclass(frozen=True)
class DemoCustomer:
    name: str
    channel: str  # where they usually write: email, chat, api, sms, social
    vip: bool = False
    company: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


# Realistic, made-up people. Channel is how each of them usually gets in touch.
CUSTOMERS = (
    DemoCustomer("Emma Larsen", "email"),
    DemoCustomer("Liam O'Connor", "chat"),
    DemoCustomer("Aisha Rahman", "email"),
    DemoCustomer("Mateo García", "sms"),
    DemoCustomer("Chloé Dubois", "email"),
    DemoCustomer("Noah Fischer", "social"),
    DemoCustomer("Hannah Kim", "chat"),
    DemoCustomer("Oliver Bennett", "email"),
    DemoCustomer("Sofia Rossi", "email", vip=True),
    DemoCustomer("Ethan Walker", "api"),
    DemoCustomer("Mei Chen", "chat", vip=True),
    DemoCustomer("Lucas Schneider", "email"),
    DemoCustomer("Grace Okafor", "social"),
    DemoCustomer("Jack Thompson", "sms"),
    DemoCustomer("Isabella Moreau", "email"),
    DemoCustomer("Daniel Novak", "email", company="Summit Sports Club"),
    DemoCustomer("Amara Mensah", "chat"),
    DemoCustomer("Ben Carter", "email"),
    DemoCustomer("Yuki Tanaka", "social"),
    DemoCustomer("Samuel Adeyemi", "api"),
    DemoCustomer("Ava Johansson", "email"),
    DemoCustomer("Ryan Murphy", "sms"),
    DemoCustomer("Leila Haddad", "chat"),
    DemoCustomer("Harry Fletcher", "email"),
    DemoCustomer("Nina Petrova", "email"),
    DemoCustomer("Carlos Mendes", "social"),
    DemoCustomer("Zoe Anderson", "chat"),
    DemoCustomer("Arjun Mehta", "email"),
    DemoCustomer("Freya Wilson", "sms"),
    DemoCustomer("Caleb Lee", "api"),
    DemoCustomer("Olivia Brooks", "email", vip=True),
    DemoCustomer("Jonas Weber", "email"),
    DemoCustomer("Fatima Benali", "chat"),
    DemoCustomer("Ella Hughes", "social"),
    DemoCustomer("Diego Fernández", "email"),
    DemoCustomer("Ingrid Halvorsen", "email", company="Fjordline Guiding AS"),
    DemoCustomer("Kwame Asante", "email", company="Ridgeway Outdoor School"),
    DemoCustomer("Lily Evans", "chat"),
    DemoCustomer("Mohammed Al-Farsi", "email", vip=True),
    DemoCustomer("Charlotte Price", "chat", vip=True),
    DemoCustomer("Pablo Ortega", "sms"),
    DemoCustomer("Sienna Clarke", "social"),
    DemoCustomer("Henrik Berg", "email", vip=True),
    DemoCustomer("Maya Patel", "chat"),
    DemoCustomer("Theo Martin", "email"),
    DemoCustomer("Rosa Jiménez", "sms"),
    DemoCustomer("Finn Gallagher", "email"),
    DemoCustomer("Anika Sharma", "api"),
    DemoCustomer("Victor Lambert", "email"),
    DemoCustomer("Ruby Mitchell", "social"),
    DemoCustomer("Tariq Hussain", "chat"),
    DemoCustomer("Elena Popescu", "email"),
    DemoCustomer("George Harris", "sms"),
    DemoCustomer("Naomi Cohen", "email", company="Brightside Boutique Hotels"),
    DemoCustomer("Luca Bianchi", "chat"),
    DemoCustomer("Imogen Shaw", "email"),
    DemoCustomer("Kofi Boateng", "social"),
    DemoCustomer("Astrid Nilsson", "email"),
    DemoCustomer("Owen Davies", "chat"),
    DemoCustomer("Divya Iyer", "email"),
)

# Reserved example domains: the demo must never mail a real inbox.
_MAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example")


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def customer_email(index: int, name: str) -> str:
    """A believable address, varied in shape the way real ones are."""
    first, *rest = name.split()
    last = rest[-1] if rest else "x"
    first, last = ascii_slug(first), ascii_slug(last)
    shape = index % 4
    local = (f"{first}.{last}", f"{first[0]}{last}", f"{first}_{last}{(index * 37) % 90 + 10}", f"{first}.{last[0]}")
    return f"{local[shape]}@{_MAIL_DOMAINS[index % len(_MAIL_DOMAINS)]}"


def customer_phone(index: int) -> str:
    # 555-01xx numbers are set aside for fiction in the North American plan.
    return f"+1555010{index % 100:02d}"


def customer_handle(index: int, name: str) -> str:
    first, *rest = name.split()
    return f"{ascii_slug(first)}.{ascii_slug(rest[-1]) if rest else 'x'}{index % 7 or ''}"


# Bulk-made customers combine these; an ordinal picks a stable combination.
FIRST_NAMES = (
    "Ada", "Aiden", "Alba", "Amir", "Anna", "Arlo", "Bea", "Bruno", "Camila", "Cora", "Dario", "Elias", "Elif",
    "Emil", "Esme", "Felix", "Gemma", "Hugo", "Ines", "Isaac", "Jade", "Jonah", "Kai", "Kira", "Lars", "Lea",
    "Leon", "Lina", "Malik", "Mara", "Milo", "Nadia", "Nico", "Nora", "Omar", "Paula", "Quinn", "Rafael", "Rhea",
    "Rosa", "Sami", "Sara", "Silas", "Tara", "Teo", "Uma", "Vera", "Wes", "Xenia", "Yara", "Yusuf", "Zara",
)
LAST_NAMES = (
    "Abbott", "Achterberg", "Bauer", "Byrne", "Castillo", "Costa", "Dahl", "Duarte", "Eriksen", "Evans", "Farah",
    "Ferreira", "Gallo", "Gray", "Hale", "Hartmann", "Ibrahim", "Jansen", "Keller", "Kowalski", "Lindgren",
    "Lopez", "Maddox", "Meyer", "Nakamura", "Nowak", "Okoro", "Olsen", "Park", "Pereira", "Quint", "Reid",
    "Romano", "Santos", "Schultz", "Silva", "Sorensen", "Stone", "Torres", "Turner", "Ueda", "Vance", "Vargas",
    "Visser", "Walsh", "Weiss", "Xu", "Young", "Zimmer", "Zubiri",
)
COMPANIES = (
    "Granite Peak Guides", "Lakeside Scout Troop 12", "Harbour Yoga Studio", "Pinecrest Lodge", "Trailblazers Running Club",
    "Old Mill Guesthouse", "Northside Climbing Gym", "Meadow & Vine B&B",
)
