"""Issue 13: secret values reach flyctl byte for byte (or are refused), never altered.

Ground truth: flyctl @ ad0172f — internal/command/secrets/parser.go (``fly secrets import``), set.go
(``fly secrets set NAME=-``), helpers/stdin.go (``ReadStdin``: 64 KiB cap, ``strings.TrimSpace``),
deploy.go. The sandbox ports them line by line (flytui/sandbox/commands/secrets.py); part 1 holds that port
to parser_test.go's own cases, parts 2-4 send values through the real FlyClient -> runner -> sandbox flyctl
and read what got stored from the sandbox's state.json (never through flytui's own code).
"""
from __future__ import annotations

import asyncio
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flytui.fly.client import FlyClient
from flytui.fly.errors import FlyError
from flytui.fly.runner import FlyctlRunner
from tests.helpers.wait import until
from flytui.sandbox.commands.secrets import GoPanic, parse_secrets, read_stdin
from flytui.sandbox.state import SandboxError

# --------------------------------------------------------------------------------------------
# 1. the sandbox parser == flyctl's parser: parser_test.go @ ad0172f, case by case
# --------------------------------------------------------------------------------------------

PARSER_TEST_GO = [
    ("Test_parse_basic", "\n# A comment plus a new line with spaces\n\nFOO=BAR\n# Another comment\nQUX=NAH\n",
     {"FOO": "BAR", "QUX": "NAH"}),
    ("Test_parse_unix", "FOO=BAR\nQUX=NAH\n", {"FOO": "BAR", "QUX": "NAH"}),
    ("Test_parse_windows", "FOO=BAR\r\nQUX=NAH\r\n", {"FOO": "BAR", "QUX": "NAH"}),
    ("Test_parse_mulltiline",
     '\nFOO=BAR\nMULTILINE="""SOMETHING\nANOTHER LINE\n\nENDSHERE"""\nTRAILERENV=what\n'
     'FIN="""Here is the end,\nmy only friend"""\n',
     {"FOO": "BAR", "MULTILINE": "SOMETHING\nANOTHER LINE\n\nENDSHERE", "TRAILERENV": "what",
      "FIN": "Here is the end,\nmy only friend"}),
    ("Test_parse_with_comma", "FOO=BAR,BAZ", {"FOO": "BAR,BAZ"}),
    ("Test_parse_with_equal", "FOO=BAR BAZ", {"FOO": "BAR BAZ"}),
    ("Test_parse_with_double_quotes", 'FOO="BAR BAZ"', {"FOO": "BAR BAZ"}),
    ("Test_parse_with_spaces", "FOO = BAR", {"FOO": "BAR"}),                      # flyctl issue 3002
    ("Test_parse_with_comment", 'FOO="BAR BAZ" # comment', {"FOO": "BAR BAZ"}),   # flyctl issue 4291
    ("Test_parse_with_single_quotes", "FOO='BAR BAZ'\nKEY='value'", {"FOO": "BAR BAZ", "KEY": "value"}),
    ("Test_parse_singleline_triple_quotes",
     'VARIABLE="""my-single-line-multiline-string"""\nANOTHER="""another"""',
     {"VARIABLE": "my-single-line-multiline-string", "ANOTHER": "another"}),
    ("Test_parse_triple_quotes_edge_cases",
     'EMPTY=""""""\nSINGLE="""x"""\nWITHSPACES="""  spaces  """\nMIXED="""line1"""\nNORMAL=regular',
     {"EMPTY": "", "SINGLE": "x", "WITHSPACES": "  spaces  ", "MIXED": "line1", "NORMAL": "regular"}),
    ("Test_parse_singleline_triple_quotes_with_spaces",
     'VARIABLE = """my-single-line-multiline-string"""\nANOTHER = """another"""',
     {"VARIABLE": "my-single-line-multiline-string", "ANOTHER": "another"}),
]


@pytest.mark.parametrize("name,text,expected", PARSER_TEST_GO, ids=[c[0] for c in PARSER_TEST_GO])
def test_sandbox_parser_passes_flyctl_parser_test_go(name: str, text: str, expected: dict[str, str]) -> None:
    assert parse_secrets(text.encode()) == expected


