"""Normalisation of identifiers found in tips (e-mail addresses, usernames, phone numbers, ...).

Every identifier is reduced to a :class:`Normalised` triple ``(kind, value, qualifier)`` that is
used as the exact matching key, plus a looser, provider-aware ``canonical`` form that can be used
to find probable matches (e.g. Gmail addresses with and without dots).

This module is deliberately pure: it depends only on the standard library and ``phonenumbers``
so that it can be used (and tested) without Django.

Normalisation is idempotent: feeding ``result.value`` (with ``qualifier=result.qualifier``) back
into :func:`normalise` yields the same result.
"""

from __future__ import annotations

import enum
import ipaddress
import re
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers

from backend.vocabulary import MAX_IDENTIFIER_VALUE, MAX_QUALIFIER

__all__ = ["HASH_LENGTHS", "IdentifierKind", "InvalidIdentifier", "Normalised", "normalise"]


class IdentifierKind(str, enum.Enum):  # noqa: UP042 - contract: str mixin, not StrEnum
    """The kinds of identifier that can be attached to a tip."""

    EMAIL = "EMAIL"
    USERNAME = "USERNAME"
    PHONE = "PHONE"
    IP_ADDRESS = "IP_ADDRESS"
    URL = "URL"
    DOMAIN = "DOMAIN"
    FILE_HASH = "FILE_HASH"
    PAYMENT_ACCOUNT = "PAYMENT_ACCOUNT"
    DEVICE_ID = "DEVICE_ID"
    PASSPORT = "PASSPORT"

    @property
    def label(self) -> str:
        """Human-readable label, e.g. ``"e-mail address"``."""
        return _KIND_LABELS[self]


_KIND_LABELS: dict[IdentifierKind, str] = {
    IdentifierKind.EMAIL: "e-mail address",
    IdentifierKind.USERNAME: "username",
    IdentifierKind.PHONE: "phone number",
    IdentifierKind.IP_ADDRESS: "IP address",
    IdentifierKind.URL: "URL",
    IdentifierKind.DOMAIN: "domain name",
    IdentifierKind.FILE_HASH: "file hash",
    IdentifierKind.PAYMENT_ACCOUNT: "payment account",
    IdentifierKind.DEVICE_ID: "device ID",
    IdentifierKind.PASSPORT: "passport number",
}

HASH_LENGTHS: dict[str, int] = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}


@dataclass(frozen=True, slots=True)
class Normalised:
    """A normalised identifier.

    ``(kind, value, qualifier)`` is the exact matching key; ``canonical`` is a looser,
    provider-aware form (equal to ``value`` for kinds that have no looser form).
    """

    kind: IdentifierKind
    value: str
    canonical: str
    qualifier: str


_MAX_SHOWN = 80


def _shown(raw: str) -> str:
    """A safe (repr'd, truncated) rendering of a raw value for messages."""
    if len(raw) > _MAX_SHOWN:
        return repr(raw[:_MAX_SHOWN]) + "..."
    return repr(raw)


class InvalidIdentifier(ValueError):
    """Raised when a raw value cannot be normalised as the requested kind."""

    def __init__(self, kind: IdentifierKind, raw: str, reason: str) -> None:
        kind = _coerce_kind(kind)
        raw = "" if raw is None else str(raw)
        self.kind = kind
        self.raw = raw
        self.reason = reason
        super().__init__(f"Invalid {kind.label} {_shown(raw)}: {reason}")

    def __reduce__(self):  # keep the exception picklable despite the custom signature
        return (type(self), (self.kind, self.raw, self.reason))


