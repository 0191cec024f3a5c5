"""Real-world-shaped mails, built byte by byte as the clients send them."""

from __future__ import annotations

import base64

HELPDESK = "help@support.example.com"


def gmail_reply(reference: str = "<m1@support.example.com>", subject: str = "Re: Your order [#1000]") -> bytes:
    return f"""From: Li Na <Li.Na@Gmail.com>
To: {HELPDESK}
Subject: {subject}
Message-ID: <CAGmail123@mail.gmail.com>
In-Reply-To: {reference}
References: {reference}
Date: Thu, 26 Nov 2026 10:00:00 +0800
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="gm"

--gm
Content-Type: text/plain; charset="UTF-8"

It arrived this morning, thank you!

On Wed, Nov 25, 2026 at 9:00 AM Support <{HELPDESK}> wrote:
> We shipped it again.
> Regards

--gm
Content-Type: text/html; charset="UTF-8"

<div dir="ltr">It arrived this morning, thank you!</div><div class="gmail_quote">On Wed ... wrote:<blockquote>We shipped it again.</blockquote></div>
--gm--
""".encode()


def outlook_reply() -> bytes:
    return f"""From: "Brown, Tom" <tom.brown@outlook.com>
To: {HELPDESK}
Subject: RE: Refund [#1001]
Message-ID: <AM0PR01MB1234@outlook.com>
Date: Thu, 26 Nov 2026 02:00:00 +0000
MIME-Version: 1.0
Content-Type: text/plain; charset="us-ascii"

Still waiting for the refund.

Tom Brown | Purchasing

From: Support <{HELPDESK}>
Sent: Wednesday, November 25, 2026 9:00 AM
To: Brown, Tom <tom.brown@outlook.com>
Subject: Refund [#1001]

We have started the refund.
""".encode()


def apple_reply() -> bytes:
    return f"""From: Ana Silva <ana@icloud.com>
To: {HELPDESK}
Subject: Re: Login [#1002]
Message-ID: <ABCD-1234@icloud.com>
Date: Thu, 26 Nov 2026 11:00:00 +0100
Mime-Version: 1.0 (Mac OS X Mail 16.0)
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Yes, I can log in now.

Sent from my iPhone

> On 25 Nov 2026, at 09:00, Support <{HELPDESK}> wrote:
>=20
> Please reset your password.
""".encode()


def qq_mail_gbk() -> bytes:
    # 喆 and 镕 are in GBK but not in GB2312: QQ still labels such mail gb2312.
    subject = base64.b64encode("回复：订单 喆镕 没有到".encode("gbk")).decode()
    body = '张喆收到了，谢谢！\n\n------------------ 原始邮件 ------------------\n发件人: "客服"<help@support.example.com>;\n发送时间: 2026年11月25日\n主题: 订单\n\n请查收'
    return (
        f"""From: =?gb2312?B?{base64.b64encode("张喆".encode("gbk")).decode()}?= <123456@qq.com>
To: {HELPDESK}
Subject: =?gb2312?B?{subject}?=
Message-ID: <tencent_ABC@qq.com>
Date: Thu, 26 Nov 2026 10:00:00 +0800
MIME-Version: 1.0
Content-Type: text/plain; charset="gb2312"
Content-Transfer-Encoding: base64

"""
        + base64.encodebytes(body.encode("gbk")).decode()
    ).encode()


def mail_163_gbk() -> bytes:
    body = '好的，我明天再试。\n\n在 2026-11-25 09:00:00，"客服" <help@support.example.com> 写道：\n> 请重新登录'
    return (
        f"""From: wangfang@163.com
To: {HELPDESK}
Subject: =?GBK?B?{base64.b64encode("Re: 登录问题".encode("gbk")).decode()}?=
Message-ID: <163mail.1@163.com>
Date: Thu, 26 Nov 2026 10:00:00 +0800
MIME-Version: 1.0
Content-Type: text/plain; charset=GBK
Content-Transfer-Encoding: base64

"""
        + base64.encodebytes(body.encode("gbk")).decode()
    ).encode()


