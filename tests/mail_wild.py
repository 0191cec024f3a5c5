"""Mail as it really arrives, written byte by byte after real cases: raw 8-bit headers,
encoded names with brackets, list-rewritten senders, vendor auto-replies, bounces that are
not DSNs, read receipts, Chinese/Japanese quote headers, inline answers."""

from __future__ import annotations

import base64

HELPDESK = "help@support.example.com"


def _crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


def raw_8bit_utf8_headers() -> bytes:
    """An old server passing UTF-8 in Subject and From unencoded (no RFC 2047)."""
    head = (
        "From: José Müller <jose.muller@example.de>\n"
        f"To: {HELPDESK}\n"
        "Subject: Rückerstattung für Bestellung 1042 – dringend\n"
        "Message-ID: <8bit-utf8-1@example.de>\n"
        "Date: Thu, 26 Nov 2026 09:00:00 +0100\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        "Ich warte seit zwei Wochen auf die Rückerstattung.\n"
    )
    return head.replace("\n", "\r\n").encode("utf-8")


def raw_8bit_cp1252_headers() -> bytes:
    """A spam filter's rewrite leaving cp1252 bytes in Subject and From."""
    head = (
        "From: Zoë Lefèvre <zoe@example.fr>\n"
        f"To: {HELPDESK}\n"
        "Subject: Problème de facture – «urgent»\n"
        "Message-ID: <8bit-cp1252-1@example.fr>\n"
        "Date: Thu, 26 Nov 2026 09:00:00 +0100\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=windows-1252\n\n"
        "La facture de novembre est fausse.\n"
    )
    return head.replace("\n", "\r\n").encode("cp1252")


def raw_8bit_gbk_headers() -> bytes:
    """A Chinese client writing GBK everywhere and declaring it nowhere: the name and subject
    alone are too short to tell GBK from Korean."""
    head = (
        "From: 王五 <wangwu@example.org>\n"
        f"To: {HELPDESK}\n"
        "Subject: 密码忘了\n"
        "Message-ID: <8bit-gbk-1@example.org>\n"
        "Date: Thu, 26 Nov 2026 09:00:00 +0800\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain\n"
        "Content-Transfer-Encoding: 8bit\n\n"
        "我的密码忘了，登录不上去，请帮我重置一下。谢谢！\n"
    )
    return head.replace("\n", "\r\n").encode("gbk")


def big5_name_with_brackets() -> bytes:
    """A Taiwanese Outlook: the name encoded in big5 decodes to brackets."""
    name = base64.b64encode("Stanley Chang[昌育德]".encode("big5")).decode()
    return _crlf(f"""From: =?big5?B?{name}?= <stanley_chang@realtek.com>
To: {HELPDESK}
Subject: =?big5?B?{base64.b64encode("驅動程式問題".encode("big5")).decode()}?=
Message-ID: <big5-1@realtek.com>
Date: Thu, 26 Nov 2026 09:00:00 +0800
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

The driver crashes on resume.
""")


def greeting_then_inline_answers() -> bytes:
    """Thunderbird/Mutt style: a greeting, the attribution, answers between the quotes."""
    return _crlf(f"""From: Kai Berg <kai@example.org>
To: {HELPDESK}
Subject: Re: Setup questions [#1000]
Message-ID: <inline-1@example.org>
Date: Thu, 26 Nov 2026 09:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hi,

On 25.11.2026 at 10:00, Support wrote:
> Which version do you run?

Version 4.2, on Debian 12.

> Does the error appear at start?

No, only after about an hour of use.

Thanks,
Kai
""")


def bottom_posted_answer() -> bytes:
    return _crlf(f"""From: Kai Berg <kai@example.org>
To: {HELPDESK}
Subject: Re: Logs
Message-ID: <bottom-1@example.org>
Date: Thu, 26 Nov 2026 09:10:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Hello,

On Wed, Nov 25, 2026 at 10:00 AM Support <{HELPDESK}> wrote:
> Could you send us the log file?
> It is in /var/log/app.log.

Attached to the ticket now, the crash is at 14:02.
""")


def exchange_out_of_office() -> bytes:
    """Exchange OOF: no Auto-Submitted; null envelope sender and X-Auto-Response-Suppress."""
    return _crlf(f"""From: Brown, Tom <tom.brown@contoso.com>
To: {HELPDESK}
Subject: Away until Monday: Your request [#1000]
Message-ID: <oof-1@contoso.com>
Date: Thu, 26 Nov 2026 09:00:00 +0000
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: tom.brown@contoso.com
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

I am out of the office until Monday with limited access to email.
""")


