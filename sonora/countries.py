"""ISO 3166-1 alpha-2 country codes: the list every ``country`` field is checked against.

>>> check_country("gb")
'GB'
>>> check_country("ZZ")
Traceback (most recent call last):
...
sonora.errors.ParameterError: country: 'ZZ' is not an ISO 3166-1 alpha-2 country code (two letters such as GB, US, IE, AU)
"""

from __future__ import annotations

from sonora.errors import ParameterError

__all__ = ["ISO_3166_1_ALPHA_2", "check_country"]

#: The 249 officially assigned ISO 3166-1 alpha-2 codes.
ISO_3166_1_ALPHA_2: frozenset[str] = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN
    BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
    DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL
    GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM
    JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME
    MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP
    NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD
    SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
    TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """.split()
)
#: Common names that are not the code (``UK`` is reserved, the code is ``GB``).
_ALIASES = {"UK": "GB"}


def check_country(value: object, field: str = "country") -> str:
    """The upper-case ISO 3166-1 alpha-2 code of ``value`` (any case, spaces trimmed).

    Raises
    ------
    ParameterError
        Naming ``field`` when ``value`` is not an assigned code.
    """
    code = value.strip().upper() if isinstance(value, str) else ""
    code = _ALIASES.get(code, code)
    if code not in ISO_3166_1_ALPHA_2:
        raise ParameterError(
            field,
            f"{value!r} is not an ISO 3166-1 alpha-2 country code "
            "(two letters such as GB, US, IE, AU)",
        )
    return code
