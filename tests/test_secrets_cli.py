"""`helpline serve` with a secret whose environment variable is unset: exit 2, naming the key."""

from __future__ import annotations

from pathlib import Path

from tests.test_cli import run


def test_an_unset_optional_secret_stops_the_hub_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "hub.toml").write_text(
        "[channels.slack]\n"
        'bot_token = "xoxb-literal-token"\n'
        'mode = "socket"\n'
        'app_token = "xapp-literal-token"\n'
        'signing_secret = "env:HELPLINE_SLACK_SIGNING_SECRET_UNSET_IN_THIS_TEST"\n'
    )
    result = run("serve", cwd=tmp_path)
    assert result.returncode == 2
    assert (
        "channels.slack.signing_secret: environment variable HELPLINE_SLACK_SIGNING_SECRET_UNSET_IN_THIS_TEST"
        " is not set" in result.stderr
    )