def icloud_vacation() -> bytes:
    return _crlf(f"""From: Ana Silva <ana@icloud.com>
To: {HELPDESK}
Subject: Re: Your request
Message-ID: <vacation-1@icloud.com>
Date: Thu, 26 Nov 2026 09:00:00 +0000
X-Apple-Action: VACATION
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

I am on holiday and will answer when I am back.
""")


def qq_auto_reply() -> bytes:
    subject = base64.b64encode("自动回复: 您的请求".encode("gbk")).decode()
    body = base64.b64encode("这是来自QQ邮箱的假期自动回复邮件。".encode("gbk")).decode()
    return _crlf(f"""From: =?gb18030?B?{base64.b64encode("小王".encode("gb18030")).decode()}?= <10001@qq.com>
To: {HELPDESK}
Subject: =?gb18030?B?{subject}?=
Message-ID: <tencent-auto-1@qq.com>
Date: Thu, 26 Nov 2026 17:00:00 +0800
X-QQ-AUTO-REPLY: 1
MIME-Version: 1.0
Content-Type: text/plain; charset=gb18030
Content-Transfer-Encoding: base64

{body}
""")


def subject_only_auto_reply() -> bytes:
    return _crlf(f"""From: Lin Mei <lin.mei@example.cn>
To: {HELPDESK}
Subject: =?utf-8?B?{base64.b64encode("自动回复：您的请求".encode()).decode()}?=
Message-ID: <auto-subject-1@example.cn>
Date: Thu, 26 Nov 2026 17:00:00 +0800
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

您好，我正在休假，回来后回复您。
""")


def gmail_text_bounce(original: str, recipient: str = "nobody@gmail.com") -> bytes:
    """Gmail's plain-text bounce (no multipart/report), In-Reply-To the original."""
    return _crlf(f"""From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>
To: {HELPDESK}
Subject: Delivery Status Notification (Failure)
Message-ID: <gmail-bounce-1@mx.google.com>
In-Reply-To: {original}
References: {original}
Date: Thu, 26 Nov 2026 09:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8

** Address not found **

Your message wasn't delivered to {recipient} because the address couldn't be found, or is unable to receive mail.

The response from the remote server was:
550 5.1.1 The email account that you tried to reach does not exist.
""")


def exim_text_bounce(original: str, recipient: str = "gone@example.net") -> bytes:
    return _crlf(f"""From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: {HELPDESK}
Subject: Mail delivery failed: returning message to sender
Message-ID: <exim-bounce-1@mx.example.net>
Date: Thu, 26 Nov 2026 09:00:00 +0000
X-Failed-Recipients: {recipient}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  {recipient}
    SMTP error from remote mail server after RCPT TO:<{recipient}>:
    550 5.1.1 <{recipient}>: Recipient address rejected: User unknown

------ This is a copy of the message, including all the headers. ------

Return-path: <{HELPDESK}>
From: Support <{HELPDESK}>
To: {recipient}
Subject: Re: Your request [#1000]
Message-ID: {original}

Your parcel was shipped.
""")


def alimail_bounce(original: str, recipient: str = "lost@example.cn") -> bytes:
    body = base64.b64encode(
        f"您发送的邮件未能送达。\n收件人: {recipient}\n原因: 550 5.1.1 用户不存在\n\nMessage-ID: {original}\n".encode()
    ).decode()
    return _crlf(f"""From: =?utf-8?B?{base64.b64encode("系统退信".encode()).decode()}?= <postmaster@alibaba-inc.com>
To: {HELPDESK}
Subject: =?utf-8?B?{base64.b64encode("系统退信".encode()).decode()}?=
Message-ID: <ali-bounce-1@alibaba-inc.com>
Date: Thu, 26 Nov 2026 17:00:00 +0800
x-aliyun-bounce: 1
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

{body}
""")


def read_receipt(original: str, reader: str = "li.na@gmail.com") -> bytes:
    """An MDN (RFC 8098): multipart/report; report-type=disposition-notification."""
    return _crlf(f"""From: Li Na <li.na@gmail.com>
To: {HELPDESK}
Subject: Read: Your request [#1000]
Message-ID: <mdn-1@gmail.com>
Date: Thu, 26 Nov 2026 09:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="mdn"

--mdn
Content-Type: text/plain; charset=utf-8

Your message was displayed on Thu, 26 Nov 2026 09:00:00 +0000.

--mdn
Content-Type: message/disposition-notification

Reporting-UA: mail.example.com; Thunderbird
Final-Recipient: rfc822;{reader}
Original-Message-ID: {original}
Disposition: manual-action/MDN-sent-manually; displayed

--mdn--
""")


