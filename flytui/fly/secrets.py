"""How a secret value reaches flyctl byte for byte, or why it cannot.

Source of truth: flyctl at commit ad0172f (2026-08), ``internal/command/secrets/``:

``fly secrets import`` (import.go -> ``parseSecrets(os.Stdin)``, parser.go), per line of a ``bufio.Scanner``:

* parser.go:17 ``bufio.NewScanner``: lines split on ``\\n``, ONE trailing ``\\r`` dropped per line; a line of
  64 KiB (``bufio.MaxScanTokenSize``) or more stops the scan silently (``scanner.Err()`` is never checked).
* parser.go:36 ``value = strings.TrimLeft(value, " ")`` (spaces only).
* parser.go:37-39 the value is cut at the first ``#`` when the text before it holds an EVEN number of ``"``
  (flyctl >= v0.3.100), and the rest right-trimmed of spaces.
* parser.go:42-45 ``\"\"\"x\"\"\"`` on one line (length >= 6) -> ``x``.
* parser.go:46-51 a value starting with ``\"\"\"`` opens a multi-line value; parser.go:62-71 every following line
  is taken as is (no comment, no trimming) until a line ENDING with ``\"\"\"``.
* parser.go:53-58 one pair of surrounding ``"`` or ``'`` (flyctl >= v0.4.14) is removed; ``value[1:len-1]`` on a
  lone ``"`` or ``'`` panics (flyctl exits 3, "Oops, something went wrong!").

``fly secrets set NAME=-`` (set.go:54-63): the value is read from stdin by ``helpers.ReadStdin(64 * 1024)``
(helpers/stdin.go:19-40): more than 65536 bytes is an error, and the result is ``strings.TrimSpace``-ed, so
leading/trailing Unicode white space (``unicode.IsSpace``) is lost. Everything else is carried exactly.

Consequences (each checked by tests/test_secrets_exact.py against the sandbox's port of both):

* a one-line value always has an exact import encoding (bare, ``'...'``, ``"..."`` or ``\"\"\"...\"\"\"``,
  picked by the ``#`` rule above) unless its line reaches 64 KiB;
* a multi-line value imports exactly as ``\"\"\"...\"\"\"`` unless its first line ends with ``\"\"\"`` or has a
  ``#`` after an odd number of ``"``, or a line other than the last ends with ``\"\"\"`` or ``\\r``;
* otherwise ``secrets set NAME=-`` carries it if it has no surrounding white space and is <= 64 KiB;
* anything else is refused before flyctl runs (:class:`SecretNotTransportable`), never altered.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Mapping

from .errors import FlyError

#: bufio.MaxScanTokenSize: a line (without its ``\\n``) of this many bytes or more stops flyctl's parse.
SCANNER_MAX_TOKEN = 64 * 1024
#: the longest import line flyctl reads
SCANNER_MAX_LINE = SCANNER_MAX_TOKEN - 1
#: set.go:59 ``helpers.ReadStdin(64 * 1024)``: more bytes is an error.
STDIN_MAX = 64 * 1024

SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)

#: Go's ``unicode.IsSpace`` (what ``strings.TrimSpace`` trims in helpers/stdin.go:39).
GO_SPACE = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000"
                     + "".join(chr(c) for c in range(0x2000, 0x200B)))

_TRIPLE = '"""'
_CHAR_NAMES = {"\n": "a newline (\\n)", "\r": "a carriage return (\\r)", "\t": "a tab (\\t)", " ": "a space",
               "\v": "a vertical tab (\\v)", "\f": "a form feed (\\f)"}


class SecretValueError(FlyError, ValueError):
    """A secret name or value flytui will not hand to flyctl (nothing was run)."""

    hint = "Nothing was sent to flyctl; fix the name or value and set it again."


