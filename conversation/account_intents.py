"""What an account question is about, and a customer's yes or no: the `account` plugin's
rules (pure functions: no store, no channel, no platform).

Six kinds, in Chinese and English: suspected theft, forgotten password, account deletion,
a phone or email change, registration trouble, login trouble. One message may name several
("登录不了，好像被盗了"): the most serious wins, in that order, so a theft is never treated
as a mere login problem and a forgotten password is answered with the reset link rather
than with login tips.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum

# Only messages this long are read for an intent: a long mail about something else that
# mentions a password in passing is for a person, not for the account bot.
MAX_CHARS = 400


class AccountIntent(StrEnum):
    THEFT = "theft"
    PASSWORD = "password"
    DELETION = "deletion"
    CONTACT_CHANGE = "contact_change"
    REGISTRATION = "registration"
    LOGIN = "login"


_ACCOUNT_ZH = r"(?:账号|帐号|账户|帐户|号)"
_ACCOUNT_EN = r"(?:account|acct|profile)"
_LOGIN_EN = r"(?:log ?in|logged in|sign ?in|signed in|logon|access(?:ed)?|get into|got into)"

_RULES: tuple[tuple[AccountIntent, re.Pattern[str]], ...] = (
    (
        AccountIntent.THEFT,
        re.compile(
            "|".join(
                (
                    _ACCOUNT_ZH + r"(?:被|让人|被人)?(?:盗|偷|黑|劫持)",
                    r"盗号|被盗|被黑了?|被人盗",
                    r"(?:别人|有人|陌生人|他人)(?:在)?(?:登录|登陆|登入|用|使用|动)了?(?:我的)?" + _ACCOUNT_ZH + "?",
                    r"(?:异地|陌生设备|陌生的设备|不明)(?:登录|登陆)",
                    r"不是我(?:本人)?(?:的)?(?:操作|登录|登陆|买的|下的单)",
                    r"\bhack(?:ed|er|ing)?\b",
                    r"\b(?:someone|somebody|a stranger|strangers|another person)(?: else)?(?: has| just)? "
                    + r"(?:"
                    + _LOGIN_EN
                    + r"|logged into|is using|used|took over|changed)(?: (?:to|into|in to))? my "
                    + _ACCOUNT_EN,
                    _ACCOUNT_EN + r" (?:was |has been |got |is )?(?:stolen|compromised|hacked|hijacked|taken over)",
                    r"\bstolen " + _ACCOUNT_EN,
                    r"\bunauthori[sz]ed (?:login|log-in|sign-?in|access|purchase|order|activity)",
                    r"\bsuspicious (?:login|log-in|sign-?in|activity)",
                    r"\bi (?:did ?n[o']?t|never) (?:log|sign)(?:ged)? ?in\b",
                )
            )
        ),
    ),
    (
        AccountIntent.PASSWORD,
        re.compile(
            "|".join(
                (
                    r"(?:忘记|忘了|不记得|想不起来?)(?:了)?(?:我的|登录)?密码",
                    r"密码(?:忘记|忘了|不记得|想不起)",
                    r"(?:找回|重置|重设|找不回)(?:登录)?密码",
                    r"密码(?:找回|重置|重设)",
                    r"\b(?:forgot|forgotten|forget|lost|can'?t remember|cannot remember|don'?t remember)"
                    + r"(?: (?:my|the))? password",
                    r"\b(?:reset|recover|recovering|resetting)(?: (?:my|the))? password",
                    r"\bpassword (?:reset|recovery)",
                )
            )
        ),
    ),
    (
        AccountIntent.DELETION,
        re.compile(
            "|".join(
                (
                    r"(?:注销|删除|删掉|销毁|关闭|永久删除)(?:我的)?" + _ACCOUNT_ZH,
                    r"销户|注销",
                    r"\b(?:delete|close|remove|deactivate|cancel|erase|terminate)(?: (?:my|the|this))? " + _ACCOUNT_EN,
                    r"\b" + _ACCOUNT_EN + r" (?:deletion|closure|removal)",
                    r"\bright to (?:be forgotten|erasure)",
                )
            )
        ),
    ),
    (
        AccountIntent.CONTACT_CHANGE,
        re.compile(
            "|".join(
                (
                    r"(?:换绑|更换|修改|改|换|变更|更改|解绑)(?:一下)?(?:绑定的?|我的|注册的?)?"
                    + r"(?:手机号?码?|电话号?码?|号码|邮箱|邮件地址|电子邮箱)",
                    r"(?:手机号?码?|电话号?码?|邮箱)(?:换了|变了|不用了|停用了|丢了)",
                    r"\b(?:change|update|replace|switch|modify)(?: (?:my|the))?(?: registered| linked| account)? "
                    + r"(?:phone|mobile|cell|e-?mail)(?: number| address)?",
                    r"\bnew (?:phone|mobile) number",
                    r"\b(?:phone|mobile) number (?:has )?changed",
                )
            )
        ),
    ),
    (
        AccountIntent.REGISTRATION,
        re.compile(
            "|".join(
                (
                    r"(?:注册|註冊)(?:不了|不上|失败|不成功|没成功|出错|报错|有问题|不行|收不到)",
                    r"(?:无法|不能|没法|没办法)(?:注册|註冊)",
                    r"(?:怎么|如何)注册",
                    r"\b(?:can'?t|cannot|unable to|could ?n'?t|not able to) (?:register|sign ?up|create (?:an |my )?"
                    + _ACCOUNT_EN
                    + r")",
                    r"\b(?:registration|sign-?up) (?:fails?|failed|error|problem|issue|not working|does ?n'?t work)",
                    r"\b(?:problem|trouble|error|issue)s? (?:with )?(?:registering|signing up|registration|sign-?up)",
                    r"\bhow (?:do i|to|can i) (?:register|sign ?up|create an " + _ACCOUNT_EN + r")",
                )
            )
        ),
    ),
    (
        AccountIntent.LOGIN,
        re.compile(
            "|".join(
                (
                    r"(?:登录|登陆|登入|登錄)(?:不了|不上|不进去?|失败|不成功|没反应|出错|报错|有问题|异常|不行)",
                    r"(?:无法|不能|没法|没办法|登不)(?:登录|登陆|登入|上去|进去)",
                    r"登不上|登不进|进不去" + _ACCOUNT_ZH + "?",
                    r"" + _ACCOUNT_ZH + r"(?:被)?(?:锁定|冻结|封)了?",
                    r"\b(?:can'?t|cannot|unable to|could ?n'?t|not able to|won'?t let me) "
                    + r"(?:log ?in|sign ?in|access my "
                    + _ACCOUNT_EN
                    + r"|get into my "
                    + _ACCOUNT_EN
                    + r")",
                    r"\b(?:login|log-in|sign-?in|logon) "
                    + r"(?:fails?|failed|error|problem|issue|not working|does ?n'?t work)",
                    r"\b(?:problem|trouble|error|issue)s? (?:with )?(?:logging in|signing in|login|sign-?in)",
                    r"\blocked out\b",
                )
            )
        ),
    ),
)


def _normalised(text: str) -> str:
    # NFKC folds full-width letters; curly apostrophes become straight; case and spacing fold.
    folded = unicodedata.normalize("NFKC", text).replace("’", "'").lower()
    return " ".join(folded.split())


def account_intent(text: str) -> AccountIntent | None:
    """The account matter a customer's message is about, or None."""
    if not text or len(text) > MAX_CHARS:
        return None
    normal = _normalised(text)
    for intent, pattern in _RULES:
        if pattern.search(normal):
            return intent
    return None


