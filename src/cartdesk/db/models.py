"""Imports every model so that metadata is complete (Alembic, tests)."""

from cartdesk.auth.models import ApiToken, Team, TeamMember, User  # noqa: F401
from cartdesk.brands.models import Brand  # noqa: F401
from cartdesk.channels.chat.models import ChatLogEntry, ChatUpload, ChatVisitor, ChatWidgetSettings  # noqa: F401
from cartdesk.channels.email.models import EmailThread, Mailbox, Quarantine  # noqa: F401
from cartdesk.commerce.models import (  # noqa: F401
    DiscountCode,
    InventoryMovement,
    Order,
    OrderLine,
    Product,
    Refund,
    RefundLimit,
    RefundLine,
    Return,
    ReturnItem,
    Shipment,
    StockLevel,
    StoreConnection,
    TrackingEvent,
    WebhookReceipt,
)
from cartdesk.conversations.models import Attachment, Conversation, ConversationTag, Message, Tag  # noqa: F401
from cartdesk.customers.models import Customer, CustomerIdentity  # noqa: F401
from cartdesk.db.base import Base
from cartdesk.events.models import Event  # noqa: F401
from cartdesk.jobs.models import Job  # noqa: F401
from cartdesk.knowledge.models import (  # noqa: F401
    Article,
    ArticleImage,
    ArticleTranslation,
    ArticleVersion,
    ArticleView,
    ArticleViewDaily,
    Category,
    Deflection,
    Embedding,
    Feedback,
    RelatedArticle,
    SearchDaily,
    SearchLog,
)

metadata = Base.metadata