class _ReasonError(Exception):
    """Internal: carries just a reason; converted to InvalidIdentifier by normalise()."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --------------------------------------------------------------------------------------------
# helpers


def _coerce_kind(kind: IdentifierKind | str) -> IdentifierKind:
    if isinstance(kind, IdentifierKind):
        return kind
    if isinstance(kind, str):
        key = re.sub(r"[\s\-]+", "_", kind.strip()).upper()
        try:
            return IdentifierKind(key)
        except ValueError:
            pass
    allowed = ", ".join(k.value for k in IdentifierKind)
    raise ValueError(f"Unknown identifier kind {kind!r}; expected one of: {allowed}")


_MAX_LENGTH = MAX_IDENTIFIER_VALUE
_MAX_EMAIL_LENGTH = 320
_MAX_QUALIFIER_LENGTH = MAX_QUALIFIER
# invisible characters commonly picked up when copy-pasting; stripped at the edges only
_EDGE_INVISIBLES = "\ufeff\u200b\u200c\u200d\u2060"


def _strip(text: str) -> str:
    return text.strip().strip(_EDGE_INVISIBLES).strip()


def _check_characters(text: str) -> None:
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs"):
            raise _ReasonError(f"contains control character U+{ord(ch):04X}")
        if category == "Cf":
            raise _ReasonError(f"contains invisible formatting character U+{ord(ch):04X}")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _fold(text: str) -> str:
    """NFKC + case-fold, iterated to a fixed point so that the result is idempotent."""
    current = _nfkc(text)
    for _ in range(4):
        folded = _nfkc(current.casefold())
        if folded == current:
            break
        current = folded
    return current


def _clean_qualifier(qualifier: str | None) -> str:
    if qualifier is None:
        return ""
    if not isinstance(qualifier, str):
        raise TypeError(f"qualifier must be a string, not {type(qualifier).__name__}")
    text = _strip(qualifier)
    try:
        _check_characters(text)
    except _ReasonError as exc:
        raise _ReasonError(f"qualifier {exc.reason}") from None
    text = " ".join(_nfkc(text).split())
    if len(text) > _MAX_QUALIFIER_LENGTH:
        raise _ReasonError(f"qualifier is too long (maximum {_MAX_QUALIFIER_LENGTH} characters)")
    return text


def _char_name(ch: str) -> str:
    return repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}"


# --------------------------------------------------------------------------------------------
# domains


_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_LABEL_CHARS_RE = re.compile(r"[a-z0-9-]+")
_IDEOGRAPHIC_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def _domain_to_ascii(text: str) -> str:
    """Validate a domain name and return its lower-case ASCII (IDNA 2003 / punycode) form."""
    text = text.translate(_IDEOGRAPHIC_DOTS).replace("[.]", ".")
    if not text:
        raise _ReasonError("empty")
    try:
        ipaddress.ip_address(text.removesuffix("."))
    except ValueError:
        pass
    else:
        raise _ReasonError("is an IP address, not a domain name")
    if "/" in text:
        raise _ReasonError("must not contain '/' (give the bare domain name, not a URL)")
    if ":" in text:
        raise _ReasonError(
            "must not contain ':' (give the bare domain name without scheme or port)"
        )
    if text.startswith("*."):
        raise _ReasonError("wildcard domains are not allowed")
    if text.endswith("."):
        text = text[:-1]
    labels = text.split(".")
    out: list[str] = []
    for label in labels:
        if not label:
            raise _ReasonError("contains an empty label")
        label = label.lower()
        if label.isascii():
            if label.startswith("xn--"):
                try:
                    label.encode("ascii").decode("idna")
                except UnicodeError:
                    raise _ReasonError(f"label {label!r} is not valid punycode") from None
            ascii_label = label
        else:
            try:
                ascii_label = label.encode("idna").decode("ascii")
            except UnicodeError:
                raise _ReasonError(f"label {label!r} cannot be IDNA-encoded") from None
        if len(ascii_label) > 63:
            raise _ReasonError(f"label {label!r} is longer than 63 characters")
        if not _LABEL_CHARS_RE.fullmatch(ascii_label):
            raise _ReasonError(
                f"label {label!r} contains invalid characters (allowed: a-z, 0-9, '-')"
            )
        if not _LABEL_RE.fullmatch(ascii_label):
            raise _ReasonError(f"label {label!r} must not start or end with '-'")
        out.append(ascii_label)
    if len(out) < 2:
        raise _ReasonError("must have at least two labels (e.g. 'example.com')")
    if out[-1].isdigit():
        raise _ReasonError("top-level domain must not be all-numeric")
    result = ".".join(out)
    if len(result) > 253:
        raise _ReasonError("is longer than 253 characters")
    return result


def _normalise_domain(text: str, qualifier: str, region: str) -> tuple[str, str, str]:
    value = _domain_to_ascii(_nfkc(text))
    return value, value, ""


# --------------------------------------------------------------------------------------------
# e-mail


_EMAIL_FORBIDDEN_LOCAL = set('()<>[]\\,;:"')
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
_PLUS_TAG_DOMAINS = frozenset(
    {
        "outlook.com",
        "hotmail.com",
        "live.com",
        "icloud.com",
        "me.com",
        "protonmail.com",
        "proton.me",
        "fastmail.com",
    }
)
_DASH_TAG_DOMAINS = frozenset({"yahoo.com"})


def _strip_tag(local: str, separator: str) -> str:
    base = local.split(separator, 1)[0]
    return base or local


def _normalise_email(text: str, qualifier: str, region: str) -> tuple[str, str, str]:
    text = _nfkc(text)
    if text[:7].lower() == "mailto:":
        text = text[7:].strip()
    at_count = text.count("@")
    if at_count == 0:
        raise _ReasonError("missing '@'")
    if at_count > 1:
        raise _ReasonError("must contain exactly one '@'")
    local, _, domain = text.partition("@")
    if not local:
        raise _ReasonError("missing local part")
    if not domain:
        raise _ReasonError("missing domain")
    for ch in local:
        if ch.isspace():
            raise _ReasonError("local part must not contain whitespace")
        if ch in _EMAIL_FORBIDDEN_LOCAL:
            raise _ReasonError(f"local part contains invalid character {ch!r}")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        raise _ReasonError("local part must not start or end with '.' or contain '..'")
    local = _fold(local)
    if len(local) > 64:
        raise _ReasonError("local part is longer than 64 characters")
    if any(ch.isspace() for ch in domain):
        raise _ReasonError("domain must not contain whitespace")
    if domain.startswith("["):
        raise _ReasonError("domain literals ([IP address]) are not supported")
    try:
        ascii_domain = _domain_to_ascii(domain)
    except _ReasonError as exc:
        raise _ReasonError(f"invalid domain: {exc.reason}") from None
    value = f"{local}@{ascii_domain}"

    canonical_local, canonical_domain = local, ascii_domain
    if ascii_domain in _GMAIL_DOMAINS:
        canonical_local = _strip_tag(local, "+").replace(".", "") or local
        canonical_domain = "gmail.com"
    elif ascii_domain in _PLUS_TAG_DOMAINS:
        canonical_local = _strip_tag(local, "+")
    elif ascii_domain in _DASH_TAG_DOMAINS:
        canonical_local = _strip_tag(local, "-")
    return value, f"{canonical_local}@{canonical_domain}", ""


# --------------------------------------------------------------------------------------------
# usernames


_PLATFORM_ALIASES: dict[str, str] = {
    "twitter": "x",
    "twitter.com": "x",
    "x.com": "x",
    "fb": "facebook",
    "facebook.com": "facebook",
    "ig": "instagram",
    "insta": "instagram",
    "instagram.com": "instagram",
    "tiktok.com": "tiktok",
    "snap": "snapchat",
    "snapchat.com": "snapchat",
    "yt": "youtube",
    "youtube.com": "youtube",
    "tg": "telegram",
    "t.me": "telegram",
    "telegram.org": "telegram",
    "wa": "whatsapp",
    "whatsapp.com": "whatsapp",
    "discord.com": "discord",
    "discordapp": "discord",
    "reddit.com": "reddit",
    "roblox.com": "roblox",
    "twitch.tv": "twitch",
    "kik.com": "kik",
}


def _normalise_username(text: str, qualifier: str, region: str) -> tuple[str, str, str]:
    if not qualifier:
        raise _ReasonError("a platform (qualifier) is required for usernames")
    platform = qualifier.lower()
    platform = _PLATFORM_ALIASES.get(platform, platform)
    text = _nfkc(text)
    if text.startswith("@"):
        text = text[1:]
    if text.startswith("@"):
        raise _ReasonError("must not start with more than one '@'")
    value = _fold(text)
    if not value:
        raise _ReasonError("empty after removing the leading '@'")
    if any(ch.isspace() for ch in value):
        raise _ReasonError("must not contain whitespace")
    if len(value) > 100:
        raise _ReasonError("is longer than 100 characters")
    return value, value, platform


# --------------------------------------------------------------------------------------------
# phone numbers


_PHONE_PUNCTUATION = set("+-.()/")
_PARSE_ERRORS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "invalid or missing country code",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short after international prefix",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
}
_POSSIBLE_ERRORS = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "invalid country code",
    phonenumbers.ValidationResult.TOO_SHORT: "too short",
    phonenumbers.ValidationResult.TOO_LONG: "too long",
    phonenumbers.ValidationResult.INVALID_LENGTH: "invalid length for its country",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "local number without area code",
}
_INTERNATIONAL_SOURCES = (
    phonenumbers.CountryCodeSource.FROM_NUMBER_WITH_PLUS_SIGN,
    phonenumbers.CountryCodeSource.FROM_NUMBER_WITH_IDD,
)


def _resolve_region(default_region: str | None) -> str | None:
    region = (default_region or "").strip().upper()
    if not region:
        return None
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"Unknown default_region {default_region!r} (expected ISO 3166 alpha-2)")
    return region


def _parse_phone(text: str, region: str | None) -> phonenumbers.PhoneNumber:
    try:
        return phonenumbers.parse(text, region, keep_raw_input=True)
    except phonenumbers.NumberParseException as exc:
        reason = _PARSE_ERRORS.get(exc.error_type, "cannot be parsed")
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE and not region:
            reason = "missing country code (no '+' prefix and no default region)"
        raise _ReasonError(reason) from None


def _normalise_phone(text: str, qualifier: str, region: str) -> tuple[str, str, str]:
    text = _nfkc(text)
    if text[:4].lower() == "tel:":
        text = text[4:].strip()
    for ch in text:
        if ch.isalpha():
            raise _ReasonError("must not contain letters (vanity numbers are not supported)")
        if not (
            unicodedata.category(ch) in ("Nd", "Pd") or ch.isspace() or ch in _PHONE_PUNCTUATION
        ):
            raise _ReasonError(f"contains invalid character {_char_name(ch)}")
    if "+" in text[1:]:
        raise _ReasonError("'+' is only allowed at the start")
    if not any(unicodedata.category(ch) == "Nd" for ch in text):
        raise _ReasonError("contains no digits")
    resolved = _resolve_region(region)

    number: phonenumbers.PhoneNumber | None = None
    error: _ReasonError | None = None
    try:
        number = _parse_phone(text, resolved)
    except _ReasonError as exc:
        error = exc
    if (number is None or number.country_code_source not in _INTERNATIONAL_SOURCES) and (
        text.startswith("00")
    ):
        # "00" is the most common international call prefix; honour it even when the default
        # region uses a different one (e.g. "011" in the US).
        try:
            candidate = _parse_phone("+" + text[2:], None)
        except _ReasonError:
            candidate = None
        if candidate is not None and phonenumbers.is_possible_number(candidate):
            number, error = candidate, None
    if number is None:
        assert error is not None
        raise error
    result = phonenumbers.is_possible_number_with_reason(number)
    if result != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise _ReasonError(
            f"not a possible phone number ({_POSSIBLE_ERRORS.get(result, 'invalid')})"
        )
    value = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # E.164 output must parse back to itself (keeps normalisation idempotent); this fails for
    # inputs whose national number keeps a spurious leading zero, e.g. "(0)0917 32" in AU.
    try:
        round_trip = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        round_trip = None
    if (
        round_trip is None
        or phonenumbers.format_number(round_trip, phonenumbers.PhoneNumberFormat.E164) != value
        or not phonenumbers.is_possible_number(round_trip)
    ):
        raise _ReasonError("not a possible phone number (invalid leading zero)")
    return value, value, ""


# --------------------------------------------------------------------------------------------
# IP addresses


def _normalise_ip(text: str, qualifier: str, region: str) -> tuple[str, str, str]:
    text = _nfkc(text)
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    if "%" in text:
        raise _ReasonError("scoped addresses (zone IDs) are not allowed")
    if "/" in text:
        raise _ReasonError("networks (CIDR notation) are not allowed; give a single address")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        raise _ReasonError("not a valid IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    value = str(address)
    return value, value, ""


# --------------------------------------------------------------------------------------------
# URLs


_ALLOWED_SCHEMES = ("http", "https", "ftp", "ftps")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21, "ftps": 990}
_REFANGED_SCHEMES = {"hxxp": "http", "hxxps": "https"}
_SCHEME_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PATH_SAFE = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE = _PATH_SAFE | frozenset("?")
_HEX = frozenset(string.hexdigits)


def _normalise_percent(text: str, safe: frozenset[str]) -> str:
    """Percent-encode unsafe characters, upper-case escapes and decode unreserved ones."""
    out: list[str] = []
    i = 0
    length = len(text)
    while i < length:
        ch = text[i]
        if ch == "%" and i + 2 < length and text[i + 1] in _HEX and text[i + 2] in _HEX:
            decoded = chr(int(text[i + 1 : i + 3], 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + text[i + 1 : i + 3].upper())
            i += 3
            continue
        if ch in safe:
            out.append(ch)
        else:
            out.append("".join(f"%{byte:02X}" for byte in ch.encode("utf-8")))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 for an absolute path (starting with '/')."""
    segments = path.split("/")
    out: list[str] = []
    for segment in segments:
        if segment == ".":
            continue
        if segment == "..":
            if len(out) > 1:
                out.pop()
            continue
        out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/".join(out) or "/"


