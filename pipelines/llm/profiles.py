"""Where providers come from: the job's inline list or a named profile, and keys from the environment.

A profile file maps profile names to providers and chains::

    local:
      providers:
        - {name: world, base_url: "http://127.0.0.1:8400/v1", model: trawl-extractive}
    openai:
      providers:
        - {name: openai, base_url: "https://api.openai.com/v1", model: gpt-4o-mini,
           api_key_env: OPENAI_API_KEY, rpm: 500, price_input_per_m: 0.15, price_output_per_m: 0.6}
      chains: {default: [openai]}

The file holds environment variable NAMES, never keys; keys are read from the
environment of the process that makes the calls and never leave it.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from pipelines.errors import AuthError, SpecError, SpecProblem
from pipelines.llm.config import LLMSettings, ProviderConfig, ProviderProfile

__all__ = ["PROVIDERS_ENV", "DEFAULT_PROVIDERS_FILE", "providers_file", "resolve_settings", "api_key_for", "check_api_keys"]

PROVIDERS_ENV = "TRAWL_PROVIDERS"
DEFAULT_PROVIDERS_FILE = "~/.config/trawl/providers.yaml"
# Local OpenAI-compatible servers ignore the key, but the SDK insists on one.
NO_KEY = "no-key"


def providers_file(explicit: str | None = None) -> Path:
    """The profile file: ``explicit`` (``--providers``), else ``$TRAWL_PROVIDERS``, else the default path."""
    return Path(explicit or os.environ.get(PROVIDERS_ENV) or DEFAULT_PROVIDERS_FILE).expanduser()


def _load_profiles(path: Path) -> dict:
    if not path.is_file():
        raise SpecError([SpecProblem("llm.profile", f"profile file {path} does not exist")], source=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SpecError([SpecProblem("", f"not valid YAML: {exc}")], source=str(path)) from None
    if not isinstance(data, dict):
        raise SpecError([SpecProblem("", "expected a mapping of profile name -> {providers, chains}")], source=str(path))
    return data


def resolve_settings(settings: LLMSettings, providers_path: str | None = None) -> LLMSettings:
    """``settings`` with a named profile replaced by its providers and chains (a copy; no profile left).

    Raises ``SpecError`` naming the file and field path when the profile is
    missing or invalid, and when no provider is configured at all.
    """
    if not settings.profile:
        if not settings.providers:
            raise SpecError([SpecProblem("llm.providers", "no LLM provider configured (set llm.providers or llm.profile)")])
        return settings
    path = providers_file(providers_path or settings.providers_file)
    profiles = _load_profiles(path)
    raw = profiles.get(settings.profile)
    if raw is None:
        known = ", ".join(sorted(map(str, profiles))) or "none"
        raise SpecError([SpecProblem("llm.profile", f"no profile {settings.profile!r} in {path} (known: {known})")])
    try:
        profile = ProviderProfile.model_validate(raw)
    except ValidationError as exc:
        problems = [
            SpecProblem(".".join([settings.profile, *map(str, e["loc"])]), e["msg"]) for e in exc.errors(include_url=False)
        ]
        raise SpecError(problems, source=str(path)) from None
    data = settings.model_dump(exclude={"profile", "providers", "chains"})
    try:
        return LLMSettings(**data, providers=profile.providers, chains=profile.chains)
    except ValidationError as exc:
        raise SpecError([SpecProblem(settings.profile, e["msg"]) for e in exc.errors(include_url=False)], source=str(path)) from None


def api_key_for(provider: ProviderConfig) -> str:
    """The provider's key from its environment variable; ``AuthError`` naming the variable when unset."""
    if not provider.api_key_env:
        return NO_KEY
    key = os.environ.get(provider.api_key_env, "")
    if not key.strip():
        raise AuthError(
            f"provider {provider.name!r}: environment variable {provider.api_key_env} is not set "
            "(api_key_env names the variable that holds the API key)",
            reason="missing_api_key",
        )
    return key.strip()


def check_api_keys(settings: LLMSettings) -> dict[str, str]:
    """Every provider's key, by provider name; fails on the first missing one."""
    return {p.name: api_key_for(p) for p in settings.providers}
