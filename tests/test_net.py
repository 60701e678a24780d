from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geofence.errors import AddressError, ConfigurationError
from geofence.net import Address, Normalizer, Via, normalize, parse_address, split_host

# (input, normalised text, original, via)
FORMS = [
    ("192.0.2.1", "192.0.2.1", "192.0.2.1", Via.DIRECT),
    ("2001:DB8::0:1", "2001:db8::1", "2001:db8::1", Via.DIRECT),
    ("::1", "::1", "::1", Via.DIRECT),
    ("::ffff:192.0.2.1", "192.0.2.1", "::ffff:192.0.2.1", Via.IPV4_MAPPED),
    ("::ffff:c000:201", "192.0.2.1", "::ffff:192.0.2.1", Via.IPV4_MAPPED),
    ("2002:c000:201::1", "192.0.2.1", "2002:c000:201::1", Via.SIXTOFOUR),
    ("2002:cb00:7107::", "203.0.113.7", "2002:cb00:7107::", Via.SIXTOFOUR),
    # RFC 4380 section 4 / the classic vector: client 192.0.2.45, port 40000, server 65.54.227.120.
    (
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "192.0.2.45",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        Via.TEREDO,
    ),
    ("2001::ffff:ffff", "0.0.0.0", "2001::ffff:ffff", Via.TEREDO),
    ("64:ff9b::192.0.2.33", "192.0.2.33", "64:ff9b::c000:221", Via.NAT64),
    ("64:ff9b:1:c000:2:2100::", "192.0.2.33", "64:ff9b:1:c000:2:2100::", Via.NAT64),
    # Not in any embedding prefix: stays IPv6.
    ("64:ff9b:2::c000:221", "64:ff9b:2::c000:221", "64:ff9b:2::c000:221", Via.DIRECT),
    ("2001:db8::c000:221", "2001:db8::c000:221", "2001:db8::c000:221", Via.DIRECT),
    # Brackets, ports and zone ids are stripped before parsing.
    ("[2001:db8::1]", "2001:db8::1", "2001:db8::1", Via.DIRECT),
    ("[2001:db8::1]:443", "2001:db8::1", "2001:db8::1", Via.DIRECT),
    ("192.0.2.1:8080", "192.0.2.1", "192.0.2.1", Via.DIRECT),
    ("192.0.2.1:65535", "192.0.2.1", "192.0.2.1", Via.DIRECT),
    ("fe80::1%eth0", "fe80::1", "fe80::1", Via.DIRECT),
    ("[fe80::1%25eth0]:80", "fe80::1", "fe80::1", Via.DIRECT),
    ("[::ffff:192.0.2.1]:80", "192.0.2.1", "::ffff:192.0.2.1", Via.IPV4_MAPPED),
]


@pytest.mark.parametrize(("text", "expected", "original", "via"), FORMS)
def test_normalisation_forms(text: str, expected: str, original: str, via: Via) -> None:
    address = normalize(text)
    assert (address.text, address.original, address.via) == (expected, original, via)
    assert address.version == (4 if "." in expected else 6)
    assert address.packed == socket.inet_pton(
        socket.AF_INET if address.version == 4 else socket.AF_INET6, expected
    )
    assert address.original_packed == parse_address(text)[1]


@pytest.mark.parametrize(("text", "_expected", "_original", "_via"), FORMS)
def test_normalising_the_text_again_is_idempotent(
    text: str, _expected: str, _original: str, _via: Via
) -> None:
    first = normalize(text)
    again = normalize(first.text)
    assert (again.text, again.via, again.original) == (first.text, Via.DIRECT, first.text)