def _split_scheme(text: str) -> tuple[str, str, bool]:
    """Return (scheme, rest-after-'//', scheme_was_explicit)."""
    if text.startswith("//"):
        return "http", text[2:], False
    match = _SCHEME_RE.match(text)
    if match:
        after = text[match.end() :]
        scheme = match.group(1).lower()
        scheme = _REFANGED_SCHEMES.get(scheme, scheme)
        if after.startswith("//"):
            if scheme not in _ALLOWED_SCHEMES:
                raise _ReasonError(
                    f"unsupported scheme {scheme!r} (allowed: http, https, ftp, ftps)"
                )
            return scheme, after[2:], True
        if not after[:1].isdigit() and after[:1] not in ("", "/", "?", "#"):
            # "scheme:opaque", e.g. mailto:..., javascript:..., http:example.com
            if scheme in _ALLOWED_SCHEMES:
                raise _ReasonError(f"missing '//' after '{scheme}:'")
            raise _ReasonError(f"unsupported scheme {scheme!r} (allowed: http, https, ftp, ftps)")
    # bare "example.com/x" or "example.com:8080/x"
    return "http", text, False


def _normalise_host(host: str) -> str:
    if host.startswith("["):
        if not host.endswith("]"):
            raise _ReasonError("unterminated IPv6 literal")
        literal = host[1:-1]
        if "%" in literal:
            raise _ReasonError("scoped IPv6 addresses (zone IDs) are not allowed")
        try:
            address = ipaddress.IPv6Address(literal)
        except ValueError:
            raise _ReasonError("invalid IPv6 literal in host") from None
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return f"[{address}]"
    if not host:
        raise _ReasonError("missing host")
    last_label = host.rstrip(".").rsplit(".", 1)[-1]
    if last_label.isascii() and last_label.isdigit():
        try:
            return str(ipaddress.IPv4Address(host.rstrip(".")))
        except ValueError:
            raise _ReasonError("invalid IPv4 address in host") from None
    if any(ch.isspace() for ch in host):
        raise _ReasonError("host must not contain whitespace")
    try:
        return _domain_to_ascii(host)
    except _ReasonError as exc:
        raise _ReasonError(f"invalid host: {exc.reason}") from None


