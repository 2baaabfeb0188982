#!/usr/bin/env bash
# Smoke test of the crocbot command line: the default backtest works, and bad
# input exits non-zero with the typed error's message (never a stack trace).
# Usage: scripts/cli_smoke.sh [path/to/crocbot]   (default: release build)
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-.build/release/crocbot}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
fail=0

expect_ok() {
    local desc=$1; shift
    if ! "$BIN" "$@" >"$OUT/stdout" 2>"$OUT/stderr"; then
        echo "FAIL: $desc: exited non-zero"; cat "$OUT/stderr"; fail=1
    else
        echo "ok:   $desc"
    fi
}

expect_error() {
    local desc=$1 pattern=$2; shift 2
    "$BIN" "$@" >"$OUT/stdout" 2>"$OUT/stderr"
    local rc=$?
    if [ $rc -eq 0 ]; then
        echo "FAIL: $desc: expected a non-zero exit"; fail=1
    elif ! grep -q -- "$pattern" "$OUT/stderr"; then
        echo "FAIL: $desc: stderr lacks '$pattern':"; cat "$OUT/stderr"; fail=1
    elif grep -qiE "fatal error|stack dump|backtrace" "$OUT/stderr"; then
        echo "FAIL: $desc: crashed:"; cat "$OUT/stderr"; fail=1
    else
        echo "ok:   $desc -> $(grep -m1 -- "$pattern" "$OUT/stderr")"
    fi
}

expect_ok "default backtest" backtest --output "$OUT/run"
grep -q "Equity Final \[\$\]  *18090.536482" "$OUT/stdout" || { echo "FAIL: default backtest equity differs from backtesting.py"; fail=1; }
test -s "$OUT/run/trades.csv" && test -s "$OUT/run/equity.csv" || { echo "FAIL: CSV outputs missing"; fail=1; }
expect_ok "EURUSD with parameters" backtest --data Examples/data/EURUSD_1H_ASK.csv --param fast=5 --param slow=30 --output "$OUT/run2" --log-format json

printf 'Date,Open,High,Low,Close,Volume\n2020-01-01,10,12,9,11,100\n2020-01-02,10,8,9,8.5,100\n' >"$OUT/bad.csv"
expect_error "malformed CSV row" "bad.csv:3: column 3 (high): high is below low" backtest --data "$OUT/bad.csv" --output "$OUT/x"
expect_error "missing data file" "no such file" backtest --data "$OUT/none.csv" --output "$OUT/x"
expect_error "negative cash" "backtest.cash: must be > 0" backtest --cash=-5 --output "$OUT/x"
expect_error "unknown strategy" "unknown strategy 'nope'" backtest --strategy nope --output "$OUT/x"
expect_error "bad strategy parameter" "strategy.params.fast" backtest --param fast=50 --output "$OUT/x"
printf 'backtest:\n  cahs: 5\n' >"$OUT/typo.yaml"
expect_error "config typo" "backtest.cahs: unknown key" backtest --config "$OUT/typo.yaml" --output "$OUT/x"
CROCBOT_BACKTEST__COMMISSION=0.5 expect_error "bad environment override" "backtest.commission" backtest --output "$OUT/x"

