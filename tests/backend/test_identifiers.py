"""Tests for backend.identifiers (pure module, no Django needed)."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from backend.identifiers import (
    HASH_LENGTHS,
    IdentifierKind,
    InvalidIdentifier,
    Normalised,
    normalise,
)

K = IdentifierKind


def fw(text: str) -> str:
    """Full-width form of printable ASCII (spaces become ideographic spaces)."""
    return "".join(
        "\u3000" if ch == " " else chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text
    )


MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
SHA512 = (
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
)


def assert_invalid(kind: IdentifierKind, raw: str, *, qualifier: str = "", **kwargs) -> str:
    """Assert that normalising fails with a well-formed InvalidIdentifier; return the reason."""
    with pytest.raises(InvalidIdentifier) as info:
        normalise(kind, raw, qualifier=qualifier, **kwargs)
    exc = info.value
    assert isinstance(exc, ValueError)
    assert exc.kind is kind
    assert exc.raw == raw
    assert exc.reason
    message = str(exc)
    assert kind.label in message
    if len(raw) <= 80:
        assert message == f"Invalid {kind.label} {raw!r}: {exc.reason}"
    return exc.reason


# ----------------------------------------------------------------------------------------------
# API surface


def test_public_api():
    import backend.identifiers as module

    assert sorted(module.__all__) == [
        "HASH_LENGTHS",
        "IdentifierKind",
        "InvalidIdentifier",
        "Normalised",
        "normalise",
    ]
    assert HASH_LENGTHS == {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
    assert [k.value for k in IdentifierKind] == [
        "EMAIL",
        "USERNAME",
        "PHONE",
        "IP_ADDRESS",
        "URL",
        "DOMAIN",
        "FILE_HASH",
        "PAYMENT_ACCOUNT",
        "DEVICE_ID",
        "PASSPORT",
    ]
    assert IdentifierKind.EMAIL == "EMAIL"
    assert isinstance(IdentifierKind.URL, str)


@pytest.mark.parametrize(
    ("kind", "label"),
    [
        (K.EMAIL, "e-mail address"),
        (K.USERNAME, "username"),
        (K.PHONE, "phone number"),
        (K.IP_ADDRESS, "IP address"),
        (K.URL, "URL"),
        (K.DOMAIN, "domain name"),
        (K.FILE_HASH, "file hash"),
        (K.PAYMENT_ACCOUNT, "payment account"),
        (K.DEVICE_ID, "device ID"),
        (K.PASSPORT, "passport number"),
    ],
)
def test_labels(kind, label):
    assert kind.label == label


def test_normalised_is_frozen_and_slotted():
    result = normalise(K.DOMAIN, "example.com")
    assert result == Normalised(K.DOMAIN, "example.com", "example.com", "")
    assert not hasattr(result, "__dict__")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.value = "other.com"  # type: ignore[misc]
    assert hash(result) == hash(Normalised(K.DOMAIN, "example.com", "example.com", ""))


@pytest.mark.parametrize("kind", ["EMAIL", "email", " Email ", K.EMAIL])
def test_kind_accepts_enum_or_string(kind):
    result = normalise(kind, "A@Example.com")
    assert result.kind is K.EMAIL
    assert result.value == "a@example.com"


@pytest.mark.parametrize("kind", ["ip_address", "IP-ADDRESS", "ip address"])
def test_kind_string_separators(kind):
    assert normalise(kind, "1.2.3.4").kind is K.IP_ADDRESS


@pytest.mark.parametrize("kind", ["", "MAC", "e-mail address", "EMAILS", None, 3])
def test_unknown_kind_is_plain_value_error(kind):
    with pytest.raises(ValueError) as info:
        normalise(kind, "whatever")  # type: ignore[arg-type]
    assert not isinstance(info.value, InvalidIdentifier)
    message = str(info.value)
    assert "Unknown identifier kind" in message
    assert repr(kind) in message
    for allowed in IdentifierKind:
        assert allowed.value in message


@pytest.mark.parametrize("kind", list(IdentifierKind))
@pytest.mark.parametrize("raw", ["", "   ", "\t\n", "\u200b", " \ufeff "])
def test_empty_raw(kind, raw):
    assert assert_invalid(kind, raw, qualifier="platform") == "empty"


@pytest.mark.parametrize("kind", list(IdentifierKind))
def test_none_raw(kind):
    with pytest.raises(InvalidIdentifier) as info:
        normalise(kind, None)  # type: ignore[arg-type]
    assert info.value.kind is kind
    assert info.value.raw == ""
    assert info.value.reason == "empty"
    assert str(info.value) == f"Invalid {kind.label} '': empty"


def test_non_string_raw_is_type_error():
    with pytest.raises(TypeError):
        normalise(K.PHONE, 2025550143)  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", list(IdentifierKind))
@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b", "\n", "\x7f", "\x85"])
def test_control_characters_rejected(kind, bad):
    raw = f"abcd{bad}efgh"
    reason = assert_invalid(kind, raw, qualifier="platform")
    assert reason == f"contains control character U+{ord(bad):04X}"


@pytest.mark.parametrize("kind", list(IdentifierKind))
@pytest.mark.parametrize("bad", ["\u200b", "\u202e", "\u00ad"])
def test_invisible_format_characters_rejected(kind, bad):
    raw = f"abcd{bad}efgh"
    reason = assert_invalid(kind, raw, qualifier="platform")
    assert reason == f"contains invisible formatting character U+{ord(bad):04X}"


@pytest.mark.parametrize(
    ("kind", "raw", "limit"),
    [
        (K.EMAIL, "a" * 300 + "@" + "b" * 20 + ".com", 320),
        (K.URL, "http://example.com/" + "a" * 2030, 2048),
        (K.USERNAME, "u" * 2049, 2048),
        (K.DEVICE_ID, "1" * 5000, 2048),
        (K.DOMAIN, "a." * 1025, 2048),
    ],
)
def test_overlong_input(kind, raw, limit):
    reason = assert_invalid(kind, raw, qualifier="x")
    assert reason == f"is too long ({len(raw)} characters, maximum {limit})"


def test_message_truncates_long_values():
    raw = "x" * 500
    with pytest.raises(InvalidIdentifier) as info:
        normalise(K.DEVICE_ID, raw)
    message = str(info.value)
    assert message == (f"Invalid device ID {'x' * 80!r}...: is too long (maximum 128 characters)")
    assert info.value.raw == raw  # the full value is kept on the exception


def test_message_reprs_value_safely():
    raw = "it's\u202e"
    with pytest.raises(InvalidIdentifier) as info:
        normalise(K.USERNAME, raw, qualifier="x")
    assert str(info.value) == (
        'Invalid username "it\'s\\u202e": contains invisible formatting character U+202E'
    )


def test_invalid_identifier_constructor_and_pickle():
    exc = InvalidIdentifier(K.EMAIL, "foo@", "missing domain")
    assert str(exc) == "Invalid e-mail address 'foo@': missing domain"
    assert (exc.kind, exc.raw, exc.reason) == (K.EMAIL, "foo@", "missing domain")
    assert isinstance(exc, ValueError)
    clone = pickle.loads(pickle.dumps(exc))
    assert (clone.kind, clone.raw, clone.reason) == (K.EMAIL, "foo@", "missing domain")
    assert str(clone) == str(exc)
    assert str(InvalidIdentifier("PHONE", "x", "bad")) == "Invalid phone number 'x': bad"


# ----------------------------------------------------------------------------------------------
# EMAIL


@pytest.mark.parametrize(
    ("raw", "value", "canonical"),
    [
        ("user@example.com", "user@example.com", "user@example.com"),
        ("  User.Name@Example.COM  ", "user.name@example.com", "user.name@example.com"),
        ("John.Doe+Tips@GMAIL.com", "john.doe+tips@gmail.com", "johndoe@gmail.com"),
        ("j.o.h.n@googlemail.com", "j.o.h.n@googlemail.com", "john@gmail.com"),
        ("john+a+b@googlemail.com", "john+a+b@googlemail.com", "john@gmail.com"),
        ("+only@gmail.com", "+only@gmail.com", "+only@gmail.com"),
        ("alice+x@outlook.com", "alice+x@outlook.com", "alice@outlook.com"),
        ("alice+x@hotmail.com", "alice+x@hotmail.com", "alice@hotmail.com"),
        ("alice+x@live.com", "alice+x@live.com", "alice@live.com"),
        ("a.b+x@icloud.com", "a.b+x@icloud.com", "a.b@icloud.com"),
        ("alice+x@me.com", "alice+x@me.com", "alice@me.com"),
        ("alice+x@protonmail.com", "alice+x@protonmail.com", "alice@protonmail.com"),
        ("alice+x@proton.me", "alice+x@proton.me", "alice@proton.me"),
        ("alice+x@fastmail.com", "alice+x@fastmail.com", "alice@fastmail.com"),
        ("alice-news@yahoo.com", "alice-news@yahoo.com", "alice@yahoo.com"),
        ("alice+news@yahoo.com", "alice+news@yahoo.com", "alice+news@yahoo.com"),
        ("a.b+c@example.org", "a.b+c@example.org", "a.b+c@example.org"),
        ("a.b-c@outlook.com", "a.b-c@outlook.com", "a.b-c@outlook.com"),
        ("user@bücher.example", "user@xn--bcher-kva.example", "user@xn--bcher-kva.example"),
        ("user@BÜCHER.Example", "user@xn--bcher-kva.example", "user@xn--bcher-kva.example"),
        ("user@xn--BCHER-kva.example", "user@xn--bcher-kva.example", "user@xn--bcher-kva.example"),
        ("user@example.com.", "user@example.com", "user@example.com"),
        ("Ünïcode@example.com", "ünïcode@example.com", "ünïcode@example.com"),
        ("STRASSE@example.com", "strasse@example.com", "strasse@example.com"),
        ("Straße@example.com", "strasse@example.com", "strasse@example.com"),
        (fw("user@example.com"), "user@example.com", "user@example.com"),
        ("mailto:User@Example.com", "user@example.com", "user@example.com"),
        ("o'brien!#$%&*/=?^_`{|}~@example.com", "o'brien!#$%&*/=?^_`{|}~@example.com", None),
        ("user@sub.domain.example.co.uk", "user@sub.domain.example.co.uk", None),
        ("user@example[.]com", "user@example.com", None),
    ],
)
def test_email_valid(raw, value, canonical):
    result = normalise(K.EMAIL, raw)
    assert result == Normalised(K.EMAIL, value, canonical or value, "")


def test_email_qualifier_is_ignored():
    assert normalise(K.EMAIL, "a@example.com", qualifier="work").qualifier == ""


def test_email_local_part_of_64_is_allowed():
    assert normalise(K.EMAIL, "a" * 64 + "@example.com").value == "a" * 64 + "@example.com"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("foo@", "missing domain"),
        ("@example.com", "missing local part"),
        ("foo", "missing '@'"),
        ("foo.example.com", "missing '@'"),
        ("a@b@example.com", "must contain exactly one '@'"),
        ('"a@b"@example.com', "must contain exactly one '@'"),
        ("a" * 65 + "@example.com", "local part is longer than 64 characters"),
        ("a b@example.com", "local part must not contain whitespace"),
        ("a<b@example.com", "local part contains invalid character '<'"),
        ("a,b@example.com", "local part contains invalid character ','"),
        (".ab@example.com", "local part must not start or end with '.' or contain '..'"),
        ("ab.@example.com", "local part must not start or end with '.' or contain '..'"),
        ("a..b@example.com", "local part must not start or end with '.' or contain '..'"),
        ("user@localhost", "invalid domain: must have at least two labels (e.g. 'example.com')"),
        ("user@example..com", "invalid domain: contains an empty label"),
        ("user@-example.com", "invalid domain: label '-example' must not start or end with '-'"),
        (
            "user@exa_mple.com",
            "invalid domain: label 'exa_mple' contains invalid characters (allowed: a-z, 0-9, '-')",
        ),
        ("user@[1.2.3.4]", "domain literals ([IP address]) are not supported"),
        ("user@1.2.3.4", "invalid domain: is an IP address, not a domain name"),
        ("user@example.123", "invalid domain: top-level domain must not be all-numeric"),
        ("user@exa mple.com", "domain must not contain whitespace"),
        (
            "user@example.com:25",
            "invalid domain: must not contain ':' "
            "(give the bare domain name without scheme or port)",
        ),
        ("Name <user@example.com>", "local part must not contain whitespace"),
    ],
)
def test_email_invalid(raw, reason):
    assert assert_invalid(K.EMAIL, raw) == reason


# ----------------------------------------------------------------------------------------------
# USERNAME


@pytest.mark.parametrize(
    ("raw", "qualifier", "value", "platform"),
    [
        ("@JohnDoe", "Twitter", "johndoe", "x"),
        ("JohnDoe", "twitter.com", "johndoe", "x"),
        ("johndoe", "X", "johndoe", "x"),
        ("  Some.User_99  ", " Instagram ", "some.user_99", "instagram"),
        ("some.user", "IG", "some.user", "instagram"),
        ("some.user", "insta", "some.user", "instagram"),
        ("Zuck", "FB", "zuck", "facebook"),
        ("Zuck", "facebook", "zuck", "facebook"),
        ("Name#1234", "Discord", "name#1234", "discord"),
        ("@Name#1234", "discordapp", "name#1234", "discord"),
        ("Gamer", "Xbox   Live", "gamer", "xbox live"),
        ("ÜBERUSER", "tiktok", "überuser", "tiktok"),
        ("Straße", "tiktok", "strasse", "tiktok"),
        (fw("FullWidth"), "kik", "fullwidth", "kik"),
        (fw("@handle"), "telegram", "handle", "telegram"),
        ("handle", "TG", "handle", "telegram"),
        ("handle", "t.me", "handle", "telegram"),
        ("Σίσυφος", "snapchat", "σίσυφοσ", "snapchat"),
        ("u", "reddit", "u", "reddit"),
        ("a" * 100, "roblox", "a" * 100, "roblox"),
        ("emoji😀", "snap", "emoji😀", "snapchat"),
    ],
)
def test_username_valid(raw, qualifier, value, platform):
    assert normalise(K.USERNAME, raw, qualifier=qualifier) == Normalised(
        K.USERNAME, value, value, platform
    )


@pytest.mark.parametrize(
    ("raw", "qualifier", "reason"),
    [
        ("johndoe", "", "a platform (qualifier) is required for usernames"),
        ("johndoe", "   ", "a platform (qualifier) is required for usernames"),
        ("@", "x", "empty after removing the leading '@'"),
        ("@@johndoe", "x", "must not start with more than one '@'"),
        ("john doe", "x", "must not contain whitespace"),
        ("john\u3000doe", "x", "must not contain whitespace"),
        ("a" * 101, "x", "is longer than 100 characters"),
        ("johndoe", "x\x00", "qualifier contains control character U+0000"),
        ("johndoe", "p" * 65, "qualifier is too long (maximum 64 characters)"),
    ],
)
def test_username_invalid(raw, qualifier, reason):
    assert assert_invalid(K.USERNAME, raw, qualifier=qualifier) == reason


def test_username_missing_platform_default_qualifier():
    with pytest.raises(InvalidIdentifier) as info:
        normalise(K.USERNAME, "johndoe")
    assert "platform" in str(info.value)
    assert info.value.kind is K.USERNAME


# ----------------------------------------------------------------------------------------------
# PHONE


@pytest.mark.parametrize(
    ("raw", "region", "value"),
    [
        ("+1 202-555-0143", "US", "+12025550143"),
        ("+1 (202) 555-0143", "US", "+12025550143"),
        ("(202) 555-0143", "US", "+12025550143"),
        ("202.555.0143", "US", "+12025550143"),
        ("2025550143", "US", "+12025550143"),
        ("1-202-555-0143", "US", "+12025550143"),
        ("011 44 7700 900123", "US", "+447700900123"),
        ("+44 7700 900123", "US", "+447700900123"),
        ("+44 (0)7700 900123", "US", "+447700900123"),
        ("0044 7700 900123", "US", "+447700900123"),
        ("00447700900123", "US", "+447700900123"),
        ("07700 900123", "GB", "+447700900123"),
        ("07700 900123", "gb", "+447700900123"),
        ("0044 7700 900123", "GB", "+447700900123"),
        ("0011 44 7700 900123", "AU", "+447700900123"),
        ("+33 6 12 34 56 78", "US", "+33612345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+39 06 1234 5678", "US", "+390612345678"),
        ("+49 30/1234567", "US", "+49301234567"),
        (fw("+1 202 555 0143"), "US", "+12025550143"),
        ("+1\u2011202\u2011555\u20110143", "US", "+12025550143"),
        ("tel:+1-202-555-0143", "US", "+12025550143"),
        ("+1 202 555 0143", "", "+12025550143"),
        ("  +12025550143  ", "US", "+12025550143"),
    ],
)
def test_phone_valid(raw, region, value):
    assert normalise(K.PHONE, raw, default_region=region) == Normalised(K.PHONE, value, value, "")


def test_phone_default_region_is_us():
    assert normalise(K.PHONE, "202 555 0143").value == "+12025550143"


@pytest.mark.parametrize(
    ("raw", "region", "reason"),
    [
        ("1-800-FLOWERS", "US", "must not contain letters (vanity numbers are not supported)"),
        (
            "+1 202 555 0143 ext 12",
            "US",
            "must not contain letters (vanity numbers are not supported)",
        ),
        ("+1 202 555 0143#12", "US", "contains invalid character '#'"),
        ("+1 202 555 0143;ext=12", "US", "contains invalid character ';'"),
        ("1+202 555 0143", "US", "'+' is only allowed at the start"),
        ("++1 202 555 0143", "US", "'+' is only allowed at the start"),
        ("+", "US", "contains no digits"),
        ("---", "US", "contains no digits"),
        ("555-0143", "US", "not a possible phone number (local number without area code)"),
        ("12", "US", "not a possible phone number (too short)"),
        ("+1 202 555 01430000", "US", "not a possible phone number (too long)"),
        ("+999 1234 5678", "US", "invalid or missing country code"),
        ("202 555 0143", "", "missing country code (no '+' prefix and no default region)"),
        ("+44 7700 9001", "US", "not a possible phone number (local number without area code)"),
        ("+44 770", "US", "not a possible phone number (too short)"),
        ("(0)0917 32", "AU", "not a possible phone number (invalid leading zero)"),
        ("00084 875655", "GB", "not a possible phone number (invalid leading zero)"),
    ],
)
def test_phone_invalid(raw, region, reason):
    assert assert_invalid(K.PHONE, raw, default_region=region) == reason


def test_phone_unknown_default_region_is_plain_value_error():
    with pytest.raises(ValueError, match="default_region") as info:
        normalise(K.PHONE, "202 555 0143", default_region="XX")
    assert not isinstance(info.value, InvalidIdentifier)


# ----------------------------------------------------------------------------------------------
# IP_ADDRESS


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("  10.0.0.255 ", "10.0.0.255"),
        ("0.0.0.0", "0.0.0.0"),
        ("255.255.255.255", "255.255.255.255"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("[192.0.2.1]", "192.0.2.1"),
        ("::1", "::1"),
        ("::", "::"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::FFFF:102:304", "1.2.3.4"),
        ("[::ffff:192.0.2.128]", "192.0.2.128"),
        ("fe80::1", "fe80::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        (fw("192.0.2.1"), "192.0.2.1"),
    ],
)
def test_ip_valid(raw, value):
    assert normalise(K.IP_ADDRESS, raw) == Normalised(K.IP_ADDRESS, value, value, "")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("01.2.3.4", "not a valid IPv4 or IPv6 address"),
        ("192.168.001.1", "not a valid IPv4 or IPv6 address"),
        ("256.1.1.1", "not a valid IPv4 or IPv6 address"),
        ("1.2.3", "not a valid IPv4 or IPv6 address"),
        ("1.2.3.4.5", "not a valid IPv4 or IPv6 address"),
        ("0x7f.0.0.1", "not a valid IPv4 or IPv6 address"),
        ("2130706433", "not a valid IPv4 or IPv6 address"),
        ("example.com", "not a valid IPv4 or IPv6 address"),
        ("2001:db8::g", "not a valid IPv4 or IPv6 address"),
        ("1.2.3.4:80", "not a valid IPv4 or IPv6 address"),
        ("[2001:db8::1]:443", "not a valid IPv4 or IPv6 address"),
        ("fe80::1%eth0", "scoped addresses (zone IDs) are not allowed"),
        ("[fe80::1%25eth0]", "scoped addresses (zone IDs) are not allowed"),
        ("10.0.0.0/8", "networks (CIDR notation) are not allowed; give a single address"),
        ("2001:db8::/32", "networks (CIDR notation) are not allowed; give a single address"),
        ("1.2.3.4 5", "not a valid IPv4 or IPv6 address"),
    ],
)
def test_ip_invalid(raw, reason):
    assert assert_invalid(K.IP_ADDRESS, raw) == reason


# ----------------------------------------------------------------------------------------------
# URL


@pytest.mark.parametrize(
    ("raw", "value", "canonical"),
    [
        ("http://example.com", "http://example.com/", "example.com/"),
        ("HTTP://EXAMPLE.COM/", "http://example.com/", "example.com/"),
        (
            "https://www.Example.com/a/b?x=1",
            "https://www.example.com/a/b?x=1",
            "example.com/a/b?x=1",
        ),
        ("example.com/x", "http://example.com/x", "example.com/x"),
        ("www.example.com", "http://www.example.com/", "example.com/"),
        ("example.com:8080/x", "http://example.com:8080/x", "example.com:8080/x"),
        ("//example.com/x", "http://example.com/x", "example.com/x"),
        ("http://example.com:80/", "http://example.com/", "example.com/"),
        ("https://example.com:443/", "https://example.com/", "example.com/"),
        ("ftp://example.com:21/pub", "ftp://example.com/pub", "example.com/pub"),
        ("ftps://example.com:990/pub", "ftps://example.com/pub", "example.com/pub"),
        ("https://example.com:80/", "https://example.com:80/", "example.com:80/"),
        ("http://example.com:443/", "http://example.com:443/", "example.com:443/"),
        ("http://example.com:08080/", "http://example.com:8080/", "example.com:8080/"),
        ("http://example.com:/", "http://example.com/", "example.com/"),
        ("http://user:pass@example.com/", "http://example.com/", "example.com/"),
        ("http://user@www.example.com/", "http://www.example.com/", "example.com/"),
        ("http://example.com/a/./b/../c", "http://example.com/a/c", "example.com/a/c"),
        ("http://example.com/a/b/..", "http://example.com/a/", "example.com/a/"),
        ("http://example.com/a/b/.", "http://example.com/a/b/", "example.com/a/b/"),
        ("http://example.com/../../a", "http://example.com/a", "example.com/a"),
        ("http://example.com/a//b/../c", "http://example.com/a//c", "example.com/a//c"),
        ("http://example.com/%2e%2E/a/%2e/b", "http://example.com/a/b", "example.com/a/b"),
        ("http://example.com/%7euser", "http://example.com/~user", "example.com/~user"),
        ("http://example.com/%41%62%2d%5F", "http://example.com/Ab-_", "example.com/Ab-_"),
        ("http://example.com/a%2fb%3a", "http://example.com/a%2Fb%3A", "example.com/a%2Fb%3A"),
        ("http://example.com/a b", "http://example.com/a%20b", "example.com/a%20b"),
        ("http://example.com/caf\u00e9", "http://example.com/caf%C3%A9", "example.com/caf%C3%A9"),
        ("http://example.com/cafe\u0301", "http://example.com/caf%C3%A9", "example.com/caf%C3%A9"),
        ("http://example.com/100%", "http://example.com/100%25", "example.com/100%25"),
        ("http://example.com/%zz", "http://example.com/%25zz", "example.com/%25zz"),
        ("http://example.com/a?", "http://example.com/a", "example.com/a"),
        ("http://example.com?b=2&a=1", "http://example.com/?b=2&a=1", "example.com/?b=2&a=1"),
        ("http://example.com/?q=a%2bb+c", "http://example.com/?q=a%2Bb+c", None),
        ("http://example.com/?q=%7e/x?y", "http://example.com/?q=~/x?y", None),
        ("http://example.com/?q=a b", "http://example.com/?q=a%20b", None),
        ("http://example.com/a#frag", "http://example.com/a", "example.com/a"),
        ("http://example.com/a?x=1#frag?y", "http://example.com/a?x=1", "example.com/a?x=1"),
        ("http://example.com#", "http://example.com/", "example.com/"),
        ("http://Example.COM./a", "http://example.com/a", "example.com/a"),
        ("http://bücher.example/", "http://xn--bcher-kva.example/", "xn--bcher-kva.example/"),
        (
            "https://www.BÜCHER.example",
            "https://www.xn--bcher-kva.example/",
            "xn--bcher-kva.example/",
        ),
        ("http://192.0.2.1:8080/x", "http://192.0.2.1:8080/x", "192.0.2.1:8080/x"),
        ("192.0.2.1/x", "http://192.0.2.1/x", "192.0.2.1/x"),
        ("http://[2001:DB8::1]/", "http://[2001:db8::1]/", "[2001:db8::1]/"),
        ("http://[2001:db8::1]:8443/a", "http://[2001:db8::1]:8443/a", "[2001:db8::1]:8443/a"),
        ("http://[::ffff:192.0.2.1]/", "http://192.0.2.1/", "192.0.2.1/"),
        ("hxxps://evil[.]example[.]com/x", "https://evil.example.com/x", "evil.example.com/x"),
        ("http://www.com/", "http://www.com/", "www.com/"),
        ("https://t.me/joinchat/AbCd", "https://t.me/joinchat/AbCd", "t.me/joinchat/AbCd"),
        (
            "http://example.com/a;p=1/b:c@d!$&'()*+,=",
            "http://example.com/a;p=1/b:c@d!$&'()*+,=",
            None,
        ),
    ],
)
def test_url_valid(raw, value, canonical):
    assert value.startswith("http://") or canonical is not None
    assert normalise(K.URL, raw) == Normalised(K.URL, value, canonical or value[7:], "")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            "mailto:user@example.com",
            "unsupported scheme 'mailto' (allowed: http, https, ftp, ftps)",
        ),
        (
            "javascript:alert(1)",
            "unsupported scheme 'javascript' (allowed: http, https, ftp, ftps)",
        ),
        ("file:///etc/passwd", "unsupported scheme 'file' (allowed: http, https, ftp, ftps)"),
        ("ws://example.com/", "unsupported scheme 'ws' (allowed: http, https, ftp, ftps)"),
        ("http:example.com", "missing '//' after 'http:'"),
        ("http://", "missing host"),
        ("http:///path", "missing host"),
        ("http://:80/", "missing host"),
        ("user@example.com", "looks like an e-mail address, not a URL"),
        ("http://localhost/", "invalid host: must have at least two labels (e.g. 'example.com')"),
        ("http://exa mple.com/", "host must not contain whitespace"),
        (
            "http://exa_mple.com/",
            "invalid host: label 'exa_mple' contains invalid characters (allowed: a-z, 0-9, '-')",
        ),
        ("http://*.example.com/", "invalid host: wildcard domains are not allowed"),
        ("http://example.com:abc/", "invalid port 'abc'"),
        ("http://example.com:0/", "port 0 out of range (1-65535)"),
        ("http://example.com:65536/", "port 65536 out of range (1-65535)"),
        ("http://999.1.1.1/", "invalid IPv4 address in host"),
        ("http://01.2.3.4/", "invalid IPv4 address in host"),
        ("http://1.2.3/", "invalid IPv4 address in host"),
        ("http://[2001:db8::1/", "unterminated IPv6 literal"),
        ("http://[2001:db8::1]x/", "unexpected characters after IPv6 literal"),
        ("http://[not-ipv6]/", "invalid IPv6 literal in host"),
        ("http://[192.0.2.1]/", "invalid IPv6 literal in host"),
        ("http://[fe80::1%25eth0]/", "scoped IPv6 addresses (zone IDs) are not allowed"),
        ("http://2001:db8::1/", "IPv6 addresses in URLs must be enclosed in brackets"),
        ("http://example.com/" + "%" * 700, "is longer than 2048 characters after normalisation"),
    ],
)
def test_url_invalid(raw, reason):
    assert assert_invalid(K.URL, raw) == reason


# ----------------------------------------------------------------------------------------------
# DOMAIN


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("example.com", "example.com"),
        ("  Example.COM.  ", "example.com"),
        ("sub.example.co.uk", "sub.example.co.uk"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER.EXAMPLE", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.Example", "xn--bcher-kva.example"),
        ("例え.テスト", "xn--r8jz45g.xn--zckzah"),
        ("例え。テスト", "xn--r8jz45g.xn--zckzah"),
        (fw("example.com"), "example.com"),
        ("straße.de", "strasse.de"),
        ("a-b.example", "a-b.example"),
        ("a--b.example", "a--b.example"),
        ("123.example", "123.example"),
        ("x.y", "x.y"),
        ("example[.]com", "example.com"),
        ("a" * 63 + ".com", "a" * 63 + ".com"),
        (".".join(["a" * 62] * 4), ".".join(["a" * 62] * 4)),
    ],
)
def test_domain_valid(raw, value):
    assert normalise(K.DOMAIN, raw) == Normalised(K.DOMAIN, value, value, "")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("localhost", "must have at least two labels (e.g. 'example.com')"),
        ("com.", "must have at least two labels (e.g. 'example.com')"),
        ("*.example.com", "wildcard domains are not allowed"),
        ("example.com/path", "must not contain '/' (give the bare domain name, not a URL)"),
        ("http://example.com", "must not contain '/' (give the bare domain name, not a URL)"),
        (
            "example.com:8080",
            "must not contain ':' (give the bare domain name without scheme or port)",
        ),
        ("2001:db8::1", "is an IP address, not a domain name"),
        ("192.0.2.1", "is an IP address, not a domain name"),
        ("1.2.3.999", "top-level domain must not be all-numeric"),
        ("example.123", "top-level domain must not be all-numeric"),
        ("example..com", "contains an empty label"),
        (".example.com", "contains an empty label"),
        ("example.com..", "contains an empty label"),
        ("-example.com", "label '-example' must not start or end with '-'"),
        ("example-.com", "label 'example-' must not start or end with '-'"),
        ("exa_mple.com", "label 'exa_mple' contains invalid characters (allowed: a-z, 0-9, '-')"),
        ("exa mple.com", "label 'exa mple' contains invalid characters (allowed: a-z, 0-9, '-')"),
        (
            "user@example.com",
            "label 'user@example' contains invalid characters (allowed: a-z, 0-9, '-')",
        ),
        ("a" * 64 + ".com", f"label {'a' * 64!r} is longer than 63 characters"),
        (".".join(["a" * 63] * 4), "is longer than 253 characters"),
        ("xn--abc-.com", "label 'xn--abc-' is not valid punycode"),
        ("xn--zz.com", "label 'xn--zz' is not valid punycode"),
        ("a\u05d0.com", "label 'a\u05d0' cannot be IDNA-encoded"),
    ],
)
def test_domain_invalid(raw, reason):
    assert assert_invalid(K.DOMAIN, raw) == reason


# ----------------------------------------------------------------------------------------------
# FILE_HASH


@pytest.mark.parametrize(
    ("raw", "qualifier", "value", "algorithm"),
    [
        (MD5, "", MD5, "md5"),
        (MD5.upper(), "", MD5, "md5"),
        (f"  {MD5}  ", "", MD5, "md5"),
        (SHA1, "", SHA1, "sha1"),
        (SHA256, "", SHA256, "sha256"),
        (SHA512, "", SHA512, "sha512"),
        (f"MD5:{MD5}", "", MD5, "md5"),
        (f"sha1:{SHA1.upper()}", "", SHA1, "sha1"),
        (f"SHA256:{SHA256}", "", SHA256, "sha256"),
        (f"Sha512: {SHA512}", "", SHA512, "sha512"),
        (f"sha-256:{SHA256}", "", SHA256, "sha256"),
        (MD5, "MD5", MD5, "md5"),
        (SHA256, " SHA-256 ", SHA256, "sha256"),
        (f"sha1:{SHA1}", "sha1", SHA1, "sha1"),
        (SHA1, "sha_1", SHA1, "sha1"),
    ],
)
def test_file_hash_valid(raw, qualifier, value, algorithm):
    assert normalise(K.FILE_HASH, raw, qualifier=qualifier) == Normalised(
        K.FILE_HASH, value, value, algorithm
    )


@pytest.mark.parametrize(
    ("raw", "qualifier", "reason"),
    [
        (MD5, "sha1", "sha1 hash must be 40 hex characters long, got 32"),
        (SHA256, "md5", "md5 hash must be 32 hex characters long, got 64"),
        (f"sha512:{SHA256}", "", "sha512 hash must be 128 hex characters long, got 64"),
        (f"md5:{MD5}", "sha1", "algorithm 'sha1' conflicts with prefix 'md5'"),
        (MD5, "crc32", "unsupported hash algorithm 'crc32' (supported: md5, sha1, sha256, sha512)"),
        (
            f"crc32:{MD5}",
            "",
            "unknown hash algorithm prefix 'crc32' (supported: md5, sha1, sha256, sha512)",
        ),
        ("md5:", "", "missing hash value"),
        (
            "abc",
            "",
            "length 3 does not match any supported algorithm "
            "(md5 32, sha1 40, sha256 64, sha512 128)",
        ),
        (
            MD5 + "0",
            "",
            "length 33 does not match any supported algorithm "
            "(md5 32, sha1 40, sha256 64, sha512 128)",
        ),
        ("g" * 32, "", "must be hexadecimal"),
        ("0x" + MD5[2:], "", "must be hexadecimal"),
        (MD5[:16] + " " + MD5[16:], "", "must be hexadecimal"),
    ],
)
def test_file_hash_invalid(raw, qualifier, reason):
    assert assert_invalid(K.FILE_HASH, raw, qualifier=qualifier) == reason


# ----------------------------------------------------------------------------------------------
# PAYMENT_ACCOUNT


@pytest.mark.parametrize(
    ("raw", "qualifier", "value", "provider"),
    [
        ("GB82 WEST 1234 5698 7654 32", "Barclays", "GB82WEST12345698765432", "barclays"),
        ("gb82-west-1234", "", "GB82WEST1234", ""),
        ("4111 1111 1111 1111", " VISA ", "4111111111111111", "visa"),
        ("abcd", "Cash  App", "ABCD", "cash app"),
        (fw("AB12"), "", "AB12", ""),
        ("a" * 64, "", "A" * 64, ""),
        ("12\u00a034", "", "1234", ""),
    ],
)
def test_payment_account_valid(raw, qualifier, value, provider):
    assert normalise(K.PAYMENT_ACCOUNT, raw, qualifier=qualifier) == Normalised(
        K.PAYMENT_ACCOUNT, value, value, provider
    )


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("abc", "is too short (minimum 4 characters)"),
        ("a-b c", "is too short (minimum 4 characters)"),
        ("a" * 65, "is too long (maximum 64 characters)"),
        ("$cashtag", "contains invalid character '$' (allowed: A-Z, 0-9)"),
        ("user@paypal.com", "contains invalid character '@' (allowed: A-Z, 0-9)"),
        ("ACCT_1234", "contains invalid character '_' (allowed: A-Z, 0-9)"),
        ("ÄBCD1234", "contains invalid character 'Ä' (allowed: A-Z, 0-9)"),
    ],
)
def test_payment_account_invalid(raw, reason):
    assert assert_invalid(K.PAYMENT_ACCOUNT, raw) == reason


# ----------------------------------------------------------------------------------------------
# DEVICE_ID


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("AA:BB:CC:DD:EE:FF", "aa:bb:cc:dd:ee:ff"),
        ("aa-bb-cc-dd-ee-ff", "aa-bb-cc-dd-ee-ff"),
        ("aabb.ccdd.eeff", "aabb.ccdd.eeff"),
        ("490154203237518", "490154203237518"),
        (
            "  123E4567-E89B-12D3-A456-426614174000 ",
            "123e4567-e89b-12d3-a456-426614174000",
        ),
        ("device_id_01", "device_id_01"),
        ("abcd", "abcd"),
        (fw("ABCD"), "abcd"),
        ("a" * 128, "a" * 128),
    ],
)
def test_device_id_valid(raw, value):
    assert normalise(K.DEVICE_ID, raw) == Normalised(K.DEVICE_ID, value, value, "")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("abc", "is too short (minimum 4 characters)"),
        ("a" * 129, "is too long (maximum 128 characters)"),
        ("aa bb cc", "contains invalid character ' ' (allowed: a-z, 0-9, ':', '.', '_', '-')"),
        ("imei/123456", "contains invalid character '/' (allowed: a-z, 0-9, ':', '.', '_', '-')"),
        ("gerät-1234", "contains invalid character 'ä' (allowed: a-z, 0-9, ':', '.', '_', '-')"),
    ],
)
def test_device_id_invalid(raw, reason):
    assert assert_invalid(K.DEVICE_ID, raw) == reason


# ----------------------------------------------------------------------------------------------
# PASSPORT


@pytest.mark.parametrize(
    ("raw", "qualifier", "value", "country"),
    [
        ("ab 123-4567", "gbr", "AB1234567", "GBR"),
        ("X1234567", "de", "X1234567", "DE"),
        ("  123456789 ", "", "123456789", ""),
        ("c01x00t47", " usa ", "C01X00T47", "USA"),
        ("12345", "", "12345", ""),
        ("A" * 20, "FR", "A" * 20, "FR"),
    ],
)
def test_passport_valid(raw, qualifier, value, country):
    assert normalise(K.PASSPORT, raw, qualifier=qualifier) == Normalised(
        K.PASSPORT, value, value, country
    )


@pytest.mark.parametrize(
    ("raw", "qualifier", "reason"),
    [
        ("1234", "", "is too short (minimum 5 characters)"),
        ("A" * 21, "", "is too long (maximum 20 characters)"),
        ("AB/123456", "", "contains invalid character '/' (allowed: A-Z, 0-9)"),
        ("AB1234567", "G", "issuing country 'G' must be an ISO 3166 alpha-2 or alpha-3 code"),
        ("AB1234567", "GBRX", "issuing country 'GBRX' must be an ISO 3166 alpha-2 or alpha-3 code"),
        ("AB1234567", "G1", "issuing country 'G1' must be an ISO 3166 alpha-2 or alpha-3 code"),
        (
            "AB1234567",
            "United Kingdom",
            "issuing country 'United Kingdom' must be an ISO 3166 alpha-2 or alpha-3 code",
        ),
    ],
)
def test_passport_invalid(raw, qualifier, reason):
    assert assert_invalid(K.PASSPORT, raw, qualifier=qualifier) == reason


# ----------------------------------------------------------------------------------------------
# qualifiers on kinds that do not use them


@pytest.mark.parametrize(
    ("kind", "raw"),
    [
        (K.EMAIL, "a@example.com"),
        (K.PHONE, "+12025550143"),
        (K.IP_ADDRESS, "1.2.3.4"),
        (K.URL, "http://example.com/"),
        (K.DOMAIN, "example.com"),
        (K.DEVICE_ID, "abcd"),
    ],
)
def test_unqualified_kinds_ignore_qualifier(kind, raw):
    assert normalise(kind, raw, qualifier="Something\x00Odd").qualifier == ""


# ----------------------------------------------------------------------------------------------
# idempotence

VALID_SAMPLES: list[tuple[IdentifierKind, str, str]] = [
    (K.EMAIL, "John.Doe+Tips@GMAIL.com", ""),
    (K.EMAIL, "Straße@BÜCHER.example.", ""),
    (K.EMAIL, "alice-news@yahoo.com", ""),
    (K.EMAIL, fw("user@example.com"), ""),
    (K.USERNAME, "@JohnDoe", "Twitter"),
    (K.USERNAME, "Name#1234", "Discord"),
    (K.USERNAME, "Σίσυφος", "Xbox   Live"),
    (K.USERNAME, "\ufb01nal", "ig"),
    (K.PHONE, "(202) 555-0143", ""),
    (K.PHONE, "0044 7700 900123", ""),
    (K.PHONE, "+39 06 1234 5678", ""),
    (K.IP_ADDRESS, "::FFFF:1.2.3.4", ""),
    (K.IP_ADDRESS, "[2001:0DB8::0001]", ""),
    (K.URL, "HTTP://User:pw@WWW.Example.COM:80/a/./b/../c/%7euser%2fx?q=a b#frag", ""),
    (K.URL, "example.com/caf\u00e9?", ""),
    (K.URL, "http://bücher.example:8080/%zz/100%", ""),
    (K.URL, "http://[::ffff:192.0.2.1]/", ""),
    (K.URL, "https://[2001:DB8::1]:443/x/../y", ""),
    (K.DOMAIN, "Bücher.Example.", ""),
    (K.DOMAIN, "例え。テスト", ""),
    (K.FILE_HASH, f"SHA1:{SHA1.upper()}", ""),
    (K.FILE_HASH, MD5, ""),
    (K.FILE_HASH, SHA512.upper(), "SHA-512"),
    (K.PAYMENT_ACCOUNT, "GB82 WEST 1234 5698 7654 32", "Barclays"),
    (K.DEVICE_ID, "AA:BB:CC:DD:EE:FF", ""),
    (K.PASSPORT, "ab 123-4567", "gbr"),
]


@pytest.mark.parametrize(("kind", "raw", "qualifier"), VALID_SAMPLES)
def test_idempotent(kind, raw, qualifier):
    first = normalise(kind, raw, qualifier=qualifier)
    second = normalise(kind, first.value, qualifier=first.qualifier)
    assert second == first
    # the string form of the kind works just as well
    assert normalise(kind.value.lower(), first.value, qualifier=first.qualifier) == first


@pytest.mark.parametrize(("kind", "raw", "qualifier"), VALID_SAMPLES)
def test_canonical_is_stable(kind, raw, qualifier):
    first = normalise(kind, raw, qualifier=qualifier)
    if kind is K.URL:
        # canonical drops the scheme; re-normalising it gives the http form of the same URL
        again = normalise(kind, first.canonical)
        assert again.canonical == first.canonical
    else:
        assert normalise(kind, first.canonical, qualifier=first.qualifier).canonical == (
            first.canonical
        )