def _normalise_url(text: str, qualifier: str, region: str) -> tuple[str, str, str]:
    text = unicodedata.normalize("NFC", text)
    scheme, rest, explicit = _split_scheme(text)
    rest = rest.split("#", 1)[0]
    rest, has_query, query = rest.partition("?")
    slash = rest.find("/")
    authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    authority = authority.replace("[.]", ".")

    if "@" in authority:
        if not explicit:
            raise _ReasonError("looks like an e-mail address, not a URL")
        authority = authority.rpartition("@")[2]  # drop userinfo

    port_text: str | None = None
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise _ReasonError("unterminated IPv6 literal")
        host, after = authority[: end + 1], authority[end + 1 :]
        if after:
            if not after.startswith(":"):
                raise _ReasonError("unexpected characters after IPv6 literal")
            port_text = after[1:]
    elif ":" in authority:
        host, _, port_text = authority.rpartition(":")
        if ":" in host:
            raise _ReasonError("IPv6 addresses in URLs must be enclosed in brackets")
    else:
        host = authority
    host = _normalise_host(host)

    port = ""
    if port_text:
        if not (port_text.isascii() and port_text.isdigit()):
            raise _ReasonError(f"invalid port {port_text!r}")
        number = int(port_text)
        if not 1 <= number <= 65535:
            raise _ReasonError(f"port {number} out of range (1-65535)")
        if number != _DEFAULT_PORTS[scheme]:
            port = f":{number}"

    path = _remove_dot_segments(_normalise_percent(path or "/", _PATH_SAFE))
    query = _normalise_percent(query, _QUERY_SAFE) if has_query else ""
    tail = f"{path}?{query}" if query else path

    value = f"{scheme}://{host}{port}{tail}"
    if len(value) > _MAX_LENGTH:
        raise _ReasonError(f"is longer than {_MAX_LENGTH} characters after normalisation")
    bare_host = host[4:] if host.startswith("www.") and "." in host[4:] else host
    return value, f"{bare_host}{port}{tail}", ""


