"""Kubernetes resource quantities, parsed in this one place for the launcher's checks and the trainer.

The grammar is the API server's (k8s.io/apimachinery/pkg/api/resource, quantity.go):

    <quantity> ::= <number><suffix>
    <suffix>   ::= <binarySI> | <decimalSI> | <decimalExponent>
    <binarySI> ::= Ki | Mi | Gi | Ti | Pi | Ei                    (powers of 1024)
    <decimalSI> ::= n | u | m | "" | k | M | G | T | P | E        (powers of 1000; m is milli, not mega)
    <decimalExponent> ::= e<signed integer> | E<signed integer>

Signs are left out: no resource of a config may be negative. The API server keeps at most three decimal
places (1m) and caps values at 2^63-1, rounding silently beyond either; configs that would be rounded are
refused here instead, so what validates is what the pod gets.
"""

from decimal import Decimal, InvalidOperation

QUANTITY = r"^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+|n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": Decimal(10**3),
           "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12), "P": Decimal(10**15),
           "E": Decimal(10**18)}
MAX_VALUE = 2**63 - 1  # resource.Quantity's largest value; larger ones are capped by the API server
FINEST_CPU = Decimal("0.001")  # 1m: the API server rounds finer CPU quantities up to it
# A lowercase suffix that means a fraction: on a byte count it is always a typo for the binary unit.
FRACTION_TO_BINARY = {"m": "Mi", "u": "Ki", "n": "Ki"}


def parse(text: str) -> Decimal:
    """The value of a quantity in base units (cores, bytes); raises ValueError if it is not one."""
    number, suffix = split(text)
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a Kubernetes quantity") from None
    if suffix in BINARY:
        return value * BINARY[suffix]
    if suffix in DECIMAL:
        return value * DECIMAL[suffix]
    if suffix[:1] in ("e", "E"):
        return value.scaleb(int(suffix[1:]))
    if suffix:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    return value


def split(text: str) -> tuple[str, str]:
    """('512', 'Mi') from '512Mi'; the exponent form keeps its 'e': ('1', 'e3') from '1e3'."""
    for i, char in enumerate(text):
        if not (char.isdigit() or char == "."):
            return text[:i], text[i:]
    return text, ""


def cpu_cores(text: str) -> Decimal:
    """CPU cores of a validated quantity: '500m' -> 0.5, '2' -> 2."""
    return parse(text)


def byte_count(text: str) -> int:
    """Bytes of a validated memory-like quantity: '512Mi' -> 536870912."""
    return int(parse(text))


def check_cpu(text: str) -> str:
    """A CPU quantity the API server keeps as written: positive, whole millicores, within range."""
    value = parse(text)
    _check_range(text, value)
    if value % FINEST_CPU:
        raise ValueError(f"{text!r} is finer than Kubernetes keeps CPU (1m = 0.001 CPU); "
                         f"did you mean {_millis(value)}?")
    return text


def check_bytes(text: str) -> str:
    """A memory-like quantity: whole bytes, so a lowercase milli suffix (512m = 0.512 bytes) is refused."""
    value = parse(text)
    number, suffix = split(text)
    if suffix in FRACTION_TO_BINARY:
        raise ValueError(f"{text!r} means {value.normalize():f} bytes ({suffix!r} is "
                         f"{_FRACTION_NAMES[suffix]}); did you mean {number}{FRACTION_TO_BINARY[suffix]}?")
    _check_range(text, value)
    if value != value.to_integral_value():
        raise ValueError(f"{text!r} is {value.normalize():f} bytes, not a whole number of bytes")
    return text


_FRACTION_NAMES = {"m": "milli", "u": "micro", "n": "nano"}


def _check_range(text: str, value: Decimal) -> None:
    if value <= 0:
        raise ValueError(f"{text!r} must be more than 0")
    if value > MAX_VALUE:
        raise ValueError(f"{text!r} is more than Kubernetes can hold (2^63-1 base units)")


def _millis(value: Decimal) -> str:
    """The nearest quantity in whole millicores, rounded up as the API server would."""
    millis = int((value / FINEST_CPU).to_integral_value(rounding="ROUND_CEILING"))
    return f"{millis}m"


def format_bytes(count: int) -> str:
    """The largest binary unit that divides `count` exactly: 4294967296 -> '4Gi'."""
    for suffix, size in sorted(BINARY.items(), key=lambda item: -item[1]):
        if count % size == 0:
            return f"{count // size}{suffix}"
    return str(count)
