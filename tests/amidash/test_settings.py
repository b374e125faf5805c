import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from amidash import settings


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("true", True), ("Yes", True), ("off", False), ("0", False)]
)
def test_it_parses_booleans(monkeypatch, raw, expected):
    monkeypatch.setenv("SOME_FLAG", raw)
    assert settings.env_bool("SOME_FLAG") is expected


def test_it_rejects_a_bad_boolean(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG must be one of"):
        settings.env_bool("SOME_FLAG")


def test_it_rejects_a_bad_integer(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER must be a whole number"):
        settings.env_int("SOME_NUMBER", 1)


def test_it_rejects_an_integer_below_the_minimum(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        settings.env_int("SOME_NUMBER", 5, minimum=1)


def test_it_splits_lists(monkeypatch):
    monkeypatch.setenv("SOME_HOSTS", " a.example , b.example,, ")
    assert settings.env_list("SOME_HOSTS", []) == ["a.example", "b.example"]


def test_it_requires_a_secret_key_when_debug_is_off(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        settings.load_secret_key(tmp_path, debug=False)


def test_it_generates_the_secret_key_once_for_local_use(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    first = settings.load_secret_key(tmp_path, debug=True)
    assert len(first) > 40
    assert settings.load_secret_key(tmp_path, debug=True) == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_it_prefers_the_secret_key_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "from-env")
    assert settings.load_secret_key(tmp_path, debug=False) == "from-env"


def test_it_refuses_a_database_that_is_not_postgresql():
    with pytest.raises(ImproperlyConfigured, match="must be a PostgreSQL URL"):
        settings.database_config("sqlite:///db.sqlite3")


def test_it_parses_a_postgresql_url():
    config = settings.database_config("postgres://amidash:pw@db.internal:5433/amidash")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.internal", 5433, "amidash")


def test_it_uses_utc():
    from django.conf import settings as django_settings

    assert django_settings.TIME_ZONE == "UTC"
    assert django_settings.USE_TZ is True


def test_a_bad_value_stops_manage_py_with_a_clear_message(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DEBUG": "perhaps", "AMIDASH_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "DEBUG must be one of" in result.stderr


def test_it_requires_a_database_url_when_debug_is_off(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL must be set when DEBUG is off"):
        settings.database_url(tmp_path, debug=False)
    assert not (tmp_path / "pgdata").exists()


def test_manage_py_stops_without_a_database_url_when_debug_is_off(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SECRET_KEY": "x" * 50, "AMIDASH_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "DATABASE_URL must be set when DEBUG is off" in result.stderr
    assert not (tmp_path / "pgdata").exists()


def test_it_reads_approvals_per_action(monkeypatch):
    monkeypatch.setenv("AMIDASH_APPROVALS_REQUIRED", " deregister=2 , disable=1 ")
    assert settings.env_counts("AMIDASH_APPROVALS_REQUIRED") == {"deregister": 2, "disable": 1}
    monkeypatch.delenv("AMIDASH_APPROVALS_REQUIRED")
    assert settings.env_counts("AMIDASH_APPROVALS_REQUIRED") == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("deregister", "must be key=count pairs, not 'deregister'"),
        ("=2", "must be key=count pairs"),
        ("deregister=two", r"\(deregister\) must be a whole number, not 'two'"),
        ("deregister=2,disable=0", r"\(disable\) must be at least 1, not 0"),
    ],
)
def test_it_refuses_malformed_approvals(monkeypatch, raw, message):
    monkeypatch.setenv("AMIDASH_APPROVALS_REQUIRED", raw)
    with pytest.raises(ImproperlyConfigured, match=f"AMIDASH_APPROVALS_REQUIRED {message}"):
        settings.env_counts("AMIDASH_APPROVALS_REQUIRED")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("deregistr=2", "AMIDASH_APPROVALS_REQUIRED names unknown actions: deregistr"),
        ("disable=-1", "AMIDASH_APPROVALS_REQUIRED (disable) must be at least 1, not -1"),
    ],
)
def test_bad_approvals_stop_django_from_starting(tmp_path, raw, message):
    from django.conf import settings as django_settings

    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "amidash.settings",
        "DATABASE_URL": django_settings.DATABASE_URL,
        "SECRET_KEY": "test",
        "AMIDASH_DATA_DIR": str(tmp_path),
        "AMIDASH_APPROVALS_REQUIRED": raw,
    }
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert message in result.stderr


def production_env(tmp_path, **extra: str) -> dict[str, str]:
    """The variables README's "Running it in production" section asks for, and ``extra``."""
    from django.conf import settings as django_settings

    return {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "false",
        "SECRET_KEY": "k7#Qv9!pL2zX@4mN8wR1tY6uE3oI5aS0dF-gH_jK+lZ=cV*bB&nM^qW%eR$tY",
        "ALLOWED_HOSTS": "amidash.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://amidash.example.com",
        "DATABASE_URL": django_settings.DATABASE_URL,
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "AMIDASH_DATA_DIR": str(tmp_path),
        "AMIDASH_PROXY_SSL_HEADER": "X-Forwarded-Proto",
        **extra,
    }


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess:
    from django.conf import settings as django_settings

    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_production_settings_pass_the_deployment_checks(tmp_path):
    result = check_deploy(production_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_a_proxy_that_redirects_itself_can_switch_the_redirect_off(tmp_path):
    result = check_deploy(production_env(tmp_path, AMIDASH_SSL_REDIRECT="false"))
    assert result.returncode != 0
    assert "security.W008" in result.stderr  # Django's own note that the redirect is off


@pytest.mark.parametrize("path", ["/accounts/login/", "/", "/images/", "/requests/"])
def test_every_page_carries_a_policy_without_inline_script_or_style(viewer_client, path):
    response = viewer_client.get(path, follow=True)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert (
        "<script>" not in response.content.decode() and " style=" not in response.content.decode()
    )