def forward_as_attachment() -> bytes:
    return f"""From: ops@partner.example.org
To: {HELPDESK}
Subject: Fwd: complaint from our customer
Message-ID: <fwd1@partner.example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="fw"

--fw
Content-Type: text/plain; charset=utf-8

See the customer's mail below.
--fw
Content-Type: message/rfc822
Content-Disposition: attachment

From: angry@example.net
Subject: Terrible service
Message-ID: <orig@example.net>

I want my money back.
--fw--
""".encode()


def html_newsletter() -> bytes:
    return f"""From: News <news@shop.example.net>
To: {HELPDESK}
Subject: Our November deals
Message-ID: <news-1@shop.example.net>
List-Id: <deals.shop.example.net>
Precedence: bulk
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><head><style>p {{color: red}}</style></head><body><h1>Deals</h1><p>Save 20%<br>this week</p><img src="https://tracker.example.net/pixel.gif"></body></html>
""".encode()


def out_of_office() -> bytes:
    return f"""From: Wei <wei@example.com>
To: {HELPDESK}
Subject: Automatic reply: Your ticket [#1000]
Message-ID: <ooo-1@example.com>
Auto-Submitted: auto-replied
X-Autoreply: yes
Content-Type: text/plain; charset=utf-8

I am out of the office until Monday.
""".encode()


def bounce(original: str = "<m1@support.example.com>", recipient: str = "nobody@example.com") -> bytes:
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.com>
To: {HELPDESK}
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-1@mx.example.com>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

The mail could not be delivered.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; {recipient}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected

--b
Content-Type: text/rfc822-headers

From: {HELPDESK}
To: {recipient}
Subject: Your ticket [#1000]
Message-ID: {original}

--b--
""".encode()


def lying_charset() -> bytes:
    # Declared gb2312, written in GB18030 (four-byte sequences) by the sender's client.
    body = "我的订单号是 𠀀 和 €100".encode("gb18030")
    return (
        f"""From: li@example.cn
To: {HELPDESK}
Subject: order
Message-ID: <lie-1@example.cn>
Content-Type: text/plain; charset=gb2312
Content-Transfer-Encoding: base64

"""
        + base64.encodebytes(body).decode()
    ).encode()


def no_charset_utf8() -> bytes:
    return f"""From: li@example.cn
To: {HELPDESK}
Subject: hi
Message-ID: <nocs-1@example.cn>
Content-Type: text/plain
Content-Transfer-Encoding: 8bit

退款进度如何？
""".encode()


def hostile_html() -> bytes:
    return f"""From: Mallory <mallory@example.net>
To: {HELPDESK}
Subject: <script>alert(1)</script>
Message-ID: <xss-1@example.net>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<p>Hello <img src=x onerror="alert(1)"><script>alert(2)</script><a href="javascript:alert(3)">click</a><iframe src="https://evil.example"></iframe></p>
""".encode()


def huge_attachment(size: int = 30 * 1024 * 1024) -> bytes:
    data = base64.encodebytes(b"\0" * size).decode()
    return f"""From: big@example.com
To: {HELPDESK}
Subject: the video
Message-ID: <big-1@example.com>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="x"

--x
Content-Type: text/plain; charset=utf-8

Here is the video of the problem.
--x
Content-Type: video/mp4
Content-Disposition: attachment; filename*=UTF-8''%E8%A7%86%E9%A2%91.mp4
Content-Transfer-Encoding: base64

{data}
--x--
""".encode()


def chinese_filename() -> bytes:
    return f"""From: li@example.cn
To: {HELPDESK}
Subject: invoice
Message-ID: <inv-1@example.cn>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="x"

--x
Content-Type: text/plain; charset=utf-8

发票在附件里
--x
Content-Type: application/pdf
Content-Disposition: attachment; filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf
Content-Transfer-Encoding: base64

{base64.encodebytes(b"%PDF-1.4 fake").decode()}
--x--
""".encode()
