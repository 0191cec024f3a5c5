"""The account plugin's rules (conversation/account_intents.py) on many phrasings, zh and en."""

from __future__ import annotations

import pytest

from conversation.account_intents import AccountIntent, account_intent, answers_mail, confirmation

CASES: dict[AccountIntent, list[str]] = {
    AccountIntent.THEFT: [
        "账号被盗",
        "我的帐号被盗了！！",
        "账户好像被黑了",
        "号被盗了怎么办",
        "有人登录了我的账号",
        "别人在用我的账号买东西",
        "收到异地登录提醒，不是我",
        "账号有陌生设备登录",
        "这笔订单不是我本人操作的",
        "登录不了，好像被盗号了",  # several matters: the most serious wins
        "Someone logged into my account",
        "someone else has logged into my account last night",
        "My account was hacked",
        "I think my account has been compromised",
        "there's an unauthorized login on my account",
        "Suspicious login from another country",
        "I didn't log in but got a login alert",
        "somebody changed my account password",
        "ＭＹ ＡＣＣＯＵＮＴ ＷＡＳ ＨＡＣＫＥＤ",  # full-width letters
    ],
    AccountIntent.PASSWORD: [
        "忘记密码",
        "我忘了密码",
        "密码忘了怎么办",
        "怎么找回密码？",
        "重置密码",
        "想不起来登录密码了",
        "I forgot my password",
        "forgotten password",
        "How do I reset my password?",
        "I can’t remember my password",  # a curly apostrophe
        "password reset please",
        "lost my password, can't log in",  # a password problem first
    ],
    AccountIntent.DELETION: [
        "注销账号",
        "我要注销",
        "请帮我删除我的账户",
        "怎么销户",
        "Please delete my account",
        "I want to close my account",
        "account deletion request",
        "deactivate my account please",
    ],
    AccountIntent.CONTACT_CHANGE: [
        "换绑手机号",
        "我想修改绑定的手机号码",
        "怎么更换邮箱",
        "手机号换了，收不到验证码",
        "改一下注册的邮箱",
        "I need to change my phone number",
        "update my email address",
        "how do I change the registered email",
        "I have a new phone number",
    ],
    AccountIntent.REGISTRATION: [
        "注册不了",
        "注册失败，一直报错",
        "无法注册",
        "怎么注册？",
        "注册收不到验证码",
        "I can't register",
        "unable to sign up",
        "registration failed with an error",
        "problems with signing up",
        "how do I create an account",
    ],
    AccountIntent.LOGIN: [
        "登录不了",
        "无法登录",
        "登不上去",
        "app 登录失败",
        "账号被锁定了",
        "I can't log in",
        "cannot sign in to the app",
        "login not working",
        "I'm locked out",
        "trouble logging in since yesterday",
        "the app won't let me login",
    ],
}


@pytest.mark.parametrize(("text", "intent"), [(text, intent) for intent, texts in CASES.items() for text in texts])
def test_each_phrasing_is_recognised(text: str, intent: AccountIntent) -> None:
    assert account_intent(text) is intent


@pytest.mark.parametrize(
    "text",
    [
        "",
        "我的订单还没到",
        "查询工单 1042",
        "where is my parcel",
        "I want a refund",
        "how do I change my delivery address",
        "the password field on the checkout page is misaligned " + "x" * 400,  # a long mail: for a person
        "谢谢",
    ],
)
def test_other_messages_are_not_account_matters(text: str) -> None:
    assert account_intent(text) is None


YES = ["是", "是的", "确认", "好的。", "冻结", "Yes", "yes!", "OK", "lock it", "Please lock"]


@pytest.mark.parametrize("text", YES)
def test_yes(text: str) -> None:
    assert confirmation(text) is True


@pytest.mark.parametrize("text", ["不", "不用了", "取消", "先不要", "No", "no thanks", "don't lock", "Cancel"])
def test_no(text: str) -> None:
    assert confirmation(text) is False


@pytest.mark.parametrize("text", ["我的订单呢", "what happens then?", "yes but first tell me why", ""])
def test_anything_else_is_neither(text: str) -> None:
    assert confirmation(text) is None


def test_a_mail_answers_a_question_only_by_replying_to_it() -> None:
    asked = "0661347ac74bbec7236e1900"
    assert answers_mail(asked, [f"<{asked}@help.example.com>"], [])
    assert answers_mail(asked, [], ["<x@gmail.com>", f"<{asked}@help.example.com>"])
    assert not answers_mail(asked, ["<x@gmail.com>"], ["<0661347ac74bbec7236e1901@help.example.com>"])
    assert not answers_mail("", ["<@help.example.com>"], [])