# crocbot data
expect_ok "data inspect --universe (shipped wide table)" data inspect --universe Examples/data/SP500_10_CLOSE.csv --symbols KO,AAPL
grep -q "Timestamps (union)  *8313" "$OUT/stdout" && grep -q "^KO  *8313" "$OUT/stdout" || { echo "FAIL: universe inspect"; cat "$OUT/stdout"; fail=1; }
expect_error "universe: unknown symbol" "unknown symbol MSFT" data inspect --universe Examples/data/SP500_10_CLOSE.csv --symbols KO,MSFT
printf 'Date,A,B\n2020-01-01,1.5,2\n2020-01-02,1.6,abc\n' > "$OUT/wide.csv"
expect_error "universe: a non-numeric cell names file, line and symbol" "wide.csv:3: column 3 (B): not a number" data inspect --universe "$OUT/wide.csv"
mkdir -p "$OUT/folder" && cp Examples/data/GOOGL.csv "$OUT/folder/" && echo notes > "$OUT/folder/notes.txt"
expect_error "universe: a folder with a non-CSV file" "not a CSV file" data inspect --universe "$OUT/folder"
expect_ok "backtest --universe (momentum rotation on one account)" backtest --universe Examples/data/SP500_10_CLOSE.csv --strategy momentum_topk --param top=3 --output "$OUT/pf"
test -s "$OUT/pf/fills.csv" && test -s "$OUT/pf/weights.csv" && grep -q "^Time,Symbol,Side,Quantity,Price,Commission" "$OUT/pf/fills.csv" || { echo "FAIL: portfolio outputs"; fail=1; }
grep -q "^Symbols  *10" "$OUT/stdout" && grep -q "^Symbol  *Contribution" "$OUT/stdout" || { echo "FAIL: portfolio tables"; cat "$OUT/stdout"; fail=1; }
expect_ok "backtest --universe --per-symbol (sma_cross per symbol, at most 4 open)" backtest --universe Examples/data/SP500_10_CLOSE.csv --per-symbol --max-open 4 --output "$OUT/ps"
expect_ok "backtest pairs (KO against JNJ, shorts allowed)" backtest --universe Examples/data/SP500_10_CLOSE.csv --strategy pairs --param a=KO --param b=JNJ --allow-short --output "$OUT/pairs"
expect_error "backtest: pairs naming a symbol not in the universe" "strategy.params.b: MSFT is not in the universe" backtest --universe Examples/data/SP500_10_CLOSE.csv --strategy pairs --param a=KO --param b=MSFT --allow-short
expect_error "backtest: a single-instrument strategy on a universe without --per-symbol" "add --per-symbol" backtest --universe Examples/data/SP500_10_CLOSE.csv
expect_error "backtest: top larger than the universe" "strategy.params.top: must be at most the universe's 2 symbols, found 3" backtest --universe Examples/data/SP500_10_CLOSE.csv --symbols KO,AAPL --strategy momentum_topk --param top=3
expect_error "backtest: a portfolio strategy without a universe" "momentum_topk trades a universe" backtest --strategy momentum_topk
expect_error "backtest: an unknown symbol of the universe" "unknown symbol MSFT" backtest --universe Examples/data/SP500_10_CLOSE.csv --symbols KO,MSFT --strategy equal_weight
expect_error "backtest: a universe with a bad cell" "wide.csv:3: column 3 (B): not a number" backtest --universe "$OUT/wide.csv" --strategy equal_weight
expect_ok "data inspect (shipped EURUSD)" data inspect --data Examples/data/EURUSD_1H_ASK.csv
grep -q "Valid bars  *6225" "$OUT/stdout" || { echo "FAIL: data inspect row count"; fail=1; }
if "$BIN" data inspect --data "$OUT/bad.csv" >"$OUT/stdout" 2>"$OUT/stderr"; then
    echo "FAIL: data inspect should exit 1 on a file with problems"; fail=1
elif grep -q "bad.csv:3: column 3 (high): high is below low" "$OUT/stdout"; then
    echo "ok:   data inspect lists problems with line and column, exits 1"
else
    echo "FAIL: data inspect did not list the problem"; cat "$OUT/stdout"; fail=1
fi
expect_ok "data features (standard set)" data features --output "$OUT/features.csv"
test "$(head -1 "$OUT/features.csv" | tr ',' '\n' | wc -l)" -eq 23 || { echo "FAIL: standard features should have 22 columns + time"; fail=1; }
expect_ok "data features (example definition)" data features --data Examples/data/EURUSD_1H_ASK.csv --features Examples/features.yaml --output "$OUT/f2.csv"
test "$(wc -l < "$OUT/f2.csv")" -eq 6226 || { echo "FAIL: feature CSV should have 6225 rows + header"; fail=1; }
printf 'features:\n  - {indicator: rsi, params: {period: 1}}\n' >"$OUT/badfeat.yaml"
expect_error "bad feature definition names the key path" "features\[0\].params.period" data features --features "$OUT/badfeat.yaml" --output "$OUT/x.csv"

