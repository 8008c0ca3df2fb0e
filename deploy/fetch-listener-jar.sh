#!/bin/sh
# Puts Keycloak's RabbitMQ event listener jar into the providers volume, before Keycloak starts.
# The listener is published as GitHub release jars only (not on Maven Central), so an init
# container fetches it once; later runs find it in the volume and do nothing.
#
# LISTENER_JAR_URL     release asset to fetch (required)
# LISTENER_JAR_SHA256  optional checksum; the jar is refused when it does not match
# PROVIDERS_DIR        where Keycloak reads providers from (default /providers)
set -eu

url="${LISTENER_JAR_URL:?LISTENER_JAR_URL must name the listener jar to fetch}"
dir="${PROVIDERS_DIR:-/providers}"
jar="$dir/$(basename "$url")"

if [ -s "$jar" ]; then
  echo "listener jar already present: $jar"
  exit 0
fi

part="$jar.part"
trap 'rm -f "$part"' EXIT
echo "fetching $url"
curl --fail --silent --show-error --location \
  --retry 5 --retry-delay 3 --retry-all-errors \
  --connect-timeout 20 --max-time 300 \
  --output "$part" "$url"

if [ -n "${LISTENER_JAR_SHA256:-}" ]; then
  echo "$LISTENER_JAR_SHA256  $part" | sha256sum -c -
fi
# A jar is a zip archive: an HTML error page saved under the jar's name would make Keycloak fail
# at start with a far less helpful message.
if [ "$(head -c 2 "$part")" != "PK" ]; then
  echo "refusing $url: the download is not a jar (no zip header)" >&2
  exit 1
fi

# Only one listener version may be on the class path: drop any other jar from an earlier pin.
rm -f "$dir"/*.jar
mv "$part" "$jar"
chmod 0644 "$jar"
echo "installed $jar ($(wc -c <"$jar") bytes)"
