"""Where webhooks may go (gudang.webtargets), with a fake resolver: no test
ever contacts an address."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gudang.webtargets import TargetPolicy, TargetRefused, redact

DNS = {
    "erp.example.com": ["93.184.216.34"],
    "intranet.example.com": ["10.1.2.3"],
    "both.example.com": ["93.184.216.34", "127.0.0.1"],  # one bad address is enough
    "metadata.example.com": ["169.254.169.254"],
    "v6.example.com": ["2606:2800:220:1:248:1893:25c8:1946"],
    "influx.internal": ["198.51.100.7"],
    "localhost": ["127.0.0.1", "::1"],
    "127.0.0.1": ["127.0.0.1"],
    "2130706433": ["127.0.0.1"],  # decimal loopback, as getaddrinfo reads it
    "::1": ["::1"],
    "169.254.169.254": ["169.254.169.254"],
    "0.0.0.0": ["0.0.0.0"],
    "fd00::1": ["fd00::1"],
    "224.0.0.1": ["224.0.0.1"],
    "::ffff:127.0.0.1": ["::ffff:127.0.0.1"],
    "100.64.0.1": ["100.64.0.1"],
    "192.168.1.10": ["192.168.1.10"],
    "fe80::1": ["fe80::1%eth0"],
}


async def fake(host: str, port: int) -> list[str]:
    host.encode("idna")  # as getaddrinfo does: a name IDNA cannot encode raises
    if host not in DNS:
        raise OSError(-2, "Name or service not known")
    return DNS[host]


def check(policy: TargetPolicy, url: str):  # type: ignore[no-untyped-def]
    return asyncio.run(policy.check(url))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8086/query?q=CREATE+DATABASE+x",
        "http://localhost/",
        "http://[::1]:8000/",
        "http://2130706433/",
        "http://169.254.169.254/latest/meta-data/",
        "http://metadata.example.com/",
        "http://0.0.0.0/",
        "http://[fd00::1]/",
        "http://224.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://100.64.0.1/",
        "http://192.168.1.10/",
        "http://intranet.example.com/",
        "http://both.example.com/",
        "http://[fe80::1]/",
        "http://nowhere.invalid/",
        "ftp://erp.example.com/",
        "http:///path",
        "http://\udbb6\ude30\u009aZS/",  # found by the API's fuzzing: was a 500
        "http://" + "a" * 70 + ".example.com/",  # a label IDNA refuses
        "http://[abc/",  # an unclosed IPv6 literal: urlsplit raises (found by fuzzing: a 500)
    ],
)
def test_the_plants_own_network_is_refused(url: str) -> None:
    with pytest.raises(TargetRefused):
        check(TargetPolicy(resolver=fake), url)


def test_an_internet_target_goes_to_the_address_that_was_checked() -> None:
    t = check(TargetPolicy(resolver=fake), "https://erp.example.com/hooks/gudang?x=1")
    assert (t.url, t.host, t.address) == (
        "https://93.184.216.34/hooks/gudang?x=1", "erp.example.com", "93.184.216.34")  # fmt: skip
    t6 = check(TargetPolicy(resolver=fake), "http://v6.example.com:8080/h")
    assert t6.url == "http://[2606:2800:220:1:248:1893:25c8:1946]:8080/h"


def test_an_allowed_network_is_reachable_but_never_gudangs_own_services() -> None:
    policy = TargetPolicy(["10.1.0.0/16", "127.0.0.1/32"], [("influx.internal", 8086),
                          ("127.0.0.1", 8000)], resolver=fake)  # fmt: skip
    assert check(policy, "http://intranet.example.com/po").address == "10.1.2.3"
    assert check(policy, "http://127.0.0.1:9999/").address == "127.0.0.1"
    with pytest.raises(TargetRefused, match="own API or InfluxDB"):
        check(policy, "http://127.0.0.1:8000/api/v1/keys")
    with pytest.raises(TargetRefused):  # InfluxDB is refused by address, even when public
        check(TargetPolicy(deny=[("influx.internal", 8086)], resolver=fake),
              "http://influx.internal:8086/query")  # fmt: skip


def test_dns_that_changes_after_the_check_is_checked_again() -> None:
    """Rebinding: harmless when the subscription is made, loopback at delivery."""
    answers = [["93.184.216.34"], ["127.0.0.1"]]

    async def rebinding(host: str, port: int) -> list[str]:
        return answers.pop(0)

    policy = TargetPolicy(resolver=rebinding)
    assert check(policy, "http://rebind.example.com/").address == "93.184.216.34"
    with pytest.raises(TargetRefused, match="loopback"):
        check(policy, "http://rebind.example.com/")


def test_user_info_is_never_shown_back() -> None:
    assert redact("https://ops:s3cret@erp.example.com/h") == "https://***@erp.example.com/h"
    assert redact("https://erp.example.com/h") == "https://erp.example.com/h"
    t = check(TargetPolicy(resolver=fake), "https://ops:s3cret@erp.example.com/h")
    assert t.url == "https://ops:s3cret@93.184.216.34/h"  # still sent, as basic auth


def test_an_invalid_allowed_network_is_refused() -> None:
    with pytest.raises(ValueError):
        TargetPolicy(["10.0.0.0/33"])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60) | st.text(max_size=60).map(lambda t: "http://" + t))
def test_any_text_is_a_target_or_a_refusal_never_an_error(url: str) -> None:
    """What an integrator may send as a URL: checked or refused, never a 500."""
    with contextlib.suppress(TargetRefused):
        check(TargetPolicy(resolver=fake), url)
    redact(url)  # never raises either