# --------------------------------------------------------------------------------------------
# file hashes


def _algorithm_name(name: str) -> str:
    return name.strip().lower().replace("-", "").replace("_", "")


def _normalise_file_hash(text: str, qualifier: str, region: str) -> tuple[str, str, str]:
    text = _nfkc(text).lower()
    supported = ", ".join(HASH_LENGTHS)
    prefix_algorithm = ""
    if ":" in text:
        prefix, _, text = text.partition(":")
        prefix_algorithm = _algorithm_name(prefix)
        if prefix_algorithm not in HASH_LENGTHS:
            raise _ReasonError(f"unknown hash algorithm prefix {prefix!r} (supported: {supported})")
        text = text.strip()
    qualifier_algorithm = _algorithm_name(qualifier) if qualifier else ""
    if qualifier_algorithm and qualifier_algorithm not in HASH_LENGTHS:
        raise _ReasonError(f"unsupported hash algorithm {qualifier!r} (supported: {supported})")
    if prefix_algorithm and qualifier_algorithm and prefix_algorithm != qualifier_algorithm:
        raise _ReasonError(
            f"algorithm {qualifier_algorithm!r} conflicts with prefix {prefix_algorithm!r}"
        )
    if not text:
        raise _ReasonError("missing hash value")
    if not re.fullmatch(r"[0-9a-f]+", text):
        raise _ReasonError("must be hexadecimal")
    algorithm = qualifier_algorithm or prefix_algorithm
    if algorithm:
        expected = HASH_LENGTHS[algorithm]
        if len(text) != expected:
            raise _ReasonError(
                f"{algorithm} hash must be {expected} hex characters long, got {len(text)}"
            )
    else:
        by_length = {length: name for name, length in HASH_LENGTHS.items()}
        if len(text) not in by_length:
            lengths = ", ".join(f"{name} {length}" for name, length in HASH_LENGTHS.items())
            raise _ReasonError(
                f"length {len(text)} does not match any supported algorithm ({lengths})"
            )
        algorithm = by_length[len(text)]
    return text, text, algorithm


