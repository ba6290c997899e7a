"""What the users read for each stored value (roles, layers, statuses…), in one place."""

from flask_babel import lazy_gettext as _l

from .models import (
    Activity,
    AuditAction,
    BlacklistReason,
    CampaignStatus,
    Channel,
    FollowUpState,
    FollowUpStatus,
    ImportState,
    Kind,
    Layer,
    MessageKind,
    MessageStatus,
    OrderStatus,
    Outcome,
    Review,
    Role,
    SkipReason,
    Source,
    Tier,
)

ROLE_LABELS = {Role.SALES: _l("Sales"), Role.SUPERVISOR: _l("Supervisor"), Role.ADMIN: _l("Admin")}
PLATFORM_LABELS = {
    "taobao": _l("Taobao"),
    "tmall": _l("Tmall"),
    "1688": "1688",
    "jd": _l("JD"),
    "pdd": _l("Pinduoduo"),
    "wechat": _l("WeChat shop"),
    "other": _l("Other"),
}
SOURCE_LABELS = {
    Source.INQUIRY: _l("Inquiry"),
    Source.ORDER: _l("Order"),
    Source.IMPORT: _l("Import"),
    Source.REFERRAL: _l("Referral"),
}
LAYER_LABELS = {
    Layer.PROSPECT: _l("Prospect"),
    Layer.NEW: _l("New"),
    Layer.KEY: _l("Key"),
    Layer.MIDDLE: _l("Middle"),
    Layer.BOTTOM: _l("Bottom"),
    Layer.LOST: _l("Lost"),
}
ACTIVITY_LABELS = {
    Activity.ACTIVE: _l("Active"),
    Activity.INTERMITTENT: _l("Intermittent"),
    Activity.INACTIVE: _l("Inactive"),
}
TIER_LABELS = {Tier.NONE: _l("Regular"), Tier.VIP: "VIP", Tier.SVIP: "SVIP"}
ORDER_STATUS_LABELS = {
    OrderStatus.UNPAID: _l("Unpaid"),
    OrderStatus.PAID: _l("Paid"),
    OrderStatus.SHIPPED: _l("Shipped"),
    OrderStatus.COMPLETED: _l("Completed"),
    OrderStatus.REFUNDED: _l("Refunded"),
    OrderStatus.CLOSED: _l("Closed"),
}
REVIEW_LABELS = {Review.GOOD: _l("Good review"), Review.NEUTRAL: _l("Neutral review"), Review.BAD: _l("Bad review")}
GENDER_LABELS = {"female": _l("Female"), "male": _l("Male")}
IMPORT_STATE_LABELS = {
    ImportState.MAPPING: _l("Waiting for mapping"),
    ImportState.QUEUED: _l("Queued"),
    ImportState.RUNNING: _l("Running"),
    ImportState.DONE: _l("Done"),
    ImportState.FAILED: _l("Failed"),
}
OUTCOME_LABELS = {
    Outcome.ORDERED: _l("Ordered"),
    Outcome.INTERESTED: _l("Interested"),
    Outcome.NO_ANSWER: _l("No answer"),
    Outcome.NOT_INTERESTED: _l("Not interested"),
    Outcome.DO_NOT_CONTACT: _l("Do not contact"),
}
CHANNEL_LABELS = {
    Channel.PHONE: _l("Phone call"),
    Channel.WECHAT: _l("WeChat"),
    Channel.WANGWANG: _l("Wangwang"),
    Channel.QQ: "QQ",
    Channel.SMS: _l("SMS"),
    Channel.OTHER: _l("Other"),
}
KIND_LABELS = {Kind.FIRST_CONTACT: _l("First contact"), Kind.REVISIT: _l("Revisit"), Kind.WIN_BACK: _l("Win-back")}
FOLLOW_UP_STATE_LABELS = {
    FollowUpState.ACTIVE: _l("Followed up"),
    FollowUpState.LOST: _l("Lost (no conversion)"),
    FollowUpState.STOPPED: _l("Do not contact"),
}
FOLLOW_UP_STATUS_LABELS = {
    FollowUpStatus.OPEN: _l("Open"),
    FollowUpStatus.DONE: _l("Done"),
    FollowUpStatus.CANCELLED: _l("Cancelled"),
}
BLACKLIST_REASON_LABELS = {
    BlacklistReason.OPT_OUT: _l("Opt-out reply"),
    BlacklistReason.BAD_REVIEW: _l("Bad review"),
    BlacklistReason.COMPLAINTS: _l("Complaints / returns"),
    BlacklistReason.MANUAL: _l("Manual"),
    BlacklistReason.INVALID_NUMBER: _l("Invalid number"),
}
MESSAGE_KIND_LABELS = {MessageKind.SERVICE: _l("Service"), MessageKind.MARKETING: _l("Marketing")}
MESSAGE_STATUS_LABELS = {
    MessageStatus.SCHEDULED: _l("Scheduled"),
    MessageStatus.PAUSED: _l("Paused"),
    MessageStatus.SENDING: _l("Sending"),
    MessageStatus.SENT: _l("Sent"),
    MessageStatus.DELIVERED: _l("Delivered"),
    MessageStatus.FAILED: _l("Failed"),
    MessageStatus.SKIPPED: _l("Skipped"),
    MessageStatus.UNKNOWN: _l("Outcome unknown"),
}
# Weekdays as datetime.weekday() and the send windows (app.sending.windows) number them.
WEEKDAY_LABELS = {
    0: _l("Monday"),
    1: _l("Tuesday"),
    2: _l("Wednesday"),
    3: _l("Thursday"),
    4: _l("Friday"),
    5: _l("Saturday"),
    6: _l("Sunday"),
}
# The SMS providers (the SMS_PROVIDER setting; Message.provider, Campaign.provider).
PROVIDER_LABELS = {"log": _l("Log only (nothing is sent)"), "aliyun": _l("Aliyun SMS"), "twilio": "Twilio"}
AUDIT_ACTION_LABELS = {
    AuditAction.CUSTOMER_REGISTERED: _l("Registered"),
    AuditAction.CUSTOMER_EDITED: _l("Edited"),
    AuditAction.CUSTOMER_COMPLAINT: _l("Complaint recorded"),
    AuditAction.CUSTOMERS_MERGED: _l("Merged with another record"),
    AuditAction.OWNER_CHANGED: _l("Owner changed"),
    AuditAction.FOLLOW_UP_OPENED: _l("Follow-up opened"),
    AuditAction.FOLLOW_UP_RECORDED: _l("Outcome recorded"),
    AuditAction.FOLLOW_UP_CANCELLED: _l("Follow-up cancelled"),
    AuditAction.FOLLOW_UP_STATE_CHANGED: _l("Follow-up state changed"),
    AuditAction.BLACKLIST_ADDED: _l("Phone blacklisted"),
    AuditAction.SMS_SENT_BY_HAND: _l("SMS sent by hand"),
    AuditAction.SMS_OUTCOME_RESOLVED: _l("SMS outcome settled"),
    AuditAction.SEND_WINDOWS_SAVED: _l("Sending settings saved"),
    AuditAction.SMS_TEMPLATE_SAVED: _l("SMS template saved"),
    AuditAction.BLACKLIST_REMOVED: _l("Removed from the blacklist"),
    AuditAction.USER_CREATED: _l("User created"),
    AuditAction.USER_ACTIVATED: _l("User reactivated"),
    AuditAction.USER_DEACTIVATED: _l("User deactivated"),
    AuditAction.USER_PASSWORD_RESET: _l("Password reset"),
    AuditAction.USER_PASSWORD_CHANGED: _l("Password changed"),
    AuditAction.USER_SIGNED_OUT_EVERYWHERE: _l("Signed out everywhere"),
    AuditAction.USER_HANDED_OVER: _l("Customers handed over"),
    AuditAction.IMPORT_FINISHED: _l("Import finished"),
    AuditAction.IMPORT_FAILED: _l("Import failed"),
    AuditAction.CAMPAIGN_CONFIRMED: _l("Campaign confirmed"),
    AuditAction.CAMPAIGN_PAUSED: _l("Campaign paused"),
    AuditAction.CAMPAIGN_RESUMED: _l("Campaign resumed"),
    AuditAction.CAMPAIGN_CANCELLED: _l("Campaign cancelled"),
}
CAMPAIGN_STATUS_LABELS = {
    CampaignStatus.DRAFT: _l("Draft"),
    CampaignStatus.SENDING: _l("Sending"),
    CampaignStatus.PAUSED: _l("Paused"),
    CampaignStatus.CANCELLED: _l("Cancelled"),
    CampaignStatus.DONE: _l("Done"),
}
# Why a planned message was not sent (a campaign's exclusions, the message log).
SKIP_REASON_LABELS = {
    SkipReason.BLACKLISTED: _l("Blacklisted"),
    SkipReason.FLAGGED: _l("Flagged: no marketing (bad reviewer or picky)"),
    SkipReason.NO_PHONE: _l("No valid phone"),
    SkipReason.FREQUENCY_CAP: _l("Over the frequency cap"),
    SkipReason.MISSING_VALUE: _l("Missing a placeholder's value"),
    SkipReason.CANCELLED: _l("Campaign cancelled"),
}
# What stops a draft campaign from being confirmed (app.campaigns.services.PROBLEMS).
CAMPAIGN_PROBLEM_LABELS = {
    "not_approved": _l(
        "The template has no approved template code for the SMS provider in use: add it on the template's page "
        "once the provider has approved the template."
    ),
    "no_window": _l("There is no send window for this kind of message: an admin sets the send windows."),
    "archived": _l("The template has been archived: choose another one in a new campaign."),
    "unknown_placeholder": _l("The template has a word in braces that is not a placeholder: correct it on its page."),
}


def follow_up_state_label(state: str, owner_id: int | None) -> str:
    """What a customer's follow-up state reads as: one to be followed up by nobody yet is unassigned."""
    if state == FollowUpState.ACTIVE and owner_id is None:
        return _l("Unassigned")
    return FOLLOW_UP_STATE_LABELS.get(state, state)


# Where blacklist entries come from: the kind is their source up to the first ":"
# ("follow_up:12", "import:3"), as app.blacklist.services.source_kind reads it.
BLACKLIST_SOURCE_LABELS = {
    "form": _l("Blacklist page"),
    "follow_up": _l("Follow-up (do not contact)"),
    "import": _l("Imported list"),
}


def blacklist_source_label(source: str | None) -> str | None:
    """Why a number was blacklisted, where its source says it (None: nothing to add)."""
    if (source or "").startswith("follow_up:"):
        return _l("asked not to be contacted at a follow-up")
    if (source or "").startswith("import:"):
        return _l("from an imported list")
    return None