def test_sandbox_parser_follows_go_rules_beyond_parser_test_go() -> None:
    # parser.go:37-39: cut at a '#' preceded by an even number of '"' (v0.3.100), then right-trim spaces
    assert parse_secrets(b"A=pw#1\nB=a # b\nC=\"x#y\"\nD=x\"#y") == {"A": "pw", "B": "a", "C": "x#y", "D": 'x"#y'}
    # parser.go:53-58: one pair of single quotes removed (v0.4.14); only one pair of double quotes
    assert parse_secrets(b"A='quoted'\nB=it's\nC=\"\"q\"\"") == {"A": "quoted", "B": "it's", "C": '"q"'}
    # parser.go:42-45: """x""" on one line is x; an unterminated multi-line value is dropped
    assert parse_secrets(b'A="""x"""\nB="""open\nno end') == {"A": "x"}
    # bufio.Scanner: a line of 64 KiB or more stops the scan silently (scanner.Err() is not checked)
    assert parse_secrets(b"A=1\nB=" + b"x" * 65533 + b"\nC=3\n") == {"A": "1", "B": "x" * 65533, "C": "3"}
    assert parse_secrets(b"A=1\nB=" + b"x" * 65534 + b"\nC=3\n") == {"A": "1"}
    for lone in (b"A='", b'A="', b"A= ' # comment"):  # parser.go:55/58 value[1:0]
        with pytest.raises(GoPanic, match=r"slice bounds out of range \[1:0\]"):
            parse_secrets(lone)
    # helpers/stdin.go:19-40: TrimSpace (unicode.IsSpace) and the 64 KiB cap
    assert read_stdin(b" \t a\r\nb \xc2\xa0\n", 65536) == "a\r\nb"
    assert read_stdin(b"x" * 65536, 65536) == "x" * 65536
    with pytest.raises(ValueError, match="Input exceeded max length of 65536 bytes"):
        read_stdin(b"x" * 65537, 65536)


def test_sandbox_import_panics_like_flyctl_on_a_lone_quote(sandbox) -> None:
    sandbox.create_app("alpha")
    run = sandbox.run("secrets", "import", "-a", "alpha", stdin="A=1\nB='\n")
    # main.go:37-43 recovers the panic (exit 3); sentry.go:262-272 prints "Oops" on stdout
    assert run.returncode == 3
    assert "Oops, something went wrong!" in run.stdout
    assert "slice bounds out of range [1:0]" in run.stdout
    assert _stored(sandbox, "alpha") == {}  # parseSecrets failed before any update


def test_sandbox_set_from_stdin_and_deploy_follow_flyctl(sandbox) -> None:
    sandbox.create_app("alpha")
    run = sandbox.run("secrets", "set", "A=-", "-a", "alpha", "--stage", stdin="  two\nlines \n")
    assert run.returncode == 0, run.stderr
    assert _stored(sandbox, "alpha") == {"A": "two\nlines"}  # TrimSpace
    run = sandbox.run("secrets", "set", "A=-", "-a", "alpha")  # stdin is /dev/null: a character device
    assert run.returncode == 1 and "secret `A` expects standard input but none provided" in run.stderr
    run = sandbox.run("secrets", "set", "A=-", "-a", "alpha", stdin=b"x" * 65537)
    assert "error reading stdin for 'A': Input exceeded max length of 65536 bytes" in run.stderr
    run = sandbox.run("secrets", "deploy", "-a", "alpha")  # deploy.go:54-60: never deployed, no machines
    assert run.returncode == 1
    assert run.stderr.startswith("Error: no machines available to deploy\n")
    assert "Try 'fly deploy' first" in run.stderr


# --------------------------------------------------------------------------------------------
# helpers: the real client against the sandbox; what was stored, straight from state.json
# --------------------------------------------------------------------------------------------

def _client(sandbox) -> FlyClient:
    return FlyClient(FlyctlRunner(sandbox.flyctl, env=sandbox.env))


def _stored(sandbox, app: str) -> dict[str, str]:
    state = json.loads((Path(sandbox.dir) / "state.json").read_text(encoding="utf-8"))
    return {name: s["value"] for name, s in state["apps"][app]["secrets"].items()}


def _secret_calls(sandbox) -> list[list[str]]:
    return [argv for argv in sandbox.argv_log() if argv[:1] == ["secrets"]]


