"""Provider profiles, per-stage chains and API keys from the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipelines.errors import AuthError, SpecError
from pipelines.llm.config import LLMSettings
from pipelines.llm.profiles import api_key_for, providers_file, resolve_settings

PROFILES = """
cheap-and-strong:
  providers:
    - {name: cheap, base_url: "http://127.0.0.1:1/v1", model: small, rpm: 60, price_input_per_m: 0.1}
    - {name: strong, base_url: "http://127.0.0.1:2/v1", model: large, api_key_env: TRAWL_TEST_STRONG_KEY}
  chains:
    judge: [cheap, strong]
    default: [strong, cheap]
broken:
  providers:
    - {name: x, base_url: "http://h/v1", model: m, rpm: -1, colour: blue}
"""


@pytest.fixture
def profile_file(tmp_path):
    path = tmp_path / "providers.yaml"
    path.write_text(PROFILES)
    return path


def test_a_named_profile_supplies_providers_and_chains(profile_file):
    settings = resolve_settings(LLMSettings(profile="cheap-and-strong", max_attempts_per_provider=2), str(profile_file))
    assert [p.name for p in settings.chain_for("judge")] == ["cheap", "strong"]
    assert [p.name for p in settings.chain_for("summarize")] == ["strong", "cheap"]
    assert settings.max_attempts_per_provider == 2 and settings.profile is None


def test_profile_file_from_the_environment(profile_file, monkeypatch):
    monkeypatch.setenv("TRAWL_PROVIDERS", str(profile_file))
    assert providers_file() == profile_file
    assert len(resolve_settings(LLMSettings(profile="cheap-and-strong")).providers) == 2


def test_unknown_profile_lists_the_known_ones(profile_file):
    with pytest.raises(SpecError, match="known: broken, cheap-and-strong"):
        resolve_settings(LLMSettings(profile="nope"), str(profile_file))


def test_invalid_profile_reports_every_problem_with_its_path(profile_file):
    with pytest.raises(SpecError) as info:
        resolve_settings(LLMSettings(profile="broken"), str(profile_file))
    paths = {p.path for p in info.value.problems}
    assert {"broken.providers.0.rpm", "broken.providers.0.colour"} <= paths


def test_missing_profile_file_is_a_clear_error(tmp_path):
    with pytest.raises(SpecError, match="does not exist"):
        resolve_settings(LLMSettings(profile="x"), str(tmp_path / "none.yaml"))


def test_no_provider_at_all_is_an_error():
    with pytest.raises(SpecError, match="no LLM provider"):
        resolve_settings(LLMSettings())


def test_chains_must_name_declared_providers():
    with pytest.raises(ValidationError, match="unknown provider"):
        LLMSettings(providers=[{"name": "a", "base_url": "http://h/v1", "model": "m"}], chains={"judge": ["b"]})


def test_keys_come_from_the_named_variable_and_errors_never_contain_them(profile_file, monkeypatch):
    settings = resolve_settings(LLMSettings(profile="cheap-and-strong"), str(profile_file))
    strong = settings.chain_for("summarize")[0]
    monkeypatch.delenv("TRAWL_TEST_STRONG_KEY", raising=False)
    with pytest.raises(AuthError, match="TRAWL_TEST_STRONG_KEY is not set"):
        api_key_for(strong)
    monkeypatch.setenv("TRAWL_TEST_STRONG_KEY", "sk-abc")
    assert api_key_for(strong) == "sk-abc"
    assert api_key_for(settings.chain_for("judge")[0]) == "no-key"  # local servers need none
