# proc.sh — sourced by kafka.sh and registry.sh: the PID file of one background service. The
# caller sets pid_file and defines say and pid_alive PID (the process exists and is the one the
# script started: guards against PID reuse), usually with cmdline_of.
#
# PROC_ROOT (default /proc) is where processes are looked up; tests point it at a fake tree.

# proc_running PID: the process exists and is not a zombie.
proc_running() {
  local stat
  [[ "$1" =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "${PROC_ROOT:-/proc}/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) } # the state follows the command name, which may hold spaces and ')'
  [[ -n "$stat" && ${stat%% *} != Z ]]
}

# cmdline_of PID: prints the process's command line (arguments separated by spaces), or fails
# when the process does not run (gone, or a zombie). A process in the middle of an exec shows
# an empty command line for a moment (the service's child writes its PID file just before it
# execs Java): that is waited out, up to PROC_EXEC_WAIT_TRIES polls 50 ms apart (default 40:
# 2 s), and never taken for death; a command line still empty after that prints as an empty
# line.
cmdline_of() {
  local pid=$1 cmd i
  for ((i = 0; i < ${PROC_EXEC_WAIT_TRIES:-40}; i++)); do
    proc_running "$pid" || return 1
    cmd=$(tr '\0' ' ' <"${PROC_ROOT:-/proc}/$pid/cmdline" 2>/dev/null) || return 1
    if [[ -n "$cmd" ]]; then
      printf '%s\n' "$cmd"
      return 0
    fi
    sleep 0.05
  done
  echo
}

# running_pid prints the PID of the running service, or fails.
running_pid() {
  [[ -f "$pid_file" ]] || return 1
  local pid
  pid=$(cat "$pid_file")
  pid_alive "$pid" || return 1
  echo "$pid"
}

# started_and_gone PID: the process a start just spawned is no longer running. Only this decides
# that a start failed: a PID file is never removed while its process runs.
started_and_gone() {
  ! proc_running "$1"
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