def _transports(value: str) -> tuple[bool, bool]:
    """Oracle from the sandbox's Go ports only (not flytui's encoder): (import keeps it, stdin keeps it).

    Import: parser.go produces a value through exactly one of its branches — bare, one pair of "..." or
    '...', one-line \"\"\"...\"\"\", or a multi-line \"\"\"...\"\"\" block — so trying each branch's
    encoding covers every way of writing it. Stdin: set.go + helpers/stdin.go.
    """
    try:
        data = value.encode()
    except UnicodeEncodeError:
        return False, False
    candidates = [f'"""{value}"""'] if "\n" in value else [value, f'"{value}"', f"'{value}'", f'"""{value}"""']
    via_import = False
    for enc in candidates:
        try:
            via_import = via_import or parse_secrets(f"V={enc}\n".encode()) == {"V": value}
        except (GoPanic, SandboxError):  # a panic or flyctl's parse error: not this way
            pass
    return via_import, len(data) <= 65536 and read_stdin(data, 65536) == value


def _must_refuse(value: str) -> bool:
    """No transport keeps it, or a machine's environment cannot hold it (NUL)."""
    return "\x00" in value or not any(_transports(value))


AWKWARD = {
    "hash": "pa#ss",
    "spaced_hash": "a # b",
    "hash_after_quote": 'x"#y',
    "hash_after_two_quotes": '""#x',
    "apostrophe": "it's",
    "single_quoted": "'quoted'",
    "lone_single_quote": "'",
    "lone_double_quote": '"',
    "double_quoted": '"hello world"',
    "triple_x": '"""x"""',
    "triple_open": '"""',
    "multi_line": "-----BEGIN KEY-----\nAAAA#BB\n\n-----END KEY-----\n",
    "multi_line_hash_first": 'a"#b\nc',
    "multi_line_triple_inside": 'a\nb"""\nc',
    "crlf": "line1\r\nline2",
    "leading_trailing_spaces": "  padded  ",
    "tabs": "\ta\tb\t",
    "literal_backslash_n": "a\\nb",
    "unicode": "pässwörd-密码-🔑",
    "equals": "a=b==c=",
    "dash": "-",
    "empty": "",
    "trailing_cr": "x\r",
    "nbsp_edges": "\xa0x\xa0",
    "five_kb": ("k3y#'\"" * 900)[:5000],
    "seventy_kb": "x" * 70_000,
    "multi_line_crlf_padded": " a\r\nb ",
}
#: values no transport can carry (the oracle above agrees; checked in the test)
REFUSED = {"seventy_kb", "multi_line_crlf_padded"}


@pytest.mark.parametrize("key", list(AWKWARD))
async def test_awkward_value_is_stored_exactly_or_refused(sandbox, key: str) -> None:
    value = AWKWARD[key]
    sandbox.create_app("alpha")
    client = _client(sandbox)
    if key in REFUSED:
        assert _must_refuse(value)
        with pytest.raises(FlyError) as info:
            await client.set_secrets("alpha", {"V": value})
        assert "cannot be passed to flyctl exactly" in info.value.message and info.value.hint
        assert _secret_calls(sandbox) == []  # refused before anything ran
        return
    assert not _must_refuse(value)
    await client.set_secrets("alpha", {"V": value, "AFTER": "z"})
    assert _stored(sandbox, "alpha") == {"V": value, "AFTER": "z"}
    if len(value) > 3:  # values never in argv
        assert not any(value in arg for argv in sandbox.argv_log() for arg in argv)


async def test_awkward_values_in_one_call_mix_transports_and_deploy_once(sandbox) -> None:
    sandbox.create_app("alpha", deployed=True)
    client = _client(sandbox)
    values = {k.upper(): v for k, v in AWKWARD.items() if k not in REFUSED}
    run = await client.set_secrets("alpha", values)
    assert _stored(sandbox, "alpha") == values
    calls = _secret_calls(sandbox)
    assert calls[0][:2] == ["secrets", "import"] and len(calls) >= 2
    assert all(c[:2] == ["secrets", "set"] and c[2].endswith("=-") and c[3:5] == ["-a", "alpha"] for c in calls[1:])
    assert all("--stage" in c for c in calls[:-1]) and "--stage" not in calls[-1]  # the last one applies all
    state = json.loads((Path(sandbox.dir) / "state.json").read_text(encoding="utf-8"))
    assert {s["status"] for s in state["apps"]["alpha"]["secrets"].values()} == {"Deployed"}
    assert run.returncode == 0


async def test_stage_flag_stages_every_call(sandbox) -> None:
    sandbox.create_app("alpha", deployed=True)
    values = {"A": "x\r\ny", "B": "plain", "C": "p\r\nq"}
    await _client(sandbox).set_secrets("alpha", values, stage=True)
    calls = _secret_calls(sandbox)
    assert len(calls) == 3 and all("--stage" in c for c in calls)
    state = json.loads((Path(sandbox.dir) / "state.json").read_text(encoding="utf-8"))
    assert {n: s["value"] for n, s in state["apps"]["alpha"]["secrets"].items()} == values
    assert {s["status"] for s in state["apps"]["alpha"]["secrets"].values()} == {"Staged"}


