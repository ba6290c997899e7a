"""What each kind of file holds: its target fields and the column names each platform uses.

A preset suggests, for each field, the file's column whose name it knows; the user confirms
or changes the suggestion on the mapping page. The generic presets are also the templates
offered for download (their first column name of each field is the template's).
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from .values import header_key

ORDERS = "orders"
REVIEWS = "reviews"


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    required: bool = False


ORDER_FIELDS = (
    Field("order_no", _l("Order number"), True),
    Field("nickname", _l("Buyer nickname"), True),
    Field("amount", _l("Amount paid"), True),
    Field("status", _l("Status"), True),
    Field("receiver", _l("Receiver name")),
    Field("phone", _l("Mobile phone")),
    Field("address", _l("Address or province")),
    Field("created_at", _l("Created time"), True),
    Field("paid_at", _l("Paid time")),
    Field("items", _l("Items title")),
    Field("item_count", _l("Item count")),
    Field("refund_amount", _l("Refund amount")),
)
PLATFORM_FIELD = Field("platform", _l("Platform"))
REVIEW_FIELDS = (
    Field("order_no", _l("Order number"), True),
    Field("rating", _l("Rating"), True),
)


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    kind: str  # ORDERS or REVIEWS
    fields: tuple[Field, ...]
    columns: dict[str, tuple[str, ...]]  # field key → the column names it goes by
    platform: str | None = None  # every row's platform; None: the file's platform column

    @property
    def required(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.required)

    def suggest(self, header: list[str]) -> dict[str, int | None]:
        """For each field, the index of the first column with a known name (or None)."""
        keys = [header_key(name) for name in header]
        mapping = {}
        for field in self.fields:
            names = [header_key(n) for n in self.columns.get(field.key, ())]
            mapping[field.key] = next((i for name in names for i, key in enumerate(keys) if key == name), None)
        return mapping

    def missing(self, mapping: dict[str, int | None]) -> list[Field]:
        return [f for f in self.required if mapping.get(f.key) is None]

    def template_rows(self) -> list[list[str]]:
        """The downloadable template: a header row with our column names and one example row."""
        return [[self.columns[f.key][0] for f in self.fields], [TEMPLATE_EXAMPLE[f.key] for f in self.fields]]


TAOBAO = Preset(
    "taobao",
    _l("Taobao / Tmall order report"),
    ORDERS,
    ORDER_FIELDS,
    {
        "order_no": ("订单编号", "订单号"),
        "nickname": ("买家会员名", "买家昵称"),
        "amount": ("买家实际支付金额", "实付金额"),
        "status": ("订单状态",),
        "receiver": ("收货人姓名",),
        "phone": ("联系手机", "联系电话"),
        "address": ("收货地址",),
        "created_at": ("订单创建时间",),
        "paid_at": ("订单付款时间",),
        "items": ("宝贝标题",),
        "item_count": ("宝贝总数量", "宝贝数量"),
        "refund_amount": ("退款金额",),
    },
    platform="taobao",
)

ALIBABA_1688 = Preset(
    "1688",
    _l("1688 order export"),
    ORDERS,
    ORDER_FIELDS,
    {
        "order_no": ("订单编号", "订单号"),
        "nickname": ("买家会员名", "买家会员登录名", "买家公司名"),
        "amount": ("实付款(元)", "实付款", "实付金额(元)", "实付金额"),
        "status": ("订单状态", "交易状态"),
        "receiver": ("收货人姓名", "收货人"),
        "phone": ("联系手机", "收货人手机", "联系电话"),
        "address": ("收货地址",),
        "created_at": ("订单创建时间", "下单时间", "创建时间"),
        "paid_at": ("订单付款时间", "付款时间"),
        "items": ("货品标题", "商品名称"),
        "item_count": ("数量", "货品数量"),
        "refund_amount": ("退款金额(元)", "退款金额"),
    },
    platform="1688",
)

GENERIC = Preset(
    "generic",
    _l("Generic template"),
    ORDERS,
    ORDER_FIELDS + (PLATFORM_FIELD,),
    {
        "order_no": ("订单号", "订单编号", "order number", "order no", "order_no"),
        "nickname": ("买家昵称", "买家会员名", "nickname", "buyer"),
        "amount": ("实付金额", "金额", "amount paid", "amount"),
        "status": ("订单状态", "状态", "status"),
        "receiver": ("收货人", "收货人姓名", "姓名", "receiver", "name"),
        "phone": ("手机", "手机号", "联系手机", "phone", "mobile"),
        "address": ("地址", "收货地址", "省份", "address", "province"),
        "created_at": ("下单时间", "订单创建时间", "created", "created at", "created time"),
        "paid_at": ("付款时间", "订单付款时间", "paid", "paid at", "paid time"),
        "items": ("商品", "商品名称", "宝贝标题", "items", "item"),
        "item_count": ("数量", "宝贝总数量", "quantity", "item count"),
        "refund_amount": ("退款金额", "refund", "refund amount"),
        "platform": ("平台", "platform"),
    },
)

REVIEW_REPORT = Preset(
    "reviews",
    _l("Review report (order number + rating)"),
    REVIEWS,
    REVIEW_FIELDS,
    {
        "order_no": ("订单编号", "订单号", "子订单编号", "order number", "order no", "order_no"),
        "rating": ("评价", "评价结果", "评价等级", "评分", "rating", "review"),
    },
)

PRESETS = {p.key: p for p in (TAOBAO, ALIBABA_1688, GENERIC, REVIEW_REPORT)}
TEMPLATES = {"generic": GENERIC, "reviews": REVIEW_REPORT}

TEMPLATE_EXAMPLE = {
    "order_no": "202401010001",
    "platform": "淘宝",
    "nickname": "小猫爱吃鱼",
    "amount": "199.00",
    "status": "交易成功",
    "receiver": "张三",
    "phone": "13812345678",
    "address": "浙江省 杭州市 西湖区 文三路 100号",
    "created_at": "2024-01-01 10:00:00",
    "paid_at": "2024-01-01 10:05:00",
    "items": "真丝围巾",
    "item_count": "1",
    "refund_amount": "0",
    "rating": "好评",
}


def better_preset(current: Preset, header: list[str]) -> Preset | None:
    """Another preset that finds every required column of this file, if the chosen one does not."""
    for preset in PRESETS.values():
        if preset is not current and not preset.missing(preset.suggest(header)):
            return preset
    return None


# Every column name any preset knows: how read_table recognises the header row.
KNOWN_COLUMNS = frozenset(n for p in PRESETS.values() for names in p.columns.values() for n in names)