_YES = re.compile(
    r"(?:是|是的|对|对的|确认|确定|好|好的|可以|行|冻结|请冻结|冻结吧|冻结账号|马上冻结|嗯|要)"
    r"|(?:yes|y|yeah|yep|ok|okay|sure|confirm|confirmed|please do|do it|lock|lock it|lock my account|please lock)"
)
_NO = re.compile(
    r"(?:不|不是|不用|不要|否|别|算了|取消|不用了|不需要|先不要|不冻结|别冻结)"
    r"|(?:no|n|nope|don'?t|do not|cancel|not now|no thanks|don'?t lock|do not lock|keep it)"
)
_EDGES = " \t\r\n.!?,~，。！？～、"


def confirmation(text: str) -> bool | None:
    """A short yes (True) or no (False) to a question, else None (the customer said something else)."""
    normal = _normalised(text).strip(_EDGES)
    if _NO.fullmatch(normal):
        return False
    if _YES.fullmatch(normal):
        return True
    return None


def answers_mail(question_id: str, in_reply_to: list[str], references: list[str]) -> bool:
    """Whether a mail replies to the mail that carried our question (message `question_id`,
    sent as `<question_id@our domain>`). A mail's sender can be forged, and a ticket's number
    is easy to guess; only the real mailbox received our question and can answer it."""
    prefix = f"<{question_id}@"
    return bool(question_id) and any(ref.startswith(prefix) for ref in [*in_reply_to, *references])
