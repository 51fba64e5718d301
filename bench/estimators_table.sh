#!/usr/bin/env bash
# tapezoo bench: the table of issue 15 — −ELBO, −IWAE_1000 and active units on MNIST for the VAE
# trained on the ELBO, IWAE k = 10 with each gradient estimator (standard, stl, dreg: models/vae.hpp),
# the GMVAE and (when it is registered) the VampPrior, each after the same Adam steps on batches of 100.
#
#   bench/estimators_table.sh [ROW …]     rows: vae_elbo iwae10_standard iwae10_stl iwae10_dreg gmvae vamp
#                                         (default all); ITERS=5000 EVAL=1000 Z=50 in the environment
#
# −IWAE_1000 on all 10,000 test images is costly (10⁷ decoder rows): every bound here is on the first
# EVAL binarized test images (models/vae_common.hpp: binarized_test_rows), the same for every row.
# Active units come from `tapezoo diagnose <model> --active-units` on the same images; a model
# without a Gaussian encoder (models/model.hpp: gaussian_code) gets null.
# Prints one JSON object per row (also appended to out/estimators_table/rows.jsonl). Needs ./zoo build
# and data/mnist (./zoo data mnist).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
EXE=${TAPEZOO:-$ROOT/build/app/tapezoo}
ITERS=${ITERS:-5000}
EVAL=${EVAL:-1000}
Z=${Z:-50}  # Burda et al. (2016) trained with 50 latent dimensions: enough for units to go inactive
OUT=$ROOT/out/estimators_table
mkdir -p "$OUT"
ROWS=("$@")
[[ ${#ROWS[@]} -gt 0 ]] || ROWS=(vae_elbo iwae10_standard iwae10_stl iwae10_dreg gmvae vamp)

row() {  # row NAME MODEL [model flags…]
  local name=$1 model=$2
  shift 2
  local train au
  train=$("$EXE" train "$model" --data mnist --iters "$ITERS" --batch 100 --eval "$EVAL" --iwae 1,1000 \
    --z "$Z" --out "$OUT/$name" --json --quiet "$@" | tail -1)
  au=$("$EXE" diagnose "$model" --checkpoint "$OUT/$name/checkpoint.npz" --data mnist --active-units \
    --eval "$EVAL" --json 2>/dev/null | tail -1) || au='{"active_units": null}'
  local line="{\"row\": \"$name\", \"train\": $train, \"units\": $au}"
  echo "$line" | tee -a "$OUT/rows.jsonl"
}

for r in "${ROWS[@]}"; do
  case $r in
    vae_elbo) row vae_elbo vae --objective elbo ;;
    iwae10_*) row "$r" vae --objective iwae --k 10 --estimator "${r#iwae10_}" ;;
    gmvae) row gmvae gmvae ;;
    vamp)
      if "$EXE" list | grep -q '^  vamp '; then
        row vamp vamp
      else
        echo '{"row": "vamp", "pending": "no model vamp registered in this build"}' | tee -a "$OUT/rows.jsonl"
      fi ;;
    *) echo "estimators_table: unknown row '$r' (vae_elbo iwae10_standard iwae10_stl iwae10_dreg gmvae vamp)" >&2; exit 2 ;;
  esac
done