# crocbot train / evaluate / backtest --strategy model
expect_ok "train the example GBDT" train --config Examples/train-gbdt-googl.yaml --output "$OUT/googl-gbdt"
grep -q "auc" "$OUT/stdout" && test -s "$OUT/googl-gbdt/bundle.json" && test -s "$OUT/googl-gbdt/weights.bin" || { echo "FAIL: train output/bundle"; fail=1; }
expect_ok "evaluate the bundle on held-out years" evaluate --model "$OUT/googl-gbdt" --data Examples/data/GOOGL.csv --from 2016-08-01
grep -q "Equity Final" "$OUT/stdout" || { echo "FAIL: evaluate printed no backtest"; fail=1; }
expect_ok "backtest the model strategy" backtest --strategy model --param model="$OUT/googl-gbdt" --from 2016-08-01 --output "$OUT/model-run"
grep -q "model(googl-gbdt)" "$OUT/stdout" || { echo "FAIL: backtest did not use the model"; fail=1; }
printf 'corrupt' >> "$OUT/googl-gbdt/weights.bin"
expect_error "corrupt bundle is refused" "bundle.json records" backtest --strategy model --param model="$OUT/googl-gbdt" --output "$OUT/x"
printf 'model: {kind: forest}\n' >"$OUT/badtrain.yaml"
expect_error "bad training config names the key" "model.kind" train --config "$OUT/badtrain.yaml"

# RL: train a small PPO policy, backtest it with the rl strategy
sed -e 's/^steps: .*/steps: 2048/' -e "s#^output: .*#output: $OUT/rl-bundle#" Examples/train-ppo-eurusd.yaml >"$OUT/rl.yaml"
expect_ok "train an RL policy" train --config "$OUT/rl.yaml"
grep -q "Held-out return, buy & hold" "$OUT/stdout" && cat "$OUT/stdout" "$OUT/stderr" | grep -q "episode return .*, loss " || { echo "FAIL: RL training printed no evaluation or loss"; fail=1; }
expect_ok "backtest the RL policy" backtest --strategy rl --param model="$OUT/rl-bundle" --data Examples/data/EURUSD_1H_ASK.csv --commission 0.00005 --output "$OUT/rl-run"
grep -q "rl(eurusd-ppo)" "$OUT/stdout" || { echo "FAIL: backtest did not run the RL policy"; fail=1; }
# A continuous-action policy: its backtest allows shorts as its training did, so nothing is rejected.
sed -e 's/^actions: .*/actions: continuous/' -e "s#^output: .*#output: $OUT/rl-cont#" "$OUT/rl.yaml" >"$OUT/rl-cont.yaml"
expect_ok "train a continuous RL policy" train --config "$OUT/rl-cont.yaml"
expect_ok "backtest the continuous RL policy" backtest --strategy rl --param model="$OUT/rl-cont" --data Examples/data/EURUSD_1H_ASK.csv --output "$OUT/rl-cont-run"
cat "$OUT/stdout" "$OUT/stderr" | grep -q "shorting enabled" && cat "$OUT/stdout" "$OUT/stderr" | grep -q "rejections=0 " || { echo "FAIL: continuous RL backtest did not allow shorts"; fail=1; }
printf 'agent: a2c\n' >"$OUT/badrl.yaml"
expect_error "unknown RL agent names the key" "config error at agent" train --config "$OUT/badrl.yaml"

