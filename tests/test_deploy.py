"""The deployment guide's files (deploy/): what can be checked without Docker. The compose
file is parsed as YAML and held to what the README says it runs; the hubs' hub.toml is
loaded by the hub's own config reader, with its secret from the environment."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
import yaml

from hub.config import load_config
from tests.conftest import ROOT

DEPLOY = ROOT / "deploy"
HUBS = ("hub1", "hub2", "hub3")
MONGOS = ("mongo1", "mongo2", "mongo3")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(document, dict)
    return document


def test_three_hubs_from_one_image_each_checked_on_healthz(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {*HUBS, *MONGOS, "mongo-init", "proxy"} <= set(services)
    hubs = [services[name] for name in HUBS]
    assert len({(h["image"], h["build"]["dockerfile"]) for h in hubs}) == 1  # one image
    assert (DEPLOY / hubs[0]["build"]["context"] / hubs[0]["build"]["dockerfile"]).resolve() == (DEPLOY / "Dockerfile")
    for hub in hubs:
        assert "/healthz" in " ".join(hub["healthcheck"]["test"])
        assert hub["depends_on"]["mongo-init"]["condition"] == "service_completed_successfully"
        assert "./hub.toml:/etc/helpline/hub.toml:ro" in hub["volumes"]
        # the secret comes from the environment, required: compose refuses to start without it
        assert hub["environment"]["HELPLINE_WEBHOOK_SECRET"].startswith("${HELPLINE_WEBHOOK_SECRET:?")
    assert len({tuple(services[name]["ports"]) for name in HUBS}) == 3  # each hub reachable on its own for the checks
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert '"--config", "/etc/helpline/hub.toml"' in dockerfile and "/healthz" in dockerfile
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    for package in packages["include"]:  # every package the wheel holds is copied into the image
        assert f"COPY {package.rstrip('*')} " in dockerfile


def test_mongodb_is_a_replica_set_made_once_and_the_hubs_use_it(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = compose["services"]
    for name in MONGOS:
        assert services[name]["command"][-3:] == ["--replSet", "rs0", "--bind_ip_all"]
        assert "ping" in " ".join(services[name]["healthcheck"]["test"])
    init = services["mongo-init"]
    script = init["command"][-1]
    assert "rs.initiate" in script and "try { rs.status(); }" in script  # a second run leaves it alone
    assert sorted(re.findall(r'host: "(mongo\d):27017"', script)) == list(MONGOS)
    assert all(init["depends_on"][name]["condition"] == "service_healthy" for name in MONGOS)

    monkeypatch.setenv("HELPLINE_WEBHOOK_SECRET", "a webhook secret of thirty-two characters")
    config = load_config(DEPLOY / "hub.toml")  # the hub's own reader: the file the hubs start with is valid
    assert config.storage.url.startswith("mongodb://") and "replicaSet=rs0" in config.storage.url
    assert sorted(re.findall(r"(mongo\d):27017", config.storage.url)) == list(MONGOS)
    assert config.hub.host == "0.0.0.0" and config.hub.port == 8080
    proxy_address = services["proxy"]["networks"]["helpline"]["ipv4_address"]
    assert [str(network.network_address) for network in config.hub.trusted_proxies] == [proxy_address]


def test_the_proxy_passes_websockets_to_every_hub(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    assert all(proxy["depends_on"][name]["condition"] == "service_healthy" for name in HUBS)
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert sorted(re.findall(r"server (hub\d):8080", nginx)) == list(HUBS)
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx
    assert "proxy_set_header Connection $connection_upgrade;" in nginx
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in nginx  # replaced: the hub trusts only this proxy
    # The Host the browser sent, port included ($host drops it): sign-in compares the request's
    # origin with it, so a proxy on another port than 80 would refuse every sign-in.
    assert "proxy_set_header Host $http_host;" in nginx
    listen = re.search(r"listen (\d+);", nginx)
    assert listen is not None and proxy["ports"] == [f"{listen[1]}:{listen[1]}"]
    # the published proxy port is the public_url's
    hub_toml = tomllib.loads((DEPLOY / "hub.toml").read_text())
    assert hub_toml["hub"]["public_url"].endswith(f":{listen[1]}")
