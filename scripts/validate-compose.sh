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

# The demo only works when its parts agree: the relay's SCIM URL and token with the SCIM server's
# flags, its client secret and realm with the realm import, and one RabbitMQ user for all three.
# The relay's resolved environment (secrets mapped to their files here) is then loaded by the
# relay's own configuration loader.
relay_env="$(mktemp)"
trap 'rm -f "$no_env" "$resolved" "$relay_env"' EXIT
/usr/bin/python3 - "$resolved" keycloak-config/realm-demo.json "$relay_env" <<'PY'
import json
import sys
from urllib.parse import urlsplit

import yaml

with open(sys.argv[1], encoding="utf-8") as handle:
    config = yaml.safe_load(handle)
with open(sys.argv[2], encoding="utf-8") as handle:
    realm = json.load(handle)
services = config["services"]
secrets = {name: spec["file"] for name, spec in config["secrets"].items()}
problems = []


def check(ok, message):
    if not ok:
        problems.append(message)


def secret_of(service, path):
    name = path.removeprefix("/run/secrets/")
    check(path.startswith("/run/secrets/") and name in secrets, f"{service}: {path} is no secret")
    mounted = [s["source"] if isinstance(s, dict) else s for s in services[service].get("secrets") or []]
    check(name in mounted, f"{service} does not mount secret {name}")
    return name


relay = services["relay"]["environment"]
flags = dict(arg.removeprefix("--").split("=", 1) for arg in services["scim-server"]["command"] if "=" in arg)
check("web" in " ".join(services["scim-server"]["command"]), "scim-server: --web is off")
if urlsplit(relay["SCIM_URL"]).hostname == "scim-server":
    expected = f"http://scim-server:{flags['port']}/api/v1/{flags['tenant']}/integrations/{flags['integration']}/scim/v2"
    check(relay["SCIM_URL"] == expected, f"relay SCIM_URL {relay['SCIM_URL']} is not the scim-server's {expected}")
    check(
        secret_of("relay", relay.get("SCIM_TOKEN_FILE", "")) == secret_of("scim-server", flags["token-file"]),
        "relay and scim-server read different SCIM token secrets",
    )
check(relay["KEYCLOAK_REALM"] == realm["realm"], f"relay KEYCLOAK_REALM is not {realm['realm']}")
check("keycloak-to-rabbitmq" in realm.get("eventsListeners", []), "the demo realm does not enable keycloak-to-rabbitmq")
clients = [c for c in realm["clients"] if c["clientId"] == relay["KEYCLOAK_CLIENT_ID"]]
check(len(clients) == 1, f"the realm has no client {relay['KEYCLOAK_CLIENT_ID']}")
secret_name = secret_of("relay", relay["KEYCLOAK_CLIENT_SECRET_FILE"])
with open(secrets[secret_name], encoding="utf-8") as handle:
    client_secret = handle.read().rstrip("\n")
check(bool(clients) and clients[0].get("secret") == client_secret, "the client secret file does not match the realm's client")
amqp = urlsplit(relay["AMQP_URL"])
rabbit = services["rabbitmq"]["environment"]
keycloak = services["keycloak"]["environment"]
check(
    (amqp.username, amqp.password)
    == (rabbit["RABBITMQ_DEFAULT_USER"], rabbit["RABBITMQ_DEFAULT_PASS"])
    == (keycloak["KK_TO_RMQ_USERNAME"], keycloak["KK_TO_RMQ_PASSWORD"]),
    "relay, RabbitMQ and Keycloak's listener disagree on the RabbitMQ user",
)
check(keycloak["KK_TO_RMQ_EXCHANGE"] == relay.get("AMQP_EXCHANGE", "amq.topic"), "listener and relay use different exchanges")
if problems:
    sys.exit("validate-compose: the demo's parts disagree:\n  " + "\n  ".join(problems))

# The relay's environment as this machine can load it: secrets point at their source files.
env = {}
for key, value in relay.items():
    value = str(value)
    if key.endswith("_FILE") and value.startswith("/run/secrets/"):
        value = secrets[value.removeprefix("/run/secrets/")]
    env[key] = value
with open(sys.argv[3], "w", encoding="utf-8") as handle:
    json.dump(env, handle)
PY
echo "validate-compose: relay, SCIM server, realm import and RabbitMQ agree"

if [[ -x node_modules/.bin/tsx ]]; then
  node --import tsx --input-type=module -e "
    import { readFileSync } from 'node:fs';
    import { pathToFileURL } from 'node:url';
    const { loadConfig } = await import(pathToFileURL('src/config.ts').href);
    try {
      const config = loadConfig(JSON.parse(readFileSync(process.argv[1], 'utf8')));
      console.log('validate-compose: the relay accepts its demo configuration (source=' + config.source + ')');
    } catch (error) {
      console.error('validate-compose: the relay refuses its demo configuration: ' + error.message);
      process.exit(1);
    }
  " "$relay_env"
else
  echo "validate-compose: node_modules missing; skipped loading the relay's configuration"
fi

for script in deploy/*.sh; do
  sh -n "$script"
done
echo "validate-compose: deploy scripts parse"

# The relay's image runs dist/src/<name>.js, compiled from src/<name>.ts: a rename must show up here.
for entry in cli http/healthcheck; do
  if [[ ! -f "src/${entry}.ts" ]]; then
    echo "validate-compose: src/${entry}.ts is missing, but the Dockerfile or docker-compose.yml runs dist/src/${entry}.js" >&2
    exit 1
  fi
  if ! grep -q "dist/src/${entry}.js" Dockerfile docker-compose.yml; then
    echo "validate-compose: nothing runs dist/src/${entry}.js any more; update this list" >&2
    exit 1
  fi
done
# The SCIM server's image runs its package's dist/main.js, compiled from src/main.ts.
scim_server=packages/scim-server
if [[ ! -f "${scim_server}/src/main.ts" ]] || ! grep -q '"dist/main.js"' "${scim_server}/Dockerfile"; then
  echo "validate-compose: ${scim_server}/Dockerfile must run dist/main.js, compiled from ${scim_server}/src/main.ts" >&2
  exit 1
fi
# Its build context is the repository: .dockerignore must let the package's sources in.
for path in package.json tsconfig.build.json src/; do
  if ! grep -qxF "!${scim_server}/${path}" .dockerignore; then
    echo "validate-compose: .dockerignore keeps ${scim_server}/${path} out of the SCIM server's build" >&2
    exit 1
  fi
done
echo "validate-compose: image entry points exist"
