#!/usr/bin/env bash
# Checks the deployment files, with no cluster and no Docker engine:
#
# - the image tag in deploy/k8s/kustomization.yaml is the crate's version (root Cargo.toml);
# - deploy/k8s renders (kubectl kustomize, or kustomize) alone, with each of its components and
#   with all of them; every object rendered is valid: core kinds against Kubernetes' schemas
#   (kubernetes-validate --strict), KEDA and prometheus-operator kinds against their CRDs'
#   schemas in deploy/schemas/ (unknown fields rejected); the amends image carries that tag, no
#   Ingress routes /metrics, and the autoscaler's Prometheus queries name only metrics amends
#   exports (deploy/observability/metrics.txt);
# - deploy/compose.yaml is valid against the Compose specification's schema, publishes ports on
#   127.0.0.1 only, pins every image's tag, and `docker compose config` accepts it (where the
#   compose plugin is installed; it needs no engine).
#
#   deploy/check.sh
#
# Needs python3 (jsonschema, PyYAML and kubernetes-validate are installed with pip when missing)
# and kubectl or kustomize. Prints each check; exits non-zero if any failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
readonly here
readonly root="${here%/*}"
readonly k8s="$here/k8s"
readonly schemas="$here/schemas"
readonly compose="$here/compose.yaml"
# The oldest Kubernetes the manifests are meant for; the newest kubernetes-validate knows is
# checked too.
readonly OLDEST_KUBERNETES=1.30.0

