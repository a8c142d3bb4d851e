"""deploy/kubernetes: every manifest validates against the Kubernetes API
schemas (kubernetes-validate, offline, strict: unknown fields are errors) of
the oldest and newest Kubernetes we support, and the pieces hold together
(names referred to exist, selectors select, ports and probes name real
ports, the collector's member count is its replica count, settings are
documented ones). The base is rendered the way kustomize renders what it
uses: resources, the site ConfigMap generator, common labels, the image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gudang.site import load_site

ROOT = Path(__file__).resolve().parents[2]
KUBE = ROOT / "deploy" / "kubernetes"
BASE = KUBE / "base"
VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]  # pod-index label: 1.28+
KUSTOMIZATION_KEYS = {"apiVersion", "kind", "labels", "resources", "configMapGenerator", "images"}

Doc = dict[str, Any]


def _load(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _kustomization() -> Doc:
    k = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert isinstance(k, dict)
    return k


def render() -> list[Doc]:
    k = _kustomization()
    docs = [d for r in k["resources"] for d in _load(BASE / r)]
    for g in k.get("configMapGenerator", []):
        data = {Path(f).name: (BASE / f).read_text() for f in g["files"]}
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": g["name"]},
                     "data": data})  # fmt: skip
    for entry in k.get("labels", []):
        for d in docs:
            d["metadata"].setdefault("labels", {}).update(entry["pairs"])
    images = {i["name"]: f"{i['newName']}:{i['newTag']}" for i in k.get("images", [])}
    for c in _containers(docs):
        c["image"] = images.get(c["image"], c["image"])
    return docs


def _templates(docs: list[Doc]) -> list[Doc]:
    return [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")]


def _containers(docs: list[Doc]) -> list[Doc]:
    return [c for d in _templates(docs) for c in d["spec"]["template"]["spec"]["containers"]]


def _named(docs: list[Doc], kind: str) -> dict[str, Doc]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_the_kustomization_uses_what_kustomize_knows_and_lists_every_manifest() -> None:
    k = _kustomization()
    assert k["apiVersion"] == "kustomize.config.k8s.io/v1beta1" and k["kind"] == "Kustomization"
    assert set(k) <= KUSTOMIZATION_KEYS, set(k) - KUSTOMIZATION_KEYS
    generated = {f for g in k.get("configMapGenerator", []) for f in g["files"]}
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"} - generated
    assert set(k["resources"]) == on_disk  # nothing forgotten, nothing missing
    for image in k["images"]:
        assert set(image) == {"name", "newName", "newTag"}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(version: str) -> None:
    docs = render() + _load(KUBE / "secrets.example.yaml")
    assert {d["kind"] for d in docs} >= {
        "StatefulSet", "Deployment", "Service", "ConfigMap", "Secret",
        "PersistentVolumeClaim", "PodDisruptionBudget",
    }  # fmt: skip
    for d in docs:
        try:
            kubernetes_validate.validate(d, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{d['kind']} {d['metadata']['name']} on {version}: {exc.message} "
                        f"at {'.'.join(map(str, exc.path))}")  # fmt: skip


def test_names_selectors_ports_and_probes_hold_together() -> None:
    docs = render()
    config_maps = _named(docs, "ConfigMap")
    secrets = _named(_load(KUBE / "secrets.example.yaml"), "Secret")
    claims = _named(docs, "PersistentVolumeClaim")
    for w in _templates(docs):
        pod = w["spec"]["template"]
        labels = pod["metadata"]["labels"]
        assert w["spec"]["selector"]["matchLabels"].items() <= labels.items()
        for v in pod["spec"].get("volumes", []):
            if "configMap" in v:
                assert v["configMap"]["name"] in config_maps
            if "persistentVolumeClaim" in v:
                assert v["persistentVolumeClaim"]["claimName"] in claims
        templates = {t["metadata"]["name"] for t in w["spec"].get("volumeClaimTemplates", [])}
        volumes = {v["name"] for v in pod["spec"].get("volumes", [])} | templates
        for c in pod["spec"]["containers"]:
            assert {m["name"] for m in c["volumeMounts"]} <= volumes
            ports = {p["name"] for p in c["ports"]}
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert c[probe]["httpGet"]["port"] in ports, (c["name"], probe)
                assert c[probe]["httpGet"]["path"] in ("/healthz", "/readyz")
            for ref in c.get("envFrom", []):
                assert ref["configMapRef"]["name"] in config_maps
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref is not None:  # the example Secret has every key the base uses
                    assert ref["key"] in secrets[ref["name"]]["stringData"], ref
            res = c["resources"]
            assert {"cpu", "memory"} <= set(res["requests"]) and "memory" in res["limits"]
            sec = c["securityContext"]
            assert sec["readOnlyRootFilesystem"] and sec["allowPrivilegeEscalation"] is False
    for svc in _named(docs, "Service").values():
        selected = [w for w in _templates(docs)
                    if svc["spec"]["selector"].items()
                    <= w["spec"]["template"]["metadata"]["labels"].items()]  # fmt: skip
        assert len(selected) == 1, svc["metadata"]["name"]
        ports = {p["name"] for c in selected[0]["spec"]["template"]["spec"]["containers"]
                 for p in c["ports"]}  # fmt: skip
        assert all(p["targetPort"] in ports for p in svc["spec"]["ports"])


def test_the_collector_is_a_statefulset_of_partition_members() -> None:
    docs = render()
    (sts,) = _named(docs, "StatefulSet").values()
    headless = _named(docs, "Service")[sts["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    # Members start together and are restarted together, never rolled.
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    assert sts["spec"]["updateStrategy"]["type"] == "OnDelete"
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in c["env"]}
    assert env["GUDANG_COLLECTOR_MEMBERS"]["value"] == str(sts["spec"]["replicas"])
    ordinal = env["GUDANG_COLLECTOR_MEMBER"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert ordinal == "metadata.labels['apps.kubernetes.io/pod-index']"
    # One broker user per member (the shipped ACL: gudang mqtt-acl --collector-members N).
    assert env["GUDANG_MQTT__USERNAME"]["value"] == "collector-$(GUDANG_COLLECTOR_MEMBER)"
    names = [e["name"] for e in c["env"]]
    assert names.index("GUDANG_COLLECTOR_MEMBER") < names.index("GUDANG_MQTT__USERNAME")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert env["GUDANG_COLLECTOR_SPOOL"]["value"].startswith(mounts["data"] + "/")
    assert env["GUDANG_COLLECTOR_STATE"]["value"].startswith(mounts["data"] + "/")
    (api,) = _named(docs, "Deployment").values()
    assert api["spec"]["replicas"] == 1 and api["spec"]["strategy"]["type"] == "Recreate"


def test_settings_are_documented_ones_and_the_site_file_loads(tmp_path: Path) -> None:
    documented = (ROOT / "docs" / "configuration.md").read_text()
    docs = render()
    names = set(_named(docs, "ConfigMap")["gudang-config"]["data"])
    names |= {e["name"] for c in _containers(docs) for e in c.get("env", [])}
    for name in sorted(names):
        assert f"`{name}`" in documented or f"`{name}`," in documented, name
    site_text = _named(docs, "ConfigMap")["gudang-site"]["data"]["site.yaml"]
    (tmp_path / "site.yaml").write_text(site_text)
    site = load_site(tmp_path / "site.yaml")
    assert site.devices and not site.warnings


@pytest.mark.parametrize("version", VERSIONS)
def test_the_validator_refuses_what_kubernetes_would(version: str) -> None:
    """Not a no-op: a misspelt field and a wrong type are errors."""
    bad_field = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                 "spec": {"selectr": {"a": "b"}}}  # fmt: skip
    bad_type = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "x"},
                "spec": {"replicas": "three", "serviceName": "x", "selector": {},
                         "template": {}}}  # fmt: skip
    for doc in (bad_field, bad_type):
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(doc, version, strict=True)
