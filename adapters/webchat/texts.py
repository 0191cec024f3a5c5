"""What the web-chat channel says to people outside the widget, in one place.

The confirmation mail goes to an address a visitor typed, which may be anyone's: its
text is fixed and carries nothing a visitor wrote, in both languages the widget speaks.
"""

from __future__ import annotations

CONFIRMATION_MAIL = """\
您好！有人在我们网站的在线客服中留下了这个邮箱地址，希望通过邮件接收答复。
如果是您本人，请在聊天窗口中输入确认码：{code}
如果不是您，请忽略这封邮件：在确认之前，我们不会再向这个地址发送任何邮件。

Hello! Someone left this email address in the support chat on our website, to get
answers by email. If that was you, enter this confirmation code in the chat: {code}
If it was not you, please ignore this mail: nothing else is sent to this address
unless it is confirmed.
"""