failures=0
step() { printf '\n== %s\n' "$*"; }
pass() { printf 'ok    %s\n' "$*"; }
fail() {
  printf 'FAIL  %s\n' "$*"
  failures=$((failures + 1))
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# --- tools --------------------------------------------------------------------------------------
step "tools"
command -v python3 >/dev/null 2>&1 || { echo "python3 is needed" >&2; exit 1; }
missing=()
python3 -c 'import jsonschema' 2>/dev/null || missing+=(jsonschema)
python3 -c 'import yaml' 2>/dev/null || missing+=(PyYAML)
python3 -c 'import kubernetes_validate' 2>/dev/null || missing+=(kubernetes-validate)
if ((${#missing[@]} > 0)); then
  echo "installing with pip: ${missing[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${missing[@]}"
fi
if command -v kubectl >/dev/null 2>&1; then
  render=(kubectl kustomize)
elif command -v kustomize >/dev/null 2>&1; then
  render=(kustomize build)
else
  # A machine without either still checks the tag and the compose file; say loudly what it skips.
  render=()
  echo "WARNING: neither kubectl nor kustomize is installed: deploy/k8s is NOT rendered or validated"
fi
echo "rendering with: ${render[*]:-nothing}"
# Run as a module: no dependence on pip's script directory being on PATH.
kubernetes_validate() { python3 -m kubernetes_validate "$@"; }
echo "validating with: kubernetes-validate $(kubernetes_validate --version 2>&1), jsonschema $(python3 -c \
  'import importlib.metadata as m; print(m.version("jsonschema"))')"

# The checks that need a parser, in one Python helper (standard library, PyYAML, jsonschema).
cat >"$tmp/check.py" <<'PY'
import json, os, re, sys, tomllib
import jsonschema, yaml

def crate_version(cargo_toml):
    with open(cargo_toml, "rb") as f:
        print(tomllib.load(f)["package"]["version"])

def kustomize_tag(kustomization):
    k = yaml.safe_load(open(kustomization))
    print(next((i.get("newTag", "") for i in k.get("images", []) if i.get("name") == "amends"), ""))

def components(kustomization):
    """The components a kustomization lists, one a line."""
    k = yaml.safe_load(open(kustomization))
    for c in k.get("components") or []:
        print(c)

def is_component(kustomization):
    sys.exit(0 if yaml.safe_load(open(kustomization)).get("kind") == "Component" else 1)

def strict(schema):
    """Rejects undeclared fields, as the API server's strict field validation does: objects that
    declare properties allow no others unless they say x-kubernetes-preserve-unknown-fields."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [strict(v) for v in schema]
    return schema

def exposes_metrics(path):
    p, kind = path.get("path", "/"), path.get("pathType")
    if p == "/metrics":
        return True
    # Prefix (and ImplementationSpecific, usually a prefix) match whole path elements.
    return kind != "Exact" and "/metrics".startswith(p.rstrip("/") + "/")

def k8s(rendered, schema_dir, version, core_out, metrics_list):
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    exported = None
    if os.path.exists(metrics_list):
        exported = {l.strip() for l in open(metrics_list) if l.strip() and not l.startswith("#")}
    failed, core = 0, []
    def report(ok, what):
        nonlocal failed
        print(("ok    " if ok else "FAIL  ") + what)
        failed += not ok
    for d in docs:
        api, kind, name = d.get("apiVersion", ""), d.get("kind", ""), d["metadata"]["name"]
        what = f"{kind}/{name}"
        schema_file = os.path.join(schema_dir, f"{api.replace('/', '_')}_{kind}.json")
        if os.path.exists(schema_file):
            v = jsonschema.Draft7Validator(strict(json.load(open(schema_file))))
            errors = sorted(v.iter_errors(d), key=lambda e: list(e.absolute_path))
            report(not errors, f"{what} against its CRD schema ({os.path.basename(schema_file)})")
            for e in errors:
                print(f"        {'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}")
        elif "." in api.split("/")[0] and not api.split("/")[0].endswith(".k8s.io"):
            report(False, f"{what}: {api} has no schema in deploy/schemas/ (add its CRD's)")
        else:
            core.append(d)
        if kind == "ScaledObject":
            # A metric renamed in the code would leave the query empty, read as 0: no scaling.
            for t in d["spec"].get("triggers", []):
                if t.get("type") != "prometheus":
                    continue
                used = set(re.findall(r"\bamends_[a-z0-9_]+", t["metadata"].get("query", "")))
                if exported is None:
                    print(f"SKIP  {what} trigger {t.get('name')}: no {metrics_list} to check {sorted(used)} against")
                    continue
                unknown = sorted(used - exported)
                report(used and not unknown, f"{what} trigger {t.get('name')} queries exported metrics "
                       f"{sorted(used)}" + (f"; not in metrics.txt: {unknown}" if unknown else ""))
        if kind == "Deployment" and name == "amends":
            for c in d["spec"]["template"]["spec"]["containers"]:
                tag = c["image"].rsplit("/", 1)[-1].partition(":")[2]
                report(tag == version, f"{what} runs image {c['image']} (tag must be {version})")
        if kind == "Ingress":
            spec = d.get("spec", {})
            bad = [p["path"] for r in spec.get("rules", []) for p in r.get("http", {}).get("paths", [])
                   if exposes_metrics(p)]
            if "defaultBackend" in spec:
                bad.append("(defaultBackend)")
            report(not bad, f"{what} does not route /metrics" + (f": {bad}" if bad else ""))
    with open(core_out, "w") as f:
        yaml.safe_dump_all(core, f, sort_keys=False)
    sys.exit(min(failed, 100))  # the number of failed checks

def compose(path, schema_file):
    doc = yaml.safe_load(open(path))
    failed = 0
    def report(ok, what):
        nonlocal failed
        print(("ok    " if ok else "FAIL  ") + what)
        failed += not ok
    v = jsonschema.Draft7Validator(json.load(open(schema_file)))
    errors = sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
    report(not errors, "compose.yaml against the Compose specification's schema")
    for e in errors:
        print(f"        {'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}")
    for name, svc in (doc.get("services") or {}).items():
        for p in svc.get("ports") or []:
            ip = p.get("host_ip") if isinstance(p, dict) else str(p).split(":")[0]
            report(ip == "127.0.0.1", f"service {name} publishes {p} on 127.0.0.1 only")
        image = svc.get("image")
        if image:
            tag = image.rsplit("/", 1)[-1].partition(":")[2]
            report(tag not in ("", "latest"), f"service {name} pins its image tag ({image})")
    sys.exit(min(failed, 100))  # the number of failed checks

globals()[sys.argv[1].replace("-", "_")](*sys.argv[2:])
PY
check() { python3 "$tmp/check.py" "$@"; }

# --- image tag = crate version ------------------------------------------------------------------
step "image tag is the crate's version"
version=$(check crate-version "$root/Cargo.toml")
tag=$(check kustomize-tag "$k8s/kustomization.yaml")
if [[ $tag == "$version" ]]; then
  pass "deploy/k8s/kustomization.yaml images amends newTag $tag = Cargo.toml version $version"
else
  fail "deploy/k8s/kustomization.yaml images amends newTag '$tag' != Cargo.toml version '$version'"
fi

# --- Kubernetes ---------------------------------------------------------------------------------
# Renders one kustomization into $tmp/<label>.yaml and validates every object in it.
validate_render() {
  local label=$1 dir=$2 out="$tmp/$1.yaml" core="$tmp/$1.core.yaml"
  step "kubernetes: $label"
  if ! "${render[@]}" "$dir" >"$out" 2>"$tmp/render.err"; then
    fail "$label does not render:"
    sed 's/^/        /' "$tmp/render.err"
    return
  fi
  pass "$label renders ($(grep -c '^kind:' "$out") objects)"
  check k8s "$out" "$schemas" "$version" "$core" "$here/observability/metrics.txt" || failures=$((failures + $?))
  local args
  for args in "-k $OLDEST_KUBERNETES" ""; do
    # kubernetes-validate passes a kind it has no schema for with a warning: any warning fails.
    # shellcheck disable=SC2086 # $args is empty or one option and its value
    if kubernetes_validate --strict $args "$core" >"$tmp/kv.out" 2>&1 && ! grep -q WARN "$tmp/kv.out"; then
      pass "core kinds valid (kubernetes-validate --strict${args:+ $args}; $(grep -c passed "$tmp/kv.out") objects)"
    else
      fail "core kinds (kubernetes-validate --strict${args:+ $args}):"
      grep -v '^INFO' "$tmp/kv.out" | sed 's/^/        /'
    fi
  done
}

# An overlay in $tmp with the core as its resource and the given components: how a cluster with
# those CRDs would use them. Paths are relative, as kustomize requires.
overlay() {
  local dir=$1 rel c
  shift
  mkdir -p "$dir"
  rel=$(realpath --relative-to="$dir" "$k8s")
  {
    echo "apiVersion: kustomize.config.k8s.io/v1beta1"
    echo "kind: Kustomization"
    echo "resources: [$rel]"
    echo "components:"
    for c in "$@"; do echo "  - $rel/$c"; done
  } >"$dir/kustomization.yaml"
}

if ((${#render[@]} > 0)); then
validate_render core "$k8s"

# Every component not already listed in the core's kustomization, one at a time, then all.
mapfile -t listed < <(check components "$k8s/kustomization.yaml")
extra=()
for kfile in "$k8s"/*/kustomization.yaml; do
  name=$(basename "$(dirname "$kfile")")
  check is-component "$kfile" || continue
  [[ " ${listed[*]} " == *" $name "* ]] && continue
  extra+=("$name")
done
for name in "${extra[@]}"; do
  overlay "$tmp/with-$name" "$name"
  validate_render "core+$name" "$tmp/with-$name"
done
if ((${#extra[@]} > 1)); then
  overlay "$tmp/with-all" "${extra[@]}"
  validate_render "core+$(IFS=+; echo "${extra[*]}")" "$tmp/with-all"
fi
fi

# --- Compose ------------------------------------------------------------------------------------
step "compose: deploy/compose.yaml"
check compose "$compose" "$schemas/compose-spec.json" || failures=$((failures + $?))
if docker compose version >/dev/null 2>&1; then
  if docker compose -f "$compose" config -q 2>"$tmp/compose.err"; then
    pass "docker compose config accepts it ($(docker compose version --short 2>/dev/null))"
  else
    fail "docker compose config:"
    sed 's/^/        /' "$tmp/compose.err"
  fi
else
  echo "SKIP  docker compose config: no docker compose plugin here (the schema check above still ran)"
fi

# --- result -------------------------------------------------------------------------------------
echo
if ((failures > 0)); then
  echo "deploy/check.sh: $failures check(s) FAILED"
  exit 1
fi
echo "deploy/check.sh: all checks passed"
