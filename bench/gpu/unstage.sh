#!/usr/bin/env bash
# Puts stage.sh's parts back together on the GPU machine, one call at a time.
#
#   bench/gpu/unstage.sh add MANIFEST PART...   verify the parts against the manifest and keep them
#   bench/gpu/unstage.sh status                 which parts are there, which are missing
#   bench/gpu/unstage.sh extract DEST           all parts there: reassemble, verify, unpack into DEST
#
# Parts are kept in $FLUXWEB_GPU_DIR (default /tmp/fluxweb-gpucheck), which survives between calls
# while the machine stays warm. Nothing is unpacked unless every part and the whole archive match
# their sha256 in the manifest.
set -euo pipefail

store="${FLUXWEB_GPU_DIR:-/tmp/fluxweb-gpucheck}"
parts_dir="$store/parts"

fail() { echo "error: $*" >&2; exit 1; }

manifest_value() { # manifest_value KIND NAME FIELD   (FIELD 3 = sha256, 4 = bytes)
  awk -v kind="$1" -v name="$2" -v field="$3" '$1 == kind && $2 == name { print $field }' "$parts_dir/MANIFEST"
}

cmd="${1:-}"
[ -n "$cmd" ] || fail "usage: unstage.sh add MANIFEST PART... | status | extract DEST"
shift

case "$cmd" in
  add)
    [ $# -ge 2 ] || fail "usage: unstage.sh add MANIFEST PART..."
    manifest="$1"; shift
    [ -f "$manifest" ] || fail "no manifest at $manifest"
    mkdir -p "$parts_dir"
    if [ -f "$parts_dir/MANIFEST" ] && ! cmp -s "$manifest" "$parts_dir/MANIFEST"; then
      # A different staging: start over rather than mix parts of two builds.
      rm -f "$parts_dir"/*
    fi
    cp "$manifest" "$parts_dir/MANIFEST"
    # Say on the first call, not the last, when this machine cannot undo the compression.
    case "$(awk '$1 == "codec" { print $2 }' "$parts_dir/MANIFEST")" in
      zstd) command -v zstd >/dev/null || python3 -c 'from compression import zstd' 2>/dev/null || python3 -c 'import zstandard' 2>/dev/null \
              || fail "no zstd here (command, Python 3.14 compression.zstd or the zstandard package): stage with --codec xz" ;;
      xz) command -v xz >/dev/null || python3 -c 'import lzma' 2>/dev/null || fail "neither xz nor Python's lzma here" ;;
    esac
    for part in "$@"; do
      name=$(basename "$part")
      expected=$(awk -v name="$name" '$1 == "part" && $2 == name { print $3 }' "$parts_dir/MANIFEST")
      [ -n "$expected" ] || fail "$name is not a part of this staging (see MANIFEST)"
      actual=$(sha256sum "$part" | cut -d' ' -f1)
      [ "$actual" = "$expected" ] || fail "$name is damaged: sha256 $actual, the manifest says $expected"
      cp "$part" "$parts_dir/$name"
      echo "kept $name ($(stat -c %s "$part") bytes, sha256 ok)"
    done
    # Through bash, not "$0": the device's copy of the working tree may not keep the executable bit.
    bash "$0" status
    ;;

  status)
    [ -f "$parts_dir/MANIFEST" ] || fail "no parts yet in $parts_dir"
    total=$(awk '$1 == "parts" { print $2 }' "$parts_dir/MANIFEST")
    missing=$(awk '$1 == "part" { print $2 }' "$parts_dir/MANIFEST" | while read -r name; do [ -f "$parts_dir/$name" ] || echo "$name"; done)
    have=$(( total - $(printf '%s' "$missing" | grep -c . || true) ))
    echo "$have of $total parts in $parts_dir"
    [ -z "$missing" ] || echo "missing: $(echo "$missing" | tr '\n' ' ')"
    ;;

  extract)
    [ $# -eq 1 ] || fail "usage: unstage.sh extract DEST"
    dest="$1"
    [ -f "$parts_dir/MANIFEST" ] || fail "no parts yet in $parts_dir"
    read -r _ archive archive_sha archive_bytes < <(awk '$1 == "archive"' "$parts_dir/MANIFEST")
    codec=$(awk '$1 == "codec" { print $2 }' "$parts_dir/MANIFEST")
    names=$(awk '$1 == "part" { print $2 }' "$parts_dir/MANIFEST")
    for name in $names; do
      [ -f "$parts_dir/$name" ] || fail "$name is missing: add it first ($(bash "$0" status | tail -1))"
      [ "$(sha256sum "$parts_dir/$name" | cut -d' ' -f1)" = "$(manifest_value part "$name" 3)" ] || fail "$name is damaged"
    done
    joined="$store/$archive"
    (cd "$parts_dir" && cat $names) > "$joined"
    [ "$(stat -c %s "$joined")" = "$archive_bytes" ] || fail "the reassembled archive is $(stat -c %s "$joined") bytes, not $archive_bytes"
    [ "$(sha256sum "$joined" | cut -d' ' -f1)" = "$archive_sha" ] || fail "the reassembled archive does not match its sha256"
    rm -rf "$dest"
    mkdir -p "$dest"
    case "$codec" in
      zstd)
        if command -v zstd >/dev/null; then
          zstd -q -d --long=27 -c "$joined" | tar -x -C "$dest"
        else
          # No zstd command: Python 3.14's compression.zstd, or the zstandard package, does the same.
          python3 - "$joined" <<'PY' | tar -x -C "$dest"
import sys
try:
    from compression import zstd
    reader = zstd.open(sys.argv[1], "rb")
except ImportError:
    import zstandard
    reader = zstandard.ZstdDecompressor(max_window_size=2**27).stream_reader(open(sys.argv[1], "rb"))
with reader:
    while chunk := reader.read(1 << 20):
        sys.stdout.buffer.write(chunk)
PY
        fi
        ;;
      xz)
        if command -v xz >/dev/null; then
          xz -q -d -c "$joined" | tar -x -C "$dest"
        else
          python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$joined" | tar -x -C "$dest"
        fi
        ;;
      *) fail "unknown codec $codec in the manifest" ;;
    esac
    rm -f "$joined"
    echo "unpacked $archive ($archive_bytes bytes, sha256 ok) into $dest"
    ;;

  *)
    fail "unknown command $cmd (add, status, extract)"
    ;;
esac