async def test_failure_after_a_staged_step_says_what_was_staged(sandbox) -> None:
    sandbox.create_app("alpha", deployed=True)
    sandbox.inject_fault("secrets set", fail="failed to update secrets: boom", times=1)
    with pytest.raises(FlyError) as info:
        await _client(sandbox).set_secrets("alpha", {"A": "plain", "B": "x\r\ny"})
    assert "boom" in info.value.message
    assert "Already staged" in info.value.hint and "A" in info.value.hint


def test_refusal_names_the_problem_without_the_value() -> None:
    from flytui.fly.secrets import SecretNotTransportable, plan_secrets

    with pytest.raises(SecretNotTransportable) as info:
        plan_secrets({"PEM": "s3cr3t\r\nline2\n"})
    msg = info.value.message
    assert "carriage return" in msg and "line 1" in msg and "trailing" in msg and "s3cr3t" not in msg
    with pytest.raises(SecretNotTransportable, match="65536 bytes"):
        plan_secrets({"BIG": "y" * 70_000})
    with pytest.raises(ValueError):  # SecretValueError is a ValueError too (older callers)
        plan_secrets({"1BAD": "x"})


# --------------------------------------------------------------------------------------------
# 3. properties: the encoder agrees with the Go ports on every value
# --------------------------------------------------------------------------------------------

_ALPHABET = st.sampled_from(list("ab #\"'=\\\t\r\n\xa0é") + ['"""', "'''", " # "])
_VALUES = st.one_of(st.lists(_ALPHABET, max_size=20).map("".join), st.text(max_size=30))


@settings(max_examples=2000, deadline=None)
@given(_VALUES)
def test_plan_matches_the_go_ports(value: str) -> None:
    from flytui.fly.secrets import SecretNotTransportable, plan_secrets

    via_import, via_stdin = _transports(value)
    try:
        plan = plan_secrets({"V": value})
    except SecretNotTransportable:
        assert _must_refuse(value)
        return
    assert not _must_refuse(value)
    if plan.import_payload is not None:
        assert via_import and parse_secrets(plan.import_payload) == {"V": value}
    else:  # stdin only when no import encoding exists
        (name, data), = plan.stdin_values
        assert not via_import and via_stdin and name == "V" and read_stdin(data, 65536) == value


_APPS = itertools.count()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_VALUES, min_size=1, max_size=4))
def test_arbitrary_values_through_the_sandbox_are_exact_or_refused(sandbox, values: list[str]) -> None:
    app = f"prop-{next(_APPS)}"
    sandbox.create_app(app)
    client = _client(sandbox)
    wanted: dict[str, str] = {}
    for i, value in enumerate(values):
        if not _must_refuse(value):
            wanted[f"V{i}"] = value
        else:
            with pytest.raises(FlyError, match="cannot be passed to flyctl exactly"):
                asyncio.run(client.set_secrets(app, {f"V{i}": value}))
    if wanted:
        asyncio.run(client.set_secrets(app, wanted))
    assert _stored(sandbox, app) == wanted


# --------------------------------------------------------------------------------------------
# 4. a refusal in the UI: a normal error notification (message + hint), nothing run, no traceback
# --------------------------------------------------------------------------------------------

async def test_refusal_is_an_error_notification_in_the_secrets_pane(sandbox) -> None:
    from flytui.ui.app import FlytuiApp
    from flytui.ui.config import Config

    sandbox.create_app("alpha")
    app = FlytuiApp(Config(refresh_interval=60), _client(sandbox), current_app="alpha")
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("3")
        pane = app.main.query_one("#secrets")
        pane.set_secrets("alpha", {"PEM": "top-s3cret\r\nline2 "}, False)
        await until(pilot, lambda: any(n.severity == "error" for n in app._notifications), 15, what="the error")
        [note] = [n for n in app._notifications if n.severity == "error"]
    assert note.title == "secrets set failed"
    assert note.message.startswith("Secret PEM cannot be passed to flyctl exactly")
    assert "carriage return" in note.message and "Nothing was sent to flyctl" in note.message
    assert "top-s3cret" not in note.message
    assert [c for c in _secret_calls(sandbox) if c[1] != "list"] == []  # only the pane's reads ran