# --------------------------------------------------------------------------------------------
# payment accounts, device ids, passports


def _compact_upper(text: str) -> str:
    return "".join(ch for ch in _nfkc(text) if not ch.isspace() and ch != "-").upper()


def _check_alnum(value: str, minimum: int, maximum: int) -> None:
    for ch in value:
        if not ("A" <= ch <= "Z" or "0" <= ch <= "9"):
            raise _ReasonError(f"contains invalid character {_char_name(ch)} (allowed: A-Z, 0-9)")
    if len(value) < minimum:
        raise _ReasonError(f"is too short (minimum {minimum} characters)")
    if len(value) > maximum:
        raise _ReasonError(f"is too long (maximum {maximum} characters)")


def _normalise_payment_account(text: str, qualifier: str, region: str) -> tuple[str, str, str]:
    value = _compact_upper(text)
    _check_alnum(value, 4, 64)
    return value, value, qualifier.lower()


_DEVICE_ID_RE = re.compile(r"[a-z0-9:._-]+")


def _normalise_device_id(text: str, qualifier: str, region: str) -> tuple[str, str, str]:
    value = _nfkc(text).lower()
    for ch in value:
        if not _DEVICE_ID_RE.fullmatch(ch):
            allowed = "a-z, 0-9, ':', '.', '_', '-'"
            raise _ReasonError(f"contains invalid character {_char_name(ch)} (allowed: {allowed})")
    if len(value) < 4:
        raise _ReasonError("is too short (minimum 4 characters)")
    if len(value) > 128:
        raise _ReasonError("is too long (maximum 128 characters)")
    return value, value, ""


