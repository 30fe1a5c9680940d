# Sourced by the scripts that measure `cashier serve` under `cashier bench` (cpu-per-journal,
# flamegraph). `start_fresh_server CASHIER DIR` starts the server on a fresh store in DIR, at
# log level warn like the server `cashier bench` starts itself, waits until it answers, and sets
# `server_pid` and `server_url`. `stop_server` stops it.
start_fresh_server() {
    local cashier=$1 dir=$2
    local port=$((20000 + RANDOM % 20000))
    RUST_LOG=${RUST_LOG:-warn} "$cashier" serve --data-dir "$dir" --listen "127.0.0.1:$port" > "$dir.serve.log" 2>&1 &
    server_pid=$!
    server_url=http://127.0.0.1:$port
    for _ in $(seq 100); do
        [ -f "$dir/sandbox.json" ] && curl -sf "$server_url/readyz" > /dev/null && return 0
        sleep 0.1
    done
    echo "cashier serve did not answer within 10 s (log: $dir.serve.log)" >&2
    return 1
}

stop_server() {
    [ -n "${server_pid:-}" ] || return 0
    kill "$server_pid" 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
}