def list_rewritten(person: str, name: str, number: int, *, google: bool = False) -> bytes:
    """Mailman 3 / Google Groups DMARC mitigation: From is the list, the person elsewhere."""
    person_header = f"X-Original-From: {name} <{person}>" if google else f"Reply-To: {name} <{person}>"
    quoted = f"'{name}' via Users" if google else f"{name} via Users"
    return _crlf(f"""From: {quoted} <users@lists.example.org>
To: {HELPDESK}
Cc: users@lists.example.org
Subject: Question {number} about the API
Message-ID: <list-{number}@lists.example.org>
Date: Thu, 26 Nov 2026 09:00:00 +0000
{person_header}
List-Id: <users.lists.example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Question {number}: how do I page through results?
""")


def _zh_reply(message_id: str, quote: str, encoding: str = "utf-8") -> bytes:
    body = base64.b64encode(quote.encode(encoding)).decode()
    return _crlf(f"""From: Zhang Wei <zhang.wei@example.cn>
To: {HELPDESK}
Subject: Re: order
Message-ID: <{message_id}@example.cn>
Date: Thu, 26 Nov 2026 09:00:00 +0800
MIME-Version: 1.0
Content-Type: text/plain; charset={encoding}
Content-Transfer-Encoding: base64

{body}
""")


def apple_mail_zh_without_zai() -> bytes:
    return _zh_reply(
        "apple-zh-1",
        "好的，明天我再试一次。\n\n2026年4月2日 14:09，Support <help@support.example.com> 写道：\n\n"
        "> 请重新安装后再试。\n",
    )


def outlook_zh_original() -> bytes:
    return _zh_reply(
        "outlook-zh-1",
        "附件是截图。\n\n-----邮件原件-----\n发件人: Support <help@support.example.com>\n"
        "发送时间: 2026年4月2日 14:09\n收件人: Zhang Wei\n主题: order\n\n请发送截图。\n",
        "gb18030",
    )


def foxmail_reply() -> bytes:
    return _zh_reply(
        "foxmail-1",
        "已经收到退款，谢谢。\n\n------------------ Original ------------------\n"
        'From: "Support"<help@support.example.com>;\nDate: Thu, Apr 2, 2026 02:09 PM\n'
        'To: "Zhang Wei"<zhang.wei@example.cn>;\nSubject: order\n\n> 退款已经处理。\n> 请查收。\n',
    )


def traditional_chinese_reply() -> bytes:
    return _zh_reply(
        "tw-1", "問題已經解決了。\n\n王小明 <help@support.example.com> 於 2026年4月2日 週四 寫道：\n> 請重新開機。\n"
    )


def japanese_reply() -> bytes:
    return _zh_reply(
        "ja-1",
        "ありがとうございます。解決しました。\n\n"
        "2026年4月2日(木) 14:09 Support <help@support.example.com>のメッセージ:\n"
        "> 再起動してください。\n",
    )


def latin1_declared_utf8_body() -> bytes:
    return _crlf(f"""From: Card Services <cards@example.com>
To: {HELPDESK}
Subject: =?iso-8859-1?Q?DISCOVER=C3=86_CARD_statement?=
Message-ID: <latin1-utf8-1@example.com>
Date: Thu, 26 Nov 2026 09:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

Your DISCOVER=C3=86 CARD statement is ready: caf=C3=A9 =E2=82=AC12.
""")


def long_html_reply(quoted_chars: int = 291_000) -> bytes:
    """An Outlook reply whose HTML quotes a long thread."""
    history = ("<div><p>Earlier message in the thread, quoted by Outlook. </p></div>\n" * (quoted_chars // 70))[
        :quoted_chars
    ]
    html = f"<html><body><p>Yes, please go ahead with the exchange.</p><hr>{history}</body></html>"
    body = base64.encodebytes(html.encode()).decode()
    return _crlf(f"""From: "Brown, Tom" <tom.brown@outlook.com>
To: {HELPDESK}
Subject: RE: Exchange
Message-ID: <long-html-1@outlook.com>
Date: Thu, 26 Nov 2026 09:00:00 +0000
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: base64

{body}""")


def nested_multiparts(depth: int = 1000) -> bytes:
    """A 70 KB mail of a thousand nested multiparts (a fuzzer's favourite)."""
    head = f"From: Fuzz <fuzz@example.org>\nTo: {HELPDESK}\nSubject: nested\nMessage-ID: <nested-1@example.org>\n"
    head += 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b0"\n\n'
    opening = "".join(f'--b{i}\nContent-Type: multipart/mixed; boundary="b{i + 1}"\n\n' for i in range(depth))
    closing = "".join(f"--b{i}--\n" for i in reversed(range(depth + 1)))
    return _crlf(head + opening + f"--b{depth}\nContent-Type: text/plain\n\nhello\n" + closing)