# crocbot live: bad settings are refused before anything starts
expect_error "live: a port out of range names the key" "live.port: must be in 0...65535" live --paper --port 70000
expect_error "live: an unknown stream names the key" "live.stream: must be kline or trade" live --exchange binance --paper --stream depth
expect_error "live: a bad replay file names the file" "nope.csv" live --paper --data "$OUT/nope.csv" --port 0
expect_error "live: binance without keys names the variable" "BINANCE_API_KEY" live --exchange binance --port 0
expect_error "live: a symbol listed twice names its index" "live.symbols\[1\]: 'BTCUSDT' is listed twice" live --exchange binance --paper --symbols BTCUSDT,BTCUSDT --port 0
expect_error "live: several binance symbols without keys name the variable" "BINANCE_API_KEY" live --config Examples/live-binance-symbols.yaml --port 0
expect_ok "live: a paper replay runs to the end and exits 0" live --paper --port 0 --exit-at-end --speed 1000000000 --store "$OUT/live.sqlite"
expect_ok "data factor: a feature as a cross-sectional factor of the universe (IC, quantiles)" data factor --universe Examples/data/SP500_10_CLOSE.csv --features Examples/features-stationary.yaml --column ret_20 --horizon 21 --top 3 --transform rank --labels demean --output "$OUT/factor.csv"
test -s "$OUT/factor.csv" && head -1 "$OUT/factor.csv" | grep -q "^Time,Symbol,Score,ForwardReturn$" || { echo "FAIL: data factor --output wrote no scored rows"; exit 1; }
expect_error "data factor: an unwritable --output is named" "cannot write" data factor --universe Examples/data/SP500_10_CLOSE.csv --features Examples/features-stationary.yaml --column ret_20 --top 3 --output /nonexistent-dir/f.csv
expect_error "data factor: an unknown column lists the columns" "columns: ret_1" data factor --universe Examples/data/SP500_10_CLOSE.csv --features Examples/features-stationary.yaml --column nope --top 3
expect_error "data factor: a top larger than the universe is refused" "larger than the universe" data factor --universe Examples/data/SP500_10_CLOSE.csv --features Examples/features-stationary.yaml --column ret_20 --top 30
# Cross-sectional ML: a model ranks the universe; evaluation, predictions, model_topk, bad input.
sed -e "s#^output: .*#output: $OUT/u-gbdt#" -e 's/rounds: 100/rounds: 20/' -e '/^walkForward:/d' Examples/train-gbdt-universe.yaml >"$OUT/u-gbdt.yaml"
expect_ok "train a GBDT on a universe" train --config "$OUT/u-gbdt.yaml"
grep -q "rank IC  mean" "$OUT/stdout" && grep -q "rank_ic_mean" "$OUT/stdout" && grep -q "model_topk top 3" "$OUT/stdout" || { echo "FAIL: universe training printed no cross-sectional evaluation or backtest"; fail=1; }
test -s "$OUT/u-gbdt/report.html" && grep -q 'data-chart="cumulative-rank-ic"' "$OUT/u-gbdt/report.html" || { echo "FAIL: universe training wrote no report.html"; fail=1; }
expect_ok "evaluate a universe model with --predictions" evaluate --model "$OUT/u-gbdt" --universe Examples/data/SP500_10_CLOSE.csv --from 2015-07-01 --predictions "$OUT/preds.csv"
head -1 "$OUT/preds.csv" | grep -q "^Time,Symbol,Score,ForwardReturn$" && [ "$(wc -l <"$OUT/preds.csv")" -gt 1000 ] || { echo "FAIL: evaluate --predictions wrote no scored rows"; fail=1; }
expect_error "evaluate: an unwritable --predictions path is named" "cannot write" evaluate --model "$OUT/u-gbdt" --universe Examples/data/SP500_10_CLOSE.csv --predictions "$OUT/preds.csv/p.csv"
expect_ok "backtest model_topk on the universe" backtest --universe Examples/data/SP500_10_CLOSE.csv --strategy model_topk --param model="$OUT/u-gbdt" --param dropout=1 --from 2015-07-01 --output "$OUT/topk"
grep -q "model_topk(sp500-gbdt-rank)" "$OUT/stdout" || { echo "FAIL: backtest did not run model_topk"; fail=1; }
expect_ok "live: model_topk on paper over the universe runs to the end" live --paper --universe Examples/data/SP500_10_CLOSE.csv --strategy model_topk --param model="$OUT/u-gbdt" --param rebalance=21 --port 0 --exit-at-end --speed 1000000000000 --store "$OUT/live-topk.sqlite"
expect_error "model_topk: a top larger than the universe is named" "strategy.params.top" backtest --universe Examples/data/SP500_10_CLOSE.csv --strategy model_topk --param model="$OUT/u-gbdt" --param top=11
expect_error "model_topk: a missing bundle is named" "strategy.params.model" backtest --universe Examples/data/SP500_10_CLOSE.csv --strategy model_topk --param model="$OUT/none"
sed -e 's/^  - {name: rsi_14.*/  - {name: vz, indicator: zscore, source: volume}/' "$OUT/u-gbdt.yaml" >"$OUT/u-vol.yaml"
expect_error "universe training: a volume feature on a close-only universe is named" "features.vz" train --config "$OUT/u-vol.yaml"
sed -e 's/horizon: 21/horizon: 9000/' "$OUT/u-gbdt.yaml" >"$OUT/u-h.yaml"
expect_error "universe training: a horizon beyond the data is named" "label.horizon" train --config "$OUT/u-h.yaml"
# Portfolio RL: PPO on the universe, the saved policy as rl_portfolio, a portfolio bundle refused by rl.
sed -e "s#^output: .*#output: $OUT/u-ppo#" -e 's/^steps: .*/steps: 1024/' Examples/train-ppo-portfolio.yaml >"$OUT/u-ppo.yaml"
expect_ok "train a portfolio RL policy" train --config "$OUT/u-ppo.yaml"
grep -q "Held-out return, equal-weight buy & hold" "$OUT/stdout" || { echo "FAIL: portfolio RL training printed no held-out evaluation"; fail=1; }
expect_ok "backtest the portfolio policy" backtest --universe Examples/data/SP500_10_CLOSE.csv --strategy rl_portfolio --param model="$OUT/u-ppo" --from 2005-01-01 --output "$OUT/rlp"
grep -q "rl_portfolio(sp500-ppo)" "$OUT/stdout" || { echo "FAIL: backtest did not run rl_portfolio"; fail=1; }
expect_error "rl: a portfolio policy is refused with the strategy to use" "use the rl_portfolio strategy" backtest --strategy rl --param model="$OUT/u-ppo"
expect_error "rl_portfolio: other symbols than the policy's are named" "allocates between" backtest --universe Examples/data/SP500_10_CLOSE.csv --symbols KO,AAPL --strategy rl_portfolio --param model="$OUT/u-ppo"
sed -e 's/^agent: ppo/agent: dqn/' "$OUT/u-ppo.yaml" >"$OUT/u-dqn.yaml"
expect_error "portfolio RL: dqn is refused, naming the key" "config error at agent" train --config "$OUT/u-dqn.yaml"
expect_ok "live: a universe on paper runs to the end and exits 0" live --paper --universe Examples/data/SP500_10_CLOSE.csv --strategy equal_weight --port 0 --exit-at-end --speed 1000000000000 --store "$OUT/live-universe.sqlite"
expect_ok "live: a single-instrument strategy per symbol of a universe on paper" live --paper --universe Examples/data/SP500_10_CLOSE.csv --symbols AAPL,KO,GE --per-symbol --max-open 2 --port 0 --exit-at-end --speed 1000000000000 --store "$OUT/live-universe-ps.sqlite"
expect_error "live: a single-instrument strategy on a universe without --per-symbol" "add --per-symbol" live --paper --universe Examples/data/SP500_10_CLOSE.csv --port 0 --exit-at-end --store "$OUT/live-u-err.sqlite"
expect_error "live: a universe on binance is refused, naming the key" "data.universe" live --exchange binance --universe Examples/data/SP500_10_CLOSE.csv --strategy equal_weight --port 0
expect_error "live: an unknown symbol of a universe is named" "NOPE" live --paper --universe Examples/data/SP500_10_CLOSE.csv --symbols AAPL,NOPE --strategy equal_weight --port 0 --exit-at-end
expect_error "live: a bad --stake is named" "--stake" live --paper --universe Examples/data/SP500_10_CLOSE.csv --per-symbol --stake lots --port 0 --exit-at-end
expect_error "live: a non-loopback status server without a token is refused" "live.token: must be set when live.host is not a loopback address" live --paper --host 0.0.0.0 --port 0
CROCBOT_LIVE__TOKEN= expect_error "live control: no token names the variable" "CROCBOT_LIVE__TOKEN" live control pause
expect_error "live control: an unknown control lists the known ones" "one of: pause, resume, cancel-all, flatten, stop" live control explode --token t
expect_error "live control: an unreachable bot is a clear error" "cannot reach http://127.0.0.1:9" live control pause --url http://127.0.0.1:9 --token t --timeout 1
expect_error "live control: a bad timeout is named" "timeout must be a number of seconds" live control pause --token t --timeout 0
printf 'risk:\n  maxDrawdown: 2\n' >"$OUT/badrisk.yaml"
expect_error "backtest: a bad risk limit names the key" "risk.maxDrawdown" backtest --config "$OUT/badrisk.yaml" --output "$OUT/risk"