class SecretNotTransportable(SecretValueError):
    """No flyctl transport carries this value exactly: refused instead of being stored altered."""

    hint = ("Nothing was sent to flyctl: it would have stored a different value. Remove what the message names "
            "(e.g. surrounding whitespace or \\r\\n line endings), or store the value encoded (e.g. base64) "
            "and decode it in the app.")

    def __init__(self, name: str, reasons: list[str], *, hint: str | None = None) -> None:
        self.name = name
        self.reasons = list(reasons)
        super().__init__(f"Secret {name} cannot be passed to flyctl exactly: " + "; ".join(reasons) + ".",
                         hint=hint)


def describe_char(ch: str) -> str:
    """A character named for a message (never the secret around it)."""
    if ch in _CHAR_NAMES:
        return _CHAR_NAMES[ch]
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'character')}"


def check_name(name: str) -> str:
    if not isinstance(name, str) or not SECRET_NAME.fullmatch(name):
        raise SecretValueError(f"Invalid secret name {name!r}: use letters, digits and underscores, "
                               "not starting with a digit.")
    return name


def _basic_obstacle(value: str) -> str | None:
    """What neither transport (nor a machine's environment) can hold."""
    if "\x00" in value:
        return (f"the value has a NUL character at position {value.index(chr(0)) + 1}, "
                "which an environment variable cannot hold")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"the value is not valid Unicode text (lone surrogate at position {exc.start + 1})"
    return None


def _quotes_before_hash(line: str) -> int | None:
    """Number of ``"`` before the first ``#`` of ``line`` (None: no ``#``) — parser.go:37-38."""
    i = line.find("#")
    return None if i < 0 else line[:i].count('"')


def _single_line_encoding(value: str) -> str:
    """The right-hand side of ``NAME=`` that parser.go reads back as ``value`` (one line, no ``\\n``)."""
    q = _quotes_before_hash(value)
    bare_ok = (
        not value.startswith(" ")                                 # parser.go:36 TrimLeft(value, " ")
        and not value.endswith("\r")                              # bufio.ScanLines dropCR
        and (q is None or q % 2 == 1)                             # parser.go:37-39 comment cut
        and not value.startswith(_TRIPLE)                         # parser.go:42/46 triple quotes
        and not (value.startswith('"') and value.endswith('"'))   # parser.go:53-55 (lone `"` panics)
        and not (value.startswith("'") and value.endswith("'"))   # parser.go:56-58 (lone `'` panics)
    )
    if bare_ok:
        return value
    if q is None or q % 2 == 1:  # 'v': the text before '#' holds q quotes, odd -> not a comment
        return f"'{value}'"
    # q even: "v" (1 + q quotes before '#', odd) unless it would open a triple quote
    if not value.startswith('""') and value != '"':
        return f'"{value}"'
    return f"{_TRIPLE}{value}{_TRIPLE}"  # 3 + q quotes before '#': odd; parser.go:44 strips exactly 3+3


def import_obstacle(name: str, value: str) -> str | None:
    """Why ``fly secrets import`` cannot carry ``value`` exactly (None: it can, see :func:`import_line`)."""
    if "\n" not in value:
        line = f"{name}={_single_line_encoding(value)}"
        size = len(line.encode("utf-8"))
        if size > SCANNER_MAX_LINE:
            return (f"`fly secrets import` reads lines of at most {SCANNER_MAX_LINE} bytes and this one is "
                    f"{size} bytes")
        return None
    lines = value.split("\n")
    first = lines[0]
    if first.endswith(_TRIPLE):
        return '`fly secrets import` would read line 1 (it ends with """) as the whole value'
    q = _quotes_before_hash(first)
    if q is not None and q % 2 == 1:
        return (f"`fly secrets import` would cut line 1 at the # at position {first.index('#') + 1} "
                "(it reads it as a comment)")
    for n, part in enumerate(lines[:-1], start=1):
        if part.endswith("\r"):
            return f"`fly secrets import` would drop the carriage return (\\r) ending line {n}"
        if n > 1 and part.endswith(_TRIPLE):
            return f'`fly secrets import` would end the value at line {n} (it ends with """)'
    physical = [f"{name}={_TRIPLE}{first}", *lines[1:-1], lines[-1] + _TRIPLE]
    for n, part in enumerate(physical, start=1):
        size = len(part.encode("utf-8"))
        if size > SCANNER_MAX_LINE:
            return (f"`fly secrets import` reads lines of at most {SCANNER_MAX_LINE} bytes and line {n} is "
                    f"{size} bytes")
    return None


