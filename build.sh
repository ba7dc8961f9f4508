#!/usr/bin/env bash
# FluxWeb's two entry points on a fresh Debian machine with the .NET 10 SDK:
#   ./build.sh run  [fluxweb serve options]   run the web app on http://localhost:5000
#   ./build.sh test [--all] [dotnet test options]
#                                             check the code layout, install what the tests need, then run the tests; the load run,
#                                             the reference re-runs, full-size builds and the cluster's chaos and
#                                             scaling runs (Load, Reference, Scale, GpuStage, Chaos, Benchmark)
#                                             only with --all
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_test_prerequisites() {
  # Real-browser tests drive Debian's Chromium (Playwright's own browser download is not used).
  if [ ! -x /usr/bin/chromium ]; then
    echo "==> Installing Chromium for the browser tests"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
  # systemd-analyze checks deploy/fluxweb.service (verify, security); a container may not have it.
  if [ ! -x /usr/bin/systemd-analyze ]; then
    echo "==> Installing systemd (for systemd-analyze)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
  fi
  # The persistence scenarios also run on PostgreSQL: each test run starts its own server (initdb into a temporary
  # folder, a free loopback port) from Debian's binaries; the package's own service is never used.
  if ! compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then
    echo "==> Installing PostgreSQL for the database tests"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  fi
  # Node tools the tests call (Dockerfile linter, independent verifiers), pinned by tools/package-lock.json.
  if ! command -v npm >/dev/null 2>&1; then
    echo "==> Installing Node.js and npm"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  echo "==> Installing test tools (npm ci in tools/)"
  # --ignore-scripts: c2pa-node ships its prebuilt binary; its install script would try to fetch one.
  npm ci --prefix tools --ignore-scripts --no-audit --no-fund --loglevel=error
}

# The layout half of the house style (.editorconfig), first because it takes seconds and needs nothing installed.
# The rest (names, namespaces, IDE rules) is checked by the build itself: EnforceCodeStyleInBuild with warnings as
# errors, so `dotnet test` stops on a violation. migrations/ is written by `dotnet ef`; artifacts/ is build output.
check_whitespace() {
  echo "==> Checking the code's layout (dotnet format whitespace --verify-no-changes)"
  if ! dotnet format whitespace --folder --verify-no-changes --exclude migrations artifacts; then
    echo "error: the files above do not follow .editorconfig's layout; 'dotnet format whitespace --folder --exclude migrations artifacts' fixes them." >&2
    exit 1
  fi
}

# `./build.sh run` starts a server, so it takes only what `fluxweb serve` takes: options
# (--urls URLS, --environment NAME, --Section:Key=value, --data DIR, --models DIR) and their values.
# Anything else (`./build.sh run models create-demo`) is refused here, before a minute of building.
check_serve_arguments() {
  local expecting_value=no arg
  for arg in "$@"; do
    case "$arg" in
      -h|--help|-\?) expecting_value=no ;;
      --*=*) expecting_value=no ;;
      --?*) expecting_value=yes ;;
      *)
        if [ "$expecting_value" = yes ]; then
          expecting_value=no
        else
          echo "error: ./build.sh run starts the web app and takes only its options (--urls URLS, --data DIR, --models DIR, --Section:Key=value); '$arg' is not one." >&2
          if [ "$arg" = "${1:-}" ]; then
            echo "To run another fluxweb command from this checkout: dotnet run --project $HOST_PROJECT -c Release -- $*" >&2
          fi
          exit 2
        fi
        ;;
    esac
  done
}

HOST_PROJECT=src/FluxWeb.Host/FluxWeb.Host.csproj

case "${1:-}" in
  run)
    shift
    check_serve_arguments "$@"
    echo "==> Restoring NuGet packages (dotnet restore)"
    dotnet restore "$HOST_PROJECT" --verbosity quiet
    echo "==> Building FluxWeb (Release)"
    dotnet build "$HOST_PROJECT" -c Release --no-restore --nologo --verbosity quiet
    echo "==> Starting FluxWeb: fluxweb serve $* (Ctrl+C stops it; it prints the address it listens on)"
    exec dotnet run --project "$HOST_PROJECT" -c Release --no-build -- serve "$@"
    ;;
  test)
    shift
    # Load runs measure and do not decide whether a change is right; Reference tests re-run slow reference
    # implementations (nsfwjs in Node) whose answers are recorded in the repository. Both stay out of the
    # everyday run: --all brings them back; a --filter of your own replaces this one.
    # GpuStage is the real bench/gpu staging (a 350 MB publish through xz -9e, minutes): only when asked for,
    # e.g. ./build.sh test --filter Category=GpuStage. Scale tests repeat at full model size (gigabytes of sparse
    # weights hashed) what the everyday run checks on tiny files and through the plan. Chaos (200 jobs while workers
    # are killed at random) and Benchmark (the cluster's scaling figures) start published processes for minutes.
    filter=(--filter "Category!=Load&Category!=Reference&Category!=GpuStage&Category!=Scale&Category!=Chaos&Category!=Benchmark")
    if [ "${1:-}" = "--all" ]; then
      shift
      filter=()
    fi
    for arg in "$@"; do
      if [ "$arg" = "--filter" ]; then filter=(); fi
    done
    check_whitespace
    install_test_prerequisites
    echo "==> dotnet test ${filter[*]}"
    exec dotnet test FluxWeb.sln -c Release "${filter[@]}" "$@"
    ;;
  *)
    echo "usage: ./build.sh run [options] | ./build.sh test [--all] [options]" >&2
    exit 2
    ;;
esac
