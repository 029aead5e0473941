"""PII masking: e-mail addresses, phone numbers, public IP addresses, Chinese resident ID numbers
and payment card numbers are replaced with typed placeholders.

Nothing is masked on its shape alone when a validation exists: an ID number must carry a valid
birth date and ISO 7064 MOD 11-2 check digit, a card number must pass Luhn (and start like a
card network's number), an IP must parse and be globally routable (private, loopback, reserved
and documentation ranges are not personal data). A false mask corrupts training text; a date
or a version number is not PII.

The types are applied in a fixed order, most specific first, so an 18-digit ID number is not
also tried as a card number and a card number not as a phone number; placeholders contain no
digits, so a later pattern never matches inside an earlier replacement.
"""
from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Callable

PLACEHOLDERS: dict[str, str] = {
    "email": "<EMAIL>",
    "cn_id": "<CN_ID>",
    "card": "<CARD>",
    "ip": "<IP>",
    "phone": "<PHONE>",
}

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w-])"
)

# 6-digit region code, birth date YYYYMMDD (1800–2099), 3-digit sequence, check digit or X.
_CN_ID = re.compile(r"(?<![\dA-Za-z])([1-9]\d{5})((?:18|19|20)\d{6})(\d{3})([\dXx])(?![\dA-Za-z])")
_CN_ID_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # ISO 7064 MOD 11-2 weights
_CN_ID_CHECK = "10X98765432"  # check character for (weighted sum mod 11) = 0..10

# 13–19 digits, optionally grouped by single spaces or dashes; not after '+' (a phone number).
_CARD = re.compile(r"(?<![\d+\-])[2-6]\d(?:[ -]?\d){11,17}(?![\d])")

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:.])")
# "version 1.2.3.4", "v1.2.3.4", "版本 1.2.3.4": dotted quads that are versions, not addresses.
# A whole word ("Server 8.8.8.8" is an address; "ver 8.8.8.8" a version number).
_VERSION_CONTEXT = re.compile(r"(?:\b(?:version|ver\.?|release|build)|版本|版本号)\s*[:：]?\s*$", re.IGNORECASE)

# Chinese mobile: optional +86 / 0086 / 86, then 1[3-9] and 9 digits, optionally 3-4-4 grouped.
_CN_MOBILE = re.compile(r"(?<![\d+])(?:(?:\+|00)86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")
# International: +CC then groups of digits (optionally in brackets) separated by space . -
_INTL_PHONE = re.compile(r"(?<![\w+])\+[1-9]\d{0,2}(?:[ .\-]?\(?\d{1,4}\)?){2,6}(?![\d])")
# Chinese landline with its area code: 021-56692669, 0512-55111066.
_CN_LANDLINE = re.compile(r"(?<![\d\-])0\d{2,3}-\d{7,8}(?![\d\-])")


def cn_id_is_valid(number: str) -> bool:
    """True for an 18-character Chinese resident ID with a real birth date and a valid check digit.

    >>> cn_id_is_valid("11010519491231002X"), cn_id_is_valid("110105194912310021")
    (True, False)
    """
    match = _CN_ID.fullmatch(number)
    if match is None:
        return False
    try:
        datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    weighted = sum(int(digit) * weight for digit, weight in zip(number[:17], _CN_ID_WEIGHTS))
    return _CN_ID_CHECK[weighted % 11] == number[17].upper()


def luhn_is_valid(digits: str) -> bool:
    """True when a string of digits passes the Luhn checksum.

    >>> luhn_is_valid("4111111111111111"), luhn_is_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _is_public_ip(candidate: str) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return address.is_global and not address.is_multicast


def _digit_count(text: str) -> int:
    return sum(1 for char in text if char.isdigit())


def _mask(pattern: re.Pattern[str], text: str, placeholder: str, accept: Callable[[re.Match[str]], bool]) -> tuple[str, int]:
    count = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal count
        if accept(match):
            count += 1
            return placeholder
        return match.group(0)

    return pattern.sub(replace, text), count


def _accept_card(match: re.Match[str]) -> bool:
    digits = re.sub(r"[ -]", "", match.group(0))
    return 13 <= len(digits) <= 19 and luhn_is_valid(digits)


def _accept_ipv4(match: re.Match[str]) -> bool:
    before = match.string[max(0, match.start() - 16) : match.start()]
    return _VERSION_CONTEXT.search(before) is None and _is_public_ip(match.group(0))


def mask_pii(text: str) -> tuple[str, dict[str, int]]:
    """Replace validated PII with placeholders; return (masked text, count per type).

    The counts always have the five keys of `PLACEHOLDERS` (zero when none was found).

    >>> masked, counts = mask_pii("Mail li.lei@example.com or call +86 138 1234 5678, card 4111 1111 1111 1111.")
    >>> masked
    'Mail <EMAIL> or call <PHONE>, card <CARD>.'
    >>> counts == {"email": 1, "cn_id": 0, "card": 1, "ip": 0, "phone": 1}
    True
    >>> mask_pii("Server 192.168.1.10, release 2020-06-16, version 1.2.3.4")[1]["ip"]
    0
    """
    counts = dict.fromkeys(PLACEHOLDERS, 0)
    if not any(char.isdigit() or char == "@" for char in text):
        return text, counts  # every type needs a digit or an '@': skip the regexes
    text, counts["email"] = _mask(_EMAIL, text, PLACEHOLDERS["email"], lambda m: True)
    text, counts["cn_id"] = _mask(_CN_ID, text, PLACEHOLDERS["cn_id"], lambda m: cn_id_is_valid(m.group(0)))
    text, counts["card"] = _mask(_CARD, text, PLACEHOLDERS["card"], _accept_card)
    text, n_ipv4 = _mask(_IPV4, text, PLACEHOLDERS["ip"], _accept_ipv4)
    text, n_ipv6 = _mask(_IPV6, text, PLACEHOLDERS["ip"], lambda m: _is_public_ip(m.group(0)))
    counts["ip"] = n_ipv4 + n_ipv6
    n_phone = 0
    for pattern, accept in (
        (_CN_MOBILE, lambda m: True),
        (_INTL_PHONE, lambda m: 8 <= _digit_count(m.group(0)) <= 15),  # E.164: at most 15 digits
        (_CN_LANDLINE, lambda m: True),
    ):
        text, found = _mask(pattern, text, PLACEHOLDERS["phone"], accept)
        n_phone += found
    counts["phone"] = n_phone
    return text, counts

