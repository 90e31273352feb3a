"""The cluster files a user deploys with: Ray's own launcher validation, offline, and KubeRay's shape.

A typo in a field name of ray-cluster.yaml or cluster/launcher/onprem.yaml fails
here (Ray's JSON schema forbids unknown fields), not on `ray up` in front of a
cloud bill. No cloud call is made: prepare_config only merges Ray's bundled
defaults.
"""

from __future__ import annotations

import copy
import logging
import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER_FILES = [ROOT / "ray-cluster.yaml", ROOT / "cluster" / "launcher" / "onprem.yaml"]
KUBERAY_FILE = ROOT / "cluster" / "launcher" / "kuberay.yaml"


@pytest.fixture(autouse=True)
def _quiet_autoscaler():
    logging.getLogger("ray.autoscaler").setLevel(logging.WARNING)


def _validate(config: dict) -> dict:
    prepared = prepare_config(copy.deepcopy(config))
    validate_config(prepared)
    return prepared


@pytest.mark.parametrize("path", LAUNCHER_FILES, ids=lambda p: p.name)
def test_launcher_file_passes_rays_validation(path):
    prepared = _validate(yaml.safe_load(path.read_text()))
    assert prepared["head_node_type"] in prepared["available_node_types"]


@pytest.mark.parametrize("path", LAUNCHER_FILES, ids=lambda p: p.name)
def test_a_misspelled_field_fails_validation(path):
    config = yaml.safe_load(path.read_text())
    config["idle_timeout_minuts"] = config.pop("idle_timeout_minutes")
    with pytest.raises(jsonschema.ValidationError, match="idle_timeout_minuts"):
        _validate(config)


def test_aws_node_types_keep_extraction_off_the_head():
    config = yaml.safe_load((ROOT / "ray-cluster.yaml").read_text())
    types = config["available_node_types"]
    assert types[config["head_node_type"]]["resources"] == {"CPU": 0}
    broken = copy.deepcopy(config)
    broken["available_node_types"]["worker"]["node_confg"] = broken["available_node_types"]["worker"].pop("node_config")
    with pytest.raises(jsonschema.ValidationError):
        _validate(broken)


@pytest.mark.parametrize("path", LAUNCHER_FILES, ids=lambda p: p.name)
def test_launcher_installs_trawl_with_its_pins_and_enables_token_auth(path):
    config = yaml.safe_load(path.read_text())
    setup = " ".join(config["setup_commands"])
    assert re.search(r"pip install .*-e ~/trawl", setup), "installs the shipped checkout (pyproject.toml pins)"
    assert config["file_mounts"]["~/trawl"] == "."
    assert "~/.ray/auth_token" in config["file_mounts"]
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        start = [c for c in config[key] if "ray start" in c]
        assert start and all("RAY_AUTH_MODE=token" in c for c in start), key


def _containers(template: dict) -> list[dict]:
    return template["spec"]["containers"]


def test_kuberay_manifest_has_the_structure_kuberay_requires():
    doc = yaml.safe_load(KUBERAY_FILE.read_text())
    assert doc["apiVersion"] == "ray.io/v1" and doc["kind"] == "RayCluster"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", doc["metadata"]["name"])
    spec = doc["spec"]
    import ray

    assert spec["rayVersion"] == ray.__version__
    head = spec["headGroupSpec"]
    assert set(head) <= {"rayStartParams", "template", "serviceType", "headService", "enableIngress"}
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert all(isinstance(v, str) for v in head["rayStartParams"].values()), "rayStartParams values are strings"
    groups = spec["workerGroupSpecs"]
    assert groups
    for group in groups:
        assert {"groupName", "rayStartParams", "template"} <= set(group)
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
    for template in [head["template"]] + [g["template"] for g in groups]:
        containers = _containers(template)
        assert containers and all(c.get("name") and c.get("image") for c in containers)
        env = {e["name"]: e for e in containers[0].get("env", [])}
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["key"]
        mounts = {m["name"] for c in containers for m in c.get("volumeMounts", [])}
        volumes = {v["name"] for v in template["spec"].get("volumes", [])}
        assert mounts <= volumes, "every volumeMount names a volume of the pod"
    ports = {p["name"]: p["containerPort"] for p in _containers(head["template"])[0]["ports"]}
    assert ports["dashboard"] == 8265 and ports["gcs-server"] == 6379


def test_dockerfile_installs_the_packages_trawl_imports():
    text = (ROOT / "cluster" / "launcher" / "Dockerfile").read_text()
    assert re.search(r"^FROM rayproject/ray:" + re.escape(__import__("ray").__version__) + r"-py311", text, re.M)
    for package in ("pipelines", "actors", "cluster"):
        assert f"COPY --chown=ray:users {package} " in text
    assert "pip install" in text and "pyproject.toml" in text
