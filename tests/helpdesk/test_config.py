"""Configuration: every default in config.toml, and mistakes reported by file
and key with exit status 2."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from helpdesk.config import load_config
from helpdesk.config_loader import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_the_repository_file_spells_out_the_built_in_defaults() -> None:
    from_file = load_config(ROOT / "config.toml", environ={})
    built_in = load_config(environ={})
    assert replace(from_file, base_dir=".") == replace(built_in, base_dir=".")


def test_relative_paths_follow_the_file(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text('[app]\ndata_dir = "data"\n')
    config = load_config(tmp_path / "c.toml", environ={})
    assert config.data_path == tmp_path / "data"
    assert config.database_url == f"sqlite:///{tmp_path / 'data' / 'tanya.db'}"


def test_database_url_comes_from_the_environment_first(tmp_path: Path) -> None:
    config = load_config(environ={"TANYA_DATABASE_URL": "postgresql+psycopg://x@h/db"})
    assert config.database_url == "postgresql+psycopg://x@h/db"


def test_config_path_from_environment(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("[server]\nport = 9000\n")
    assert load_config(environ={"TANYA_CONFIG": str(tmp_path / "c.toml")}).server.port == 9000


def test_secrets_are_read_from_the_named_variable(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text(
        '[channels.telegram]\nenabled = true\ntoken_env = "BOT_TOKEN"\n')
    config = load_config(tmp_path / "c.toml", environ={"BOT_TOKEN": "123:abc"})
    assert config.channels.telegram.token == "123:abc"


MISTAKES = [
    ("[server]\nport = \"eighty\"\n", "server.port", "expected an integer"),
    ("[server]\nprot = 80\n", "server.prot", "unknown key"),
    ("[knowledge_base]\nsuggest_min = 90\nauto_answer_min = 80\n",
     "knowledge_base.auto_answer_min", "thresholds"),
    ("[[channels.email]]\nname = \"a\"\nhost = \"h\"\naddress = \"a@b\"\n",
     "channels.email[0].username", "missing key"),
    ("[[channels.email]]\nname = \"a\"\nhost = \"h\"\nusername = \"u\"\naddress = \"a@b\"\n"
     "password_env = \"NOT_SET_ANYWHERE\"\n",
     "channels.email[0].password_env", "NOT_SET_ANYWHERE is not set"),
    ("[channels.telegram]\nenabled = true\n", "channels.telegram.token_env",
     "TANYA_TELEGRAM_TOKEN is not set"),
    ("[channels.telegram]\ntoken = \"123:abc\"\n", "channels.telegram.token",
     "secrets never live in the file"),
    ("[channels.smtp]\nsecurity = \"ssl\"\n", "channels.smtp.security", "must be one of"),
    ("[app]\ntimezone = \"Mars/Olympus\"\n", "app.timezone", "unknown time zone"),
    ("[business_hours.week]\nmon = [\"8-16\"]\n", "business_hours.week.mon", "HH:MM-HH:MM"),
    ("[server\nport = 1\n", "(syntax)", "Expected"),
]


@pytest.mark.parametrize(("text", "key", "says"), MISTAKES, ids=[m[1] for m in MISTAKES])
def test_mistakes_name_the_file_and_key(tmp_path: Path, text: str, key: str,
                                        says: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.key == key
    assert says in caught.value.problem
    assert str(path) in str(caught.value)


def test_the_command_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nport = \"eighty\"\n")
    result = subprocess.run([sys.executable, "-m", "helpdesk.cli", "--config", str(path),
                             "db", "upgrade"], capture_output=True, text=True, cwd=tmp_path,
                            check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"tanya-ptsp: configuration error: {path}: server.port: "
                                     "expected an integer, got a string ('eighty')")
    assert "Traceback" not in result.stderr


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "helpdesk.cli", "--config",
                             str(tmp_path / "nope.toml"), "db", "upgrade"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "no such file" in result.stderr


def test_secrets_resolve_without_any_file() -> None:
    config = load_config(environ={"TANYA_API_TOKEN": "t0ken", "TANYA_ADMIN_PASSWORD": "pw"})
    assert config.server.api_token == "t0ken"
    assert config.app.admin_password == "pw"