def _normalise_passport(text: str, qualifier: str, region: str) -> tuple[str, str, str]:
    country = qualifier.upper()
    if country and not re.fullmatch(r"[A-Z]{2,3}", country):
        raise _ReasonError(
            f"issuing country {qualifier!r} must be an ISO 3166 alpha-2 or alpha-3 code"
        )
    value = _compact_upper(text)
    _check_alnum(value, 5, 20)
    return value, value, country


# --------------------------------------------------------------------------------------------
# public entry point


_Normaliser = Callable[[str, str, str], tuple[str, str, str]]
_NORMALISERS: dict[IdentifierKind, _Normaliser] = {
    IdentifierKind.EMAIL: _normalise_email,
    IdentifierKind.USERNAME: _normalise_username,
    IdentifierKind.PHONE: _normalise_phone,
    IdentifierKind.IP_ADDRESS: _normalise_ip,
    IdentifierKind.URL: _normalise_url,
    IdentifierKind.DOMAIN: _normalise_domain,
    IdentifierKind.FILE_HASH: _normalise_file_hash,
    IdentifierKind.PAYMENT_ACCOUNT: _normalise_payment_account,
    IdentifierKind.DEVICE_ID: _normalise_device_id,
    IdentifierKind.PASSPORT: _normalise_passport,
}
# kinds whose qualifier is meaningful; for all other kinds the qualifier is ignored (always "")
_QUALIFIED_KINDS = frozenset(
    {
        IdentifierKind.USERNAME,
        IdentifierKind.FILE_HASH,
        IdentifierKind.PAYMENT_ACCOUNT,
        IdentifierKind.PASSPORT,
    }
)


def normalise(
    kind: IdentifierKind | str,
    raw: str,
    *,
    qualifier: str = "",
    default_region: str = "US",
) -> Normalised:
    """Normalise ``raw`` as an identifier of ``kind``.

    ``kind`` may be an :class:`IdentifierKind` or its string value (case-insensitive).
    ``qualifier`` is the platform (USERNAME, required), hash algorithm (FILE_HASH, optional),
    provider (PAYMENT_ACCOUNT, optional) or issuing country (PASSPORT, optional); it is ignored
    for other kinds. ``default_region`` is only used for national-format phone numbers.

    Raises :class:`InvalidIdentifier` (a ``ValueError``) when ``raw`` is not a valid identifier,
    and a plain ``ValueError`` for an unknown ``kind`` or ``default_region``.
    """
    kind = _coerce_kind(kind)
    if raw is None:
        raise InvalidIdentifier(kind, "", "empty")
    if not isinstance(raw, str):
        raise TypeError(f"raw must be a string, not {type(raw).__name__}")
    try:
        text = _strip(raw)
        if not text:
            raise _ReasonError("empty")
        maximum = _MAX_EMAIL_LENGTH if kind is IdentifierKind.EMAIL else _MAX_LENGTH
        if len(text) > maximum:
            raise _ReasonError(f"is too long ({len(text)} characters, maximum {maximum})")
        _check_characters(text)
        cleaned_qualifier = _clean_qualifier(qualifier) if kind in _QUALIFIED_KINDS else ""
        value, canonical, out_qualifier = _NORMALISERS[kind](
            text, cleaned_qualifier, default_region
        )
    except _ReasonError as exc:
        raise InvalidIdentifier(kind, raw, exc.reason) from None
    return Normalised(kind=kind, value=value, canonical=canonical, qualifier=out_qualifier)