# crocbot agent: one pass over the shipped example logs and metrics (the LLM server is
# unreachable on purpose: both anomalies are found and rejected as "llm failed"), the
# decision log as a table, a second pass skips them as duplicates, bad input is typed.
sed -e 's#baseURL: .*#baseURL: http://127.0.0.1:9/v1#' Examples/agent/agent.yaml >"$OUT/agent.yaml"
AGENT=(agent run --config "$OUT/agent.yaml" --logs Examples/agent/crocbot.jsonl --metrics Examples/agent/metrics.prom --decision-log "$OUT/decisions.jsonl" --once)
expect_ok "agent: one pass over the example logs and metrics" "${AGENT[@]}"
grep -q "^2 anomalies" "$OUT/stdout" && grep -q "latency_spike" "$OUT/decisions.jsonl" && grep -q "repeated_error" "$OUT/decisions.jsonl" \
    || { echo "FAIL: agent did not find the two example anomalies"; cat "$OUT/stdout"; fail=1; }
expect_ok "agent: review prints the decision log" agent review --log "$OUT/decisions.jsonl"
grep -q "llm failed" "$OUT/stdout" && grep -q "anomaly" "$OUT/stdout" || { echo "FAIL: agent review table"; cat "$OUT/stdout"; fail=1; }
expect_ok "agent: a second pass skips what was decided" "${AGENT[@]}"
grep -c "skipped_duplicate" "$OUT/stdout" | grep -q "^2$" || { echo "FAIL: agent redid decided anomalies"; cat "$OUT/stdout"; fail=1; }
printf 'agent:\n  confidenceThreshold: 2\n' >"$OUT/badagent.yaml"
expect_error "agent: a bad threshold names the key" "agent.confidenceThreshold" agent run --config "$OUT/badagent.yaml" --logs Examples/agent/crocbot.jsonl --once
expect_error "agent: nothing to watch" "give --logs, --metrics or both" agent run --once
expect_error "agent: review without a log" "no decision log" agent review --log "$OUT/none.jsonl"
expect_ok "agent localise: the functions on the timed path, ranked, without an LLM" agent localise --config "$OUT/agent.yaml" --metrics Examples/agent/metrics.prom
grep -q "LiveLoopState.sendInOrder" "$OUT/stdout" && ! grep -q "Sources/CrocAgent/" "$OUT/stdout" \
    || { echo "FAIL: agent localise did not rank the timed path (or named the agent's own files)"; cat "$OUT/stdout"; fail=1; }