def stdin_obstacle(value: str, name: str = "NAME") -> str | None:
    """Why ``fly secrets set NAME=-`` (value on stdin) cannot carry ``value`` exactly (None: it can)."""
    size = len(value.encode("utf-8"))
    how = f"`fly secrets set {name}=-`"
    if size > STDIN_MAX:
        return f"{how} reads at most {STDIN_MAX} bytes from stdin and the value is {size} bytes"
    if value and value[0] in GO_SPACE:
        return f"{how} trims leading whitespace ({describe_char(value[0])} at position 1)"
    if value and value[-1] in GO_SPACE:
        return f"{how} trims trailing whitespace ({describe_char(value[-1])} at position {len(value)})"
    return None


def import_line(name: str, value: str) -> str:
    """The ``NAME=...`` entry (possibly several lines) that parser.go reads back as exactly ``value``.

    Raises :class:`SecretNotTransportable` when the import parser cannot carry it.
    """
    check_name(name)
    reason = _basic_obstacle(value) or import_obstacle(name, value)
    if reason:
        raise SecretNotTransportable(name, [reason])
    if "\n" in value:
        return f"{name}={_TRIPLE}{value}{_TRIPLE}"
    return f"{name}={_single_line_encoding(value)}"


#: the historical name (one ``fly secrets import`` entry)
encode_secret_line = import_line


def encode_secrets_import(values: Mapping[str, str]) -> bytes:
    """The whole stdin for ``fly secrets import`` (UTF-8, one entry per line, trailing newline)."""
    if not values:
        raise SecretValueError("No secrets to set.")
    return "".join(import_line(k, v) + "\n" for k, v in values.items()).encode("utf-8")


@dataclass(frozen=True)
class SecretsPlan:
    """How :meth:`FlyClient.set_secrets` sends a set of values: one import, then one ``set NAME=-`` each."""

    import_payload: bytes | None      # stdin of ``fly secrets import`` (None: nothing to import)
    import_names: tuple[str, ...]
    stdin_values: tuple[tuple[str, bytes], ...]  # (name, stdin) for ``fly secrets set NAME=-``

    @property
    def steps(self) -> int:
        return (1 if self.import_payload is not None else 0) + len(self.stdin_values)


def plan_secrets(values: Mapping[str, str]) -> SecretsPlan:
    """Pick the transport of every value, or refuse the whole set before anything runs."""
    if not values:
        raise SecretValueError("No secrets to set.")
    imports: dict[str, str] = {}
    stdin: list[tuple[str, bytes]] = []
    for name, value in values.items():
        check_name(name)
        if not isinstance(value, str):
            raise SecretValueError(f"Secret {name}: the value must be text.")
        basic = _basic_obstacle(value)
        if basic:
            raise SecretNotTransportable(name, [basic])
        via_import = import_obstacle(name, value)
        if via_import is None:
            imports[name] = import_line(name, value)
            continue
        via_stdin = stdin_obstacle(value, name)
        if via_stdin is None:
            stdin.append((name, value.encode("utf-8")))
            continue
        raise SecretNotTransportable(name, [via_import, via_stdin])
    payload = "".join(line + "\n" for line in imports.values()).encode("utf-8") if imports else None
    return SecretsPlan(payload, tuple(imports), tuple(stdin))


__all__ = [
    "GO_SPACE",
    "SCANNER_MAX_LINE",
    "SECRET_NAME",
    "STDIN_MAX",
    "SecretNotTransportable",
    "SecretValueError",
    "SecretsPlan",
    "check_name",
    "encode_secret_line",
    "encode_secrets_import",
    "import_line",
    "import_obstacle",
    "plan_secrets",
    "stdin_obstacle",
]
