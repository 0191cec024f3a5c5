"""docs/platform-openapi.json is what the client calls and the fake implements: the same
paths, examples the client accepts, and a worked signature example that verifies."""

from __future__ import annotations

import json
import re
from typing import Any

from hub.platform.models import Done, Order, PlatformUser
from hub.platform.tools import EFFECTS
from hub.signing import check_signature
from tests.conftest import ROOT
from tests.fake_platform import PATHS

SPEC: dict[str, Any] = json.loads((ROOT / "docs" / "platform-openapi.json").read_text(encoding="utf-8"))
CLIENT = (ROOT / "hub" / "platform" / "client.py").read_text(encoding="utf-8")


def example(path: str, status: str = "200") -> Any:
    return SPEC["paths"][path]["post"]["responses"][status]["content"]["application/json"]["example"]


def test_every_operation_the_client_calls_is_documented_and_faked() -> None:
    called = set(re.findall(r'"(/v1/[a-z/-]+)"', CLIENT))
    assert called == set(SPEC["paths"]) == set(PATHS)
    effects = {
        PATHS[p]
        for p, item in SPEC["paths"].items()
        if any(x.get("$ref", "").endswith("IdempotencyKey") for x in item["post"]["parameters"])
    }
    assert effects == set(EFFECTS)  # each side effect, and only those, takes an Idempotency-Key


def test_the_documented_answers_are_what_the_client_accepts() -> None:
    assert PlatformUser.parse(example("/v1/users/lookup")["user"]).email_hint == "l***@example.com"
    assert Order.parse(example("/v1/orders/get")["order"]).concerns("u-1001")
    assert [Order.parse(o).id for o in example("/v1/orders/list")["orders"]] == ["o-5531"]
    for path in (
        "/v1/users/password-reset",
        "/v1/users/lock",
        "/v1/users/unlock",
        "/v1/refunds",
        "/v1/disputes/decisions",
    ):
        assert Done.parse(PATHS[path], example(path)["result"], replayed=False).status


def test_the_worked_signature_example_verifies() -> None:
    text = SPEC["info"]["description"]
    secret = re.search(r"secret `([^`]+)`", text).group(1)  # type: ignore[union-attr]
    timestamp = re.search(r"timestamp `([0-9]+)`", text).group(1)  # type: ignore[union-attr]
    pairs = re.findall(r"\n    (\{.*\})\n\nis signed `(v1=[0-9a-f]{64})`", text)
    assert len(pairs) == 2  # a request and its answer
    for body, signature in pairs:
        headers = {"X-Helpline-Timestamp": timestamp, "X-Helpline-Signature": signature}
        check_signature(secret, headers, body.encode(), now=float(timestamp), max_skew=300)


def test_the_refund_and_its_answers_are_documented_without_ambiguity() -> None:
    refund = SPEC["paths"]["/v1/refunds"]["post"]
    body = refund["requestBody"]["content"]["application/json"]
    # The example is what Helpline sends: a dispute's reference, and whose favour the decision was.
    assert re.fullmatch(r"D-\d+-[0-9A-Z]+", body["example"]["decision"])
    assert set(body["schema"]["properties"]["outcome"]["enum"]) == {"refund_buyer", "partial_refund"}
    assert body["example"]["outcome"] == "refund_buyer"
    text = SPEC["info"]["description"]
    assert "repeat's (new) `X-Request-Id`" in text  # a replayed answer: the kept result, the new request id
    assert "404 is a refusal" in text and "never retried" in text
    lookups = {p for p in SPEC["paths"] if PATHS[p] not in EFFECTS}
    assert all("Idempotent-Replayed" not in SPEC["paths"][p]["post"]["responses"]["200"]["headers"] for p in lookups)
    assert all(SPEC["paths"][p]["post"]["responses"]["200"]["description"].startswith("Found") for p in lookups)
    refused = SPEC["components"]["responses"]["Conflict"]["content"]["application/json"]["examples"]
    assert {e["value"]["error"] for e in refused.values()} == {
        "idempotency_conflict",
        "invalid_amount",
        "invalid_decision",
    }
    order = SPEC["components"]["schemas"]["Order"]["properties"]
    assert "no_tracking" in order["tracking_number"]["description"]
    assert "min_days" in order["created_at"]["description"]


def test_every_decision_is_documented_with_examples_the_client_sends() -> None:
    """For the seller, for the buyer, partial; final or not; the appeal's decision replacing the
    first: each documented example is a body DecisionNotice writes, and the fake accepts."""
    from decimal import Decimal

    from hub.platform.models import DecisionNotice

    post = SPEC["paths"]["/v1/disputes/decisions"]["post"]
    content = post["requestBody"]["content"]["application/json"]
    schema = content["schema"]
    assert set(schema["properties"]["outcome"]["enum"]) == {"refund_buyer", "partial_refund", "favour_seller"}
    examples = {name: e["value"] for name, e in content["examples"].items()}
    assert {e["outcome"] for e in examples.values()} >= {"favour_seller", "partial_refund"}
    assert {e["final"] for e in examples.values()} == {True, False}
    assert any(e.get("supersedes") == 1 for e in examples.values())
    for example_body in examples.values():
        assert set(example_body) <= set(schema["properties"]) and set(schema["required"]) <= set(example_body)
        notice = DecisionNotice(
            decision=example_body["decision"],
            number=example_body["number"],
            order_id=example_body["order_id"],
            outcome=example_body["outcome"],
            refund_amount=Decimal(example_body["refund_amount"]),
            currency=example_body["currency"],
            decided_at=example_body["decided_at"],
            final=example_body["final"],
            appeal_until=example_body.get("appeal_until", ""),
            supersedes=example_body.get("supersedes", 0),
        )
        assert notice.body() == example_body
        assert DecisionNotice.from_args(notice.args()) == notice  # as the stored intent repeats it
    assert "Act on a decision only once it is final" in post["description"]


def test_the_one_time_code_operations_are_documented_as_the_client_uses_them() -> None:
    """Sending a code is a side effect (an SMS: Idempotency-Key); checking one is not, and its
    documented answer is what the client accepts; the description says the code is never kept."""
    from hub.platform.models import CodeCheck

    send = SPEC["paths"]["/v1/users/verification-code"]["post"]
    assert any(p.get("$ref", "").endswith("IdempotencyKey") for p in send["parameters"])
    assert send["requestBody"]["content"]["application/json"]["example"] == {"login": "+8613812345678"}
    sent = Done.parse("send_code", example("/v1/users/verification-code")["result"], replayed=False)
    assert sent.reference and sent.sent_to_hint.endswith("5678")
    assert "never to a number or address that is not registered" in send["description"]
    assert "never stores, logs or shows the code" in send["description"]
    check = SPEC["paths"]["/v1/users/verification-code/check"]["post"]
    assert not any(p.get("$ref", "").endswith("IdempotencyKey") for p in check["parameters"])
    checked = CodeCheck.parse(example("/v1/users/verification-code/check")["result"])
    assert checked.verified and checked.user is not None and checked.user.id == "u-1001"
    assert not CodeCheck.parse({"status": "wrong"}).verified


def test_the_intro_says_what_helpline_does_with_a_one_time_code() -> None:
    """The check call carries the typed code: the intro must not say Helpline never receives one."""
    intro = SPEC["info"]["description"]
    assert "receives a password or a one-time code" not in intro
    assert "/v1/users/verification-code/check" in intro and "stored nowhere" in intro