printf 'no diff here\n' >"$OUT/bad.diff"
expect_error "agent validate: a broken diff is a typed error" "malformed" agent validate --diff "$OUT/bad.diff"

# crocbot sweep: a grid on all cores, resume, shards from Slurm and Kubernetes variables, status, report, walk-forward
expect_ok "sweep: the example grid" sweep --config Examples/sweep-sma.yaml --store "$OUT/sweep.sqlite" --report "$OUT/sweep.html"
grep -q "^shard 0/1: 690 trials evaluated, 0 already in the store" "$OUT/stdout" && test -s "$OUT/sweep.html" || { echo "FAIL: sweep grid"; cat "$OUT/stdout"; fail=1; }
expect_ok "sweep: a rerun resumes (nothing left to do)" sweep --config Examples/sweep-sma.yaml --store "$OUT/sweep.sqlite" --report "$OUT/sweep.html"
grep -q "^shard 0/1: 0 trials evaluated, 690 already in the store" "$OUT/stdout" || { echo "FAIL: sweep resume"; cat "$OUT/stdout"; fail=1; }
SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=3 expect_ok "sweep: a Slurm array task runs its shard" sweep --config Examples/sweep-sma.yaml --store "$OUT/shards.sqlite"
grep -q "^shard 1/3: 230 trials evaluated" "$OUT/stdout" || { echo "FAIL: Slurm shard"; cat "$OUT/stdout"; fail=1; }
JOB_COMPLETION_INDEX=2 CROCBOT_SHARDS=3 expect_ok "sweep: a Kubernetes Indexed Job pod runs its shard" sweep --config Examples/sweep-sma.yaml --store "$OUT/shards.sqlite"
grep -q "^shard 2/3: 230 trials evaluated" "$OUT/stdout" || { echo "FAIL: Kubernetes shard"; cat "$OUT/stdout"; fail=1; }
JOB_COMPLETION_INDEX=0 expect_error "sweep: an indexed job without a shard count" "CROCBOT_SHARDS" sweep --config Examples/sweep-sma.yaml --store "$OUT/shards.sqlite"
expect_ok "sweep: status merges the shards" sweep status --store "$OUT/shards.sqlite"
grep -q "460/690 trials recorded" "$OUT/stdout" && grep -q "by shard: 1: 230, 2: 230" "$OUT/stdout" || { echo "FAIL: sweep status"; cat "$OUT/stdout"; fail=1; }
expect_ok "sweep: report from the store, heatmap axes chosen" sweep report --store "$OUT/sweep.sqlite" --output "$OUT/sweep2.html" --heatmap slow,fast
grep -q 'Objective by slow (across) and fast (down)' "$OUT/sweep2.html" || { echo "FAIL: sweep report heatmap axes"; fail=1; }
expect_error "sweep: a heatmap axis that is not swept" "expects two swept parameters" sweep report --store "$OUT/sweep.sqlite" --heatmap fast,cash
expect_ok "sweep: walk-forward" sweep --config Examples/sweep-walkforward.yaml --store "$OUT/wf.sqlite" --report "$OUT/wf.html"
expect_ok "sweep: walk-forward on a universe (portfolio trials, stitched out-of-sample)" sweep --config Examples/sweep-portfolio-walkforward.yaml --store "$OUT/wf-universe.sqlite" --report "$OUT/wf-universe.html"
grep -q "stitched out-of-sample: return" "$OUT/stdout" && grep -q 'data-chart="oos-equity"' "$OUT/wf.html" || { echo "FAIL: walk-forward"; cat "$OUT/stdout"; fail=1; }
expect_ok "sweep: TPE over two files" sweep --config Examples/sweep-sma-tpe.yaml --store "$OUT/tpe.sqlite" --report "$OUT/tpe.html"
expect_error "sweep: a bad shard" "expected I/N" sweep --config Examples/sweep-sma.yaml --store "$OUT/x.sqlite" --shard 3/3
printf 'name: x\nstrategy: nope\nparameters: {fast: [1]}\n' >"$OUT/badsweep.yaml"
expect_error "sweep: an unknown strategy names the key" "config error at strategy" sweep --config "$OUT/badsweep.yaml" --store "$OUT/x.sqlite"
sed -e 's/^seed: .*/seed: 8/' Examples/sweep-sma-tpe.yaml >"$OUT/tpe2.yaml"
expect_error "sweep: a changed spec under the same name is refused" "already exists with different settings" sweep --config "$OUT/tpe2.yaml" --store "$OUT/tpe.sqlite"
expect_error "sweep: an unreachable PostgreSQL store is a typed error, password hidden" "postgres://u:\*\*\*@127.0.0.1:1/db" sweep --config Examples/sweep-sma.yaml --store "postgres://u:secret@127.0.0.1:1/db?connect_timeout=1"
grep -q secret "$OUT/stderr" && { echo "FAIL: the store password reached the output"; fail=1; }