# RFC 6052 section 2.4: 192.0.2.33 embedded under each prefix length.
RFC6052_EXAMPLES = [
    ("2001:db8::/32", "2001:db8:c000:221::"),
    ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
    ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
    ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
    ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100:0"),
    ("2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
]


@pytest.mark.parametrize(("prefix", "text"), RFC6052_EXAMPLES)
def test_configured_nat64_prefixes_follow_rfc6052(prefix: str, text: str) -> None:
    address = Normalizer([prefix]).normalize(text)
    assert (address.text, address.via) == ("192.0.2.33", Via.NAT64)
    # Without the configured prefix the same text is an ordinary IPv6 address.
    assert normalize(text).via is Via.DIRECT


def test_configured_longer_prefix_inside_a_shorter_one_is_read_at_its_own_length() -> None:
    normalizer = Normalizer(["2001:db8::/32", "2001:db8:122:344::/96"])
    assert normalizer.normalize("2001:db8:122:344::192.0.2.33").text == "192.0.2.33"
    assert normalizer.normalize("2001:db8:c000:221::").text == "192.0.2.33"


@pytest.mark.parametrize(
    "prefix",
    [
        "2001:db8::/33",  # not an RFC 6052 length
        "2001:db8::/128",
        "2001:db8::1/96",  # host bits set
        "192.0.2.0/24",  # not IPv6
        "nat64",
        "",
    ],
)
def test_invalid_nat64_configuration_is_a_configuration_error(prefix: str) -> None:
    with pytest.raises(ConfigurationError, match="NAT64 prefix"):
        Normalizer([prefix])


REJECTED = [
    "010.0.0.1",  # octal reading in some libraries
    "127.1",  # inet_aton shorthand
    "0x7f.0.0.1",
    "2130706433",
    "1.2.3.4:",  # empty port
    "1.2.3.4:0x50",
    "1.2.3.4:65536",
    "1.2.3.4:999999",
    "[::1]:65536",
    "[::1",
    "::1]",
    "[::1]x",
    "[1.2.3.4",
    " 1.2.3.4",
    "1.2.3.4 ",
    "1.2.3.4\n",
    "1.2. 3.4",
    "::1 ",
    "\u0661.2.3.4",  # Arabic-Indic digit one
    "\uff11.2.3.4",  # fullwidth digit one
    "1.2.3.4\x00",
    "\ud800",
    "",
    "1.2.3.4.5",
    "256.0.0.1",
    "::1::2",
    "fe80::1%",
    "1.2.3.4%eth0",  # a zone id needs IPv6
    "fe80::1%eth 0",
    "fe80::1%a,b",
    "unknown",
    "_hidden",
    "1" * 200,
    "1.2.3.4" + " " * 500,
    "::ffff:" + "1" * 10_000,
]


@pytest.mark.parametrize("text", REJECTED)
def test_rejected_forms_raise_address_error(text: str) -> None:
    with pytest.raises(AddressError):
        normalize(text)
    with pytest.raises(ValueError, match=r"."):  # AddressError is also a ValueError
        parse_address(text)


@pytest.mark.parametrize("value", [None, 1, b"1.2.3.4", ["1.2.3.4"]])
def test_non_str_input_raises_address_error(value: object) -> None:
    with pytest.raises(AddressError):
        parse_address(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("1.2.3.4:5678", "1.2.3.4"),
        ("fe80::1%eth0", "fe80::1"),
        ("2001:db8::1", "2001:db8::1"),  # a bare IPv6 address never has a port
        ("1.2.3.4", "1.2.3.4"),
    ],
)
def test_split_host(text: str, host: str) -> None:
    assert split_host(text) == host


@pytest.mark.parametrize(
    ("text", "family"),
    [("1.2.3.4", socket.AF_INET), ("[::1]:80", socket.AF_INET6), ("1.2.3.4:80", socket.AF_INET)],
)
def test_parse_address_does_not_normalise(text: str, family: int) -> None:
    assert parse_address(text)[0] == family
    assert len(parse_address("::ffff:1.2.3.4")[1]) == 16


def test_address_helpers() -> None:
    address = normalize("2002:c000:201::")
    assert address.value == 0xC0000201
    assert str(address.ip) == "192.0.2.1"
    assert address.original_packed == socket.inet_pton(socket.AF_INET6, "2002:c000:201::")
    assert isinstance(address, Address)


@given(st.binary(min_size=16, max_size=16))
def test_any_ipv6_address_normalises_and_round_trips(packed: bytes) -> None:
    text = socket.inet_ntop(socket.AF_INET6, packed)
    address = normalize(text)
    assert address.original == text
    assert normalize(f"[{text}]:1").text == address.text
    assert normalize(address.text).text == address.text


@given(st.text(max_size=60))
def test_arbitrary_text_either_parses_or_raises_address_error(text: str) -> None:
    try:
        address = normalize(text)
    except AddressError:
        return
    assert normalize(address.text).text == address.text
