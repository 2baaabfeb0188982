#!/usr/bin/env bash
# A sweep sharded over a Slurm job array: each array task runs the trials whose
# index modulo the array size is its task index (SLURM_ARRAY_TASK_ID minus
# SLURM_ARRAY_TASK_MIN); all write to one PostgreSQL store.
#
#   export CROCBOT_SWEEP_STORE='postgres://crocbot:PASSWORD@dbhost:5432/crocbot'
#   sbatch --export=ALL Examples/cluster/sweep-slurm.sh
#   crocbot sweep status                          # progress, all shards merged
#   crocbot sweep report --name sma-grid          # the HTML report
#
# Resubmitting the array (or one task: sbatch --array=3 ...) skips the trials
# already recorded.
#SBATCH --job-name=crocbot-sweep
#SBATCH --array=0-7
#SBATCH --cpus-per-task=4
#SBATCH --mem=1G
#SBATCH --time=01:00:00
#SBATCH --output=crocbot-sweep-%A_%a.log
set -euo pipefail
: "${CROCBOT_SWEEP_STORE:?set CROCBOT_SWEEP_STORE to the postgres:// URL of the shared store}"
CONFIG=${CONFIG:-Examples/sweep-sma.yaml}
exec srun crocbot sweep --config "$CONFIG" --workers "${SLURM_CPUS_PER_TASK:-1}" --log-format json
