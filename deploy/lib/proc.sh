# proc.sh — sourced by kafka.sh and registry.sh: the PID file of one background service. The
# caller sets pid_file and defines say and pid_alive PID (the process exists and is the one the
# script started: guards against PID reuse).

# running_pid prints the PID of the running service, or fails.
running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid=$(cat "$pid_file")
  pid_alive "$pid" || return 1
  echo "$pid"
}

# stop_pid PID SECONDS: SIGTERM, wait up to SECONDS for it to go, then SIGKILL.
stop_pid() {
  local pid=$1 secs=$2 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < secs * 2; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.5
  done
  say "pid $pid did not stop within ${secs}s; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.25
  done
}
