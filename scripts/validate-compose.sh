#!/usr/bin/env bash
# Checks the container setup without a Docker engine: docker-compose.yml must parse, interpolate
# and reference only files that exist (Debian's docker-compose `config -q`), the init script must
# be valid sh, and the commands the image runs must still have their sources.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null 2>&1; then
  echo "validate-compose: installing Debian's docker-compose"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq docker-compose >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }
fi

# Defaults only: a developer's .env or exported variables must not decide whether this passes.
no_env="$(mktemp)"
resolved="$(mktemp)"
trap 'rm -f "$no_env" "$resolved"' EXIT
env -i PATH="$PATH" HOME="${HOME:-/root}" docker-compose --project-directory . \
  --env-file "$no_env" -f docker-compose.yml config >"$resolved"
echo "validate-compose: docker-compose.yml is valid"

# `config` accepts a secret or a bind mount whose file is missing; `up` would not. Debian's
# docker-compose brings PyYAML for the system Python, which reads the resolved file here.
/usr/bin/python3 - "$resolved" <<'PY'
import os
import sys

import yaml

with open(sys.argv[1], encoding="utf-8") as handle:
    config = yaml.safe_load(handle)
missing = []
for name, secret in (config.get("secrets") or {}).items():
    path = secret.get("file")
    if path and not os.path.exists(path):
        missing.append(f"secret {name}: {path}")
for service, spec in config["services"].items():
    for volume in spec.get("volumes") or []:
        source = volume.get("source", "") if isinstance(volume, dict) else volume.split(":")[0]
        if source.startswith("/") and not os.path.exists(source):
            missing.append(f"service {service}: bind mount {source}")
    build = spec.get("build")
    if build:
        context = build["context"] if isinstance(build, dict) else build
        dockerfile = os.path.join(context, (build.get("dockerfile") if isinstance(build, dict) else None) or "Dockerfile")
        if not os.path.exists(dockerfile):
            missing.append(f"service {service}: {dockerfile}")
if missing:
    sys.exit("validate-compose: missing files:\n  " + "\n  ".join(missing))
PY
echo "validate-compose: every secret, bind mount and Dockerfile exists"

for script in deploy/*.sh; do
  sh -n "$script"
done
echo "validate-compose: deploy scripts parse"

# The image runs dist/src/<name>.js, compiled from src/<name>.ts: a rename must show up here.
for entry in cli http/healthcheck scim-server/main; do
  if [[ ! -f "src/${entry}.ts" ]]; then
    echo "validate-compose: src/${entry}.ts is missing, but the Dockerfile or docker-compose.yml runs dist/src/${entry}.js" >&2
    exit 1
  fi
  if ! grep -q "dist/src/${entry}.js" Dockerfile docker-compose.yml; then
    echo "validate-compose: nothing runs dist/src/${entry}.js any more; update this list" >&2
    exit 1
  fi
done
echo "validate-compose: image entry points exist"
