"""The secrets detector (conversation/secrets.py): what customers really type, in Chinese
and English, is caught; order numbers, phone numbers, amounts, dates and ordinary
sentences are left alone."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversation.inbound import Inbound, Sender
from conversation.model import Attachment
from conversation.redaction import redact_inbound
from conversation.secrets import (
    SecretKind,
    card_prefix_known,
    digits_of,
    find_secrets,
    luhn_valid,
    redact,
    resident_id_valid,
)


def marked(kind: SecretKind) -> str:
    return f"<{kind.value}>"


def luhn_complete(body: str) -> str:
    """`body` with the check digit that makes it pass Luhn."""
    return next(body + d for d in "0123456789" if luhn_valid(body + d))


def resident_id(province: int, born: date, serial: int, *, lower_x: bool = False) -> str:
    body = f"{province}0101{born:%Y%m%d}{serial:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + (check.lower() if lower_x else check)


# What customers write, and what is kept of it.
PHRASINGS = [
    ("我的卡号是 6222 0212 3456 7890 128，麻烦查一下", "我的卡号是 <card_number>，麻烦查一下"),
    ("卡号6222021234567890128扣款失败", "卡号<card_number>扣款失败"),
    ("my card number is 4111-1111-1111-1111 exp 12/27", "my card number is <card_number> exp 12/27"),
    ("Card: 4111 1111 1111 1111 123", "Card: <card_number> 123"),
    ("Amex 378282246310005 was charged twice", "Amex <card_number> was charged twice"),
    ("全角４１１１１１１１１１１１１１１１", "全角<card_number>"),
    ("卡号４１１１\u3000１１１１\u3000１１１１\u3000１１１１。", "卡号<card_number>。"),  # full-width spaces too
    ("身份证号 11010519491231002X", "身份证号 <resident_id>"),
    ("身份证：11010519491231002x。", "身份证：<resident_id>。"),
    ("ID 110105 19491231 002X please verify", "ID <resident_id> please verify"),
    ("cvv 123", "cvv <cvv>"),
    ("The CVV is 4321.", "The CVV is <cvv>."),
    ("安全码是 456", "安全码是 <cvv>"),
    ("卡背面三位数字：789", "卡背面三位数字：<cvv>"),
    ("验证码：123456", "验证码：<one_time_code>"),
    ("验证码是839201，怎么登录不了", "验证码是<one_time_code>，怎么登录不了"),
    ("短信验证码 5521", "短信验证码 <one_time_code>"),
    ("my verification code is 204981", "my verification code is <one_time_code>"),
    ("OTP: 55123901", "OTP: <one_time_code>"),
    ("the code is 4821, it says expired", "the code is <one_time_code>, it says expired"),
    ("动态密码 123456", "动态密码 <one_time_code>"),
    ("password: hunter2", "password: <password>"),
    ("My password is Tr0ub4dor&3 and it doesn't work", "My password is <password> and it doesn't work"),
    ("my password is sunshine", "my password is <password>"),
    ("new password abc12345", "new password <password>"),
    ("pwd=S3cret!", "pwd=<password>"),
    ("密码是abc123，帮我看看", "密码是<password>，帮我看看"),
    ("我的登录密码：Passw0rd!", "我的登录密码：<password>"),
    ("密码abc12345登不上", "密码<password>登不上"),
    ("支付密码为 665544", "支付密码为 <password>"),
    ("PIN: 1234", "PIN: <password>"),
]

# Ordinary text the detector must leave exactly as it is.
ORDINARY = [
    "订单号 4111111111111111 还没发货",  # Luhn-valid, but labelled as the order's number
    "order #4111111111111111 has not arrived",
    "tracking number: 5105105105105100",
    "我的订单 2024061812345678 还没到",
    "order 20240618123456789 arrived broken",
    "快递单号 SF1234567890123",
    "我的手机号 13812345678",
    "call me on +86 138 1234 5678",
    "call me at +1 415-555-0100",
    "电话 ＋86 138 1234 5678",
    "座机 010-6552 9988",
    "refund ¥1,234.56 please",
    "I paid $1,299.00 on 2024-06-18",
    "2024年6月18日下单，6月20日到货",
    "18/06/2024 10:30",
    "my password is wrong",
    "密码错误，登录不了",
    "忘记密码了，怎么重置？",
    "how do I reset my password?",
    "password reset link did not arrive",
    "密码是多少位？",
    "密码app里改不了",
    "the zip code 94107 is not accepted",
    "error code 5001 when paying",
    "discount code 2024 didn't work",
    "I never got the verification code",
    "验证码收不到",
    "my cvv is on the back?",
    "slack ts 1700000000.123456",
    "3.14159265358979323846",
    "版本 1.2.3，商品编号 A1234567890123456",
    "[card number removed] [password removed] [code removed]",
    "[银行卡号已隐藏] [密码已隐藏] [验证码已隐藏] [身份证号已隐藏] [安全码已隐藏]",
]


@pytest.mark.parametrize(("text", "kept"), PHRASINGS)
def test_what_customers_type_is_caught_in_chinese_and_english(text: str, kept: str) -> None:
    assert redact(text, marked)[0] == kept


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert find_secrets(text) == []


def test_the_kinds_found_are_reported() -> None:
    _text, kinds = redact("卡号 4111111111111111 安全码 123 验证码 654321 密码：x9y8z7", marked)
    assert kinds == {SecretKind.CARD_NUMBER, SecretKind.CVV, SecretKind.ONE_TIME_CODE, SecretKind.PASSWORD}


def test_checksums_follow_their_standards() -> None:
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")
    assert resident_id_valid("11010519491231002X") and not resident_id_valid("110105194912310021")
    assert not resident_id_valid(resident_id(11, date(1990, 3, 7), 123)[:6] + "19900230" + "1234")  # no 30 February
    assert not resident_id_valid("99" + resident_id(11, date(1990, 3, 7), 123)[2:])  # no province 99
    assert card_prefix_known("6222021234567890") and not card_prefix_known("2024061812345678")


# -- properties -------------------------------------------------------------------------------

PREFIXES = ("4", "51", "55", "2221", "2720", "34", "37", "36", "300", "3528", "6011", "65", "62", "81", "50", "67")
WORDS = st.sampled_from(["my card", "卡号", "please", "请帮我查一下", "refund to", "是", "thanks", "谢谢", "charged:"])
GAP = st.sampled_from([" ", "：", ": ", "\n", "，", "("])


@st.composite
def cards(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(PREFIXES))
    length = 15 if prefix in ("34", "37") else draw(st.integers(13, 19))
    body = prefix + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=length - len(prefix) - 1,
                                          max_size=length - len(prefix) - 1)))  # fmt: skip
    return luhn_complete(body)


def written(number: str, style: str) -> str:
    """A number as people type it: in one piece, or in groups of four with spaces or dashes."""
    if style == "plain":
        return number
    return style.join(number[i : i + 4] for i in range(0, len(number), 4))


FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@given(
    card=cards(),
    style=st.sampled_from(["plain", " ", "-", "\u3000"]),
    full_width=st.booleans(),
    before=WORDS,
    gap=GAP,
    after=WORDS,
)
@settings(max_examples=300, deadline=None)
def test_every_valid_card_number_in_a_sentence_is_caught(
    card: str, style: str, full_width: bool, before: str, gap: str, after: str
) -> None:
    typed = written(card, style).translate(FULL_WIDTH) if full_width else written(card, style)
    text = f"{before}{gap}{typed} {after}"
    kept, kinds = redact(text, marked)
    assert kinds == {SecretKind.CARD_NUMBER}
    assert card not in digits_of(kept) and kept == f"{before}{gap}<card_number> {after}"


@given(
    province=st.sampled_from([11, 31, 44, 51, 65, 81]),
    born=st.dates(date(1900, 1, 1), date(2030, 12, 31)),
    serial=st.integers(0, 999),
    lower_x=st.booleans(),
    before=WORDS,
    gap=GAP,
)
@settings(max_examples=300, deadline=None)
def test_every_valid_resident_id_is_caught(
    province: int, born: date, serial: int, lower_x: bool, before: str, gap: str
) -> None:
    number = resident_id(province, born, serial, lower_x=lower_x)
    kept, kinds = redact(f"{before}{gap}{number}", marked)
    assert kinds == {SecretKind.RESIDENT_ID} and kept == f"{before}{gap}<resident_id>"


@st.composite
def order_numbers(draw: st.DrawFn) -> str:
    """Numbers that are neither a card (Luhn) nor a resident ID (checksum), 10 to 20 digits."""
    number = draw(st.text("0123456789", min_size=10, max_size=20))
    if luhn_valid(number):
        number = number[:-1] + str((int(number[-1]) + 1) % 10)
    if resident_id_valid(number):
        number = number[:-1] + ("0" if number[-1] != "0" else "1")
    return number


CJK = st.text(
    st.sampled_from("我的订单还没到请帮查一下谢谢退款物流什么时候发货客服你好账号登录不了为您处理。，？！"), max_size=40
)


@given(
    order=order_numbers(),
    phone=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    amount=st.decimals(min_value=0, max_value=10_000_000, places=2),
    day=st.dates(date(1990, 1, 1), date(2099, 12, 31)),
    sentence=CJK,
)
@settings(max_examples=300, deadline=None)
def test_order_numbers_phones_amounts_dates_and_chinese_sentences_are_left_alone(
    order: str, phone: str, amount: object, day: date, sentence: str
) -> None:
    texts = [
        f"订单号 {order}",
        f"my order {order} is late",
        f"{sentence}{order}{sentence}",
        f"手机 {phone}，{sentence}",
        f"call +86 {phone[:3]} {phone[3:7]} {phone[7:]}",
        f"退款 ¥{amount:,} 元",
        f"refund of ${amount}",
        f"{day:%Y-%m-%d} {day:%Y年%m月%d日} {day:%d/%m/%Y} {day:%Y%m%d}",
        sentence,
    ]
    for text in texts:
        assert find_secrets(text) == [], text


@given(text=st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_redaction_is_stable_and_leaves_no_secret_behind(text: str) -> None:
    for placeholder in (marked, lambda kind: "[密码已隐藏]", lambda kind: "[password removed]"):
        once, _kinds = redact(text, placeholder)
        assert redact(once, placeholder)[0] == once


# -- a whole message (conversation/redaction.py) -------------------------------------------------


def test_every_kept_part_of_a_message_is_redacted() -> None:
    inbound = Inbound(
        channel="email",
        external_id="<m1@example.com>",
        sender=Sender(address="li@example.com"),
        thread_key="<m1@example.com>",
        text="card 4111 1111 1111 1111",
        html="<p>card <b>4111 1111 1111 1111</b> &amp; code: 123456</p>",
        subject="Re: 4111-1111-1111-1111",
        attachments=(Attachment(name="id-11010519491231002X.png", content_type="image/png", size=1, blob_ref="b"),),
        raw={"full_text": "> password: hunter22", "full_html": "<p>4111<b>1111</b>11111111</p>", "n": 3},
    )
    kept, kinds = redact_inbound(inbound, marked)
    assert kept.text == "card <card_number>" and kept.subject == "Re: <card_number>"
    assert kept.html == "<p>card <b>&lt;card_number&gt;</b> &amp; code: &lt;one_time_code&gt;</p>"  # escaped
    assert kept.attachments[0].name == "id-<resident_id>.png"
    # A number split by tags cannot be replaced in place: that HTML is not kept (the text is).
    assert kept.raw == {"full_text": "> password: <password>", "full_html": "", "n": 3}
    assert kinds == set(SecretKind) - {SecretKind.CVV}


def test_a_message_without_secrets_is_returned_as_it_is() -> None:
    inbound = Inbound(
        channel="c", external_id="1", sender=Sender(address="a"), thread_key="t", text="订单 2024061812345678"
    )
    assert redact_inbound(inbound, marked) == (inbound, frozenset())


async def test_a_secret_in_chinese_words_leaves_a_chinese_placeholder_whatever_the_channel_says() -> None:
    """A Telegram or mail client set to English, a customer writing Chinese: the ticket reads
    in Chinese, so the words left in place of a secret are Chinese too."""
    from conversation.inbound import Sender
    from hub.privacy import SecretsGuard
    from tests.helpers import customer_message

    guard = SecretsGuard("en")
    said = customer_message("m1", "我的密码是 Hunter2secret 请帮我查", sender=Sender("u1", language="en"))
    cleaned, _kinds = await guard.inbound(said)
    assert "Hunter2secret" not in cleaned.text and "[密码已隐藏]" in cleaned.text
    english = customer_message("m2", "my password: Hunter2secret", sender=Sender("u1", language="zh-CN"))
    cleaned, _kinds = await guard.inbound(english)
    assert "[密码已隐藏]" in cleaned.text  # English words of a Chinese customer: their language still