# crocbot import-onnx (needs CROCBOT_ONNXRUNTIME; .ci/run sets it)
if [ -n "${CROCBOT_ONNXRUNTIME:-}" ]; then
    printf 'features:\n' >"$OUT/six.yaml"
    for c in open high low close volume hl2; do printf '  - {name: %s, indicator: price, source: %s}\n' "$c" "$c" >>"$OUT/six.yaml"; done
    expect_ok "import an ONNX model" import-onnx --model Tests/CrocModelsTests/Fixtures/logistic.onnx --features "$OUT/six.yaml" --output-name probability --output "$OUT/onnx-bundle"
    expect_ok "backtest the imported ONNX model" backtest --strategy model --param model="$OUT/onnx-bundle" --param longAbove=0.5 --output "$OUT/onnx-run"
    expect_error "a wrong ONNX output name is refused at import" "ONNX Runtime Run" import-onnx --model Tests/CrocModelsTests/Fixtures/logistic.onnx --features "$OUT/six.yaml" --output-name nope --output "$OUT/x"
else
    echo "FAIL: CROCBOT_ONNXRUNTIME is not set (see .ci/run)"; fail=1
fi

# The defaults travel with the binary: from another directory, and from an installed copy
# (the binary with its CrocBot_crocbot.resources folder next to it), the default backtest,
# and the default paper replay find the shipped sample data.
ABS_BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"
INSTALL="$OUT/install/bin"
mkdir -p "$INSTALL" "$OUT/elsewhere"
cp "$ABS_BIN" "$INSTALL/crocbot" && cp -R "$(dirname "$ABS_BIN")/CrocBot_crocbot.resources" "$INSTALL/"
for exe in "$ABS_BIN" "$INSTALL/crocbot"; do
    if (cd "$OUT/elsewhere" && "$exe" backtest --output run >stdout 2>stderr) \
        && grep -q "Equity Final \[\$\]  *18090.536482" "$OUT/elsewhere/stdout"; then
        echo "ok:   $exe backtest from another directory"
    else
        echo "FAIL: $exe backtest from another directory"; cat "$OUT/elsewhere/stderr"; fail=1
    fi
    if ! (cd "$OUT/elsewhere" && "$exe" live --paper --port 0 --exit-at-end --speed 1000000000 --store live.sqlite >stdout 2>stderr); then
        echo "FAIL: $exe live --paper from another directory"; cat "$OUT/elsewhere/stderr"; fail=1
    else
        echo "ok:   $exe live --paper from another directory"
    fi
done
(cd "$OUT/elsewhere" && "$INSTALL/crocbot" backtest --output run3 >/dev/null 2>installed.log)
grep -q 'install.\{1,2\}bin.\{1,2\}CrocBot_crocbot.resources' "$OUT/elsewhere/installed.log" \
    || { echo "FAIL: the installed binary did not read the data packaged next to it"; cat "$OUT/elsewhere/installed.log"; fail=1; }

exit $fail
