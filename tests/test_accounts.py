"""Issue 19 accounts file (flytui/fly/accounts.py): token sources, never a token in the file, and the environment
flyctl reads (internal/config/config.go applyEnv + internal/env/env.go First @ ad0172f)."""
from __future__ import annotations

import pytest

from flytui.fly.accounts import Account, AccountsError, FleetApp, load_accounts, parse_accounts


def test_parse_accounts_and_defaults() -> None:
    accs = parse_accounts('[[account]]\nname = "me"\n\n[[account]]\nname = "work"\ntoken = "env:FLY_WORK"\n'
                          'read_only = true\norgs = "acme"\nmust_stay_up = ["api", "shop-*"]\n')
    assert accs[0] == Account("me")
    assert accs[1].token_source == "env:FLY_WORK" and accs[1].read_only and accs[1].orgs == ("acme",)
    assert accs[1].must_stay_up_app("shop-eu") and not accs[1].must_stay_up_app("blog")


@pytest.mark.parametrize("text, match", [
    ('[[account]]\nname = "a"\ntoken = "fo1_abcdef"\n', "never goes in this file"),
    ('[[account]]\nname = "a"\n[[account]]\nname = "a"\n', "used twice"),
    ('[[account]]\ntoken = "fly"\n', "name is required"),
    ('[[account]]\nname = "a"\nread_only = "yes"\n', "read_only"),
    ("x = 1\n", "no \\[\\[account\\]\\]"),
    ("[[account]\n", "invalid TOML"),
])
def test_parse_accounts_errors(text: str, match: str) -> None:
    with pytest.raises(AccountsError, match=match):
        parse_accounts(text)


def test_child_env_sets_both_token_variables_or_forces_flyctls_login() -> None:
    # FLY_ACCESS_TOKEN is read first and wins even when empty (env.First uses os.LookupEnv): set both
    env = Account("work", "env:FLY_WORK").child_env({"FLY_WORK": " tok \n"})
    assert env == {"FLY_ACCESS_TOKEN": "tok", "FLY_API_TOKEN": "tok"}
    assert Account("me").child_env({}) == {"FLY_ACCESS_TOKEN": ""}  # "" -> flyctl uses its config file
    with pytest.raises(AccountsError, match="FLY_WORK is not set"):
        Account("work", "env:FLY_WORK").child_env({})


def test_no_file_means_the_consoles_own_login(tmp_path) -> None:
    assert load_accounts(tmp_path / "missing.toml") == [Account("default", implicit=True)]


def test_fleet_warnings() -> None:
    acct = Account("w", must_stay_up=("api",))
    assert FleetApp(acct, "o", "api", scales_to_zero=True).warning()[1] == "warning"
    assert FleetApp(acct, "o", "blog", scales_to_zero=True).warning()[1] == "info"
    assert FleetApp(acct, "o", "api", machines=2, started=1, min_running=2).warning()[1] == "error"
    assert FleetApp(acct, "o", "api", machines=2, started=2, min_running=2).warning() == ("", "")
