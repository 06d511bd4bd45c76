/**
 * The shell that host.ts runs on a host. Every script starts with PRELUDE; instances with a restart policy
 * run under WATCHER. A pid file line is `index pid port ticks paused startedAt pgid restarts`: `pid` is the
 * instance's shell, `pgid` the process group every signal goes to (the watcher's session for a watched
 * instance, the instance's own otherwise), `ticks` the kernel start time of the group's leader, so a reused
 * id is never signalled. Lines written before watchers existed have six fields (pgid = pid, no restarts).
 */

/** Shell functions every script starts with; `F` is the group's pid file, `D` the absolute directory. */
export const PRELUDE = String.raw`
ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
pstate() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1; }
pgrp() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f3; }
group_alive() { ps -eo pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { f = 1 } END { exit !f }'; }
reused() { [ -e "/proc/$1" ] && [ "$(ticks "$1")" != "$2" ]; }
describe() {
  g=$7; [ -n "$g" ] || g=$2
  nr=$8; [ -n "$nr" ] || nr=0
  if reused "$g" "$4" || [ "$(pgrp "$2")" != "$g" ]; then s=exited
  else case "$(pstate "$2")" in ''|Z|X) s=exited;; T) s=paused;; *) if [ "$5" = 1 ]; then s=paused; else s=running; fi;; esac
  fi
  echo "$1 $2 $3 $4 $5 $6 $g $nr $s"
}
record() {
  t=$(ticks "$4"); [ -n "$t" ] || t=0
  echo "$1 $2 $3 $t 0 $(date -u +%Y-%m-%dT%H:%M:%SZ) $4 0"
}
# the lines of the instances whose "index:pgid" is (1) or is not (0) among the words of $1
lines_of() {
  [ -f "$F" ] || return 0
  awk -v keys=" $1 " -v among="$2" '(index(keys, " " $1 ":" ($7 == "" ? $2 : $7) " ") > 0) == among' "$F"
}
each() { [ -f "$F" ] || return 0; while read -r i p port t paused at g r; do "$@"; done < "$F"; }
show() { describe "$i" "$p" "$port" "$t" "$paused" "$at" "$g" "$r"; }
lock() { exec 9>>"$F.lock" && flock 9; }
unlock() { exec 9>&-; }
stop_one() {
  if reused "$1" "$2" || ! group_alive "$1"; then echo "stopped $1 0"; return; fi
  if [ "$3" -gt 0 ]; then
    kill -TERM -"$1" 2>/dev/null; kill -CONT -"$1" 2>/dev/null
    n=0; while group_alive "$1" && [ $n -lt "$3" ]; do sleep 0.02; n=$((n + 20)); done
    if ! group_alive "$1"; then echo "stopped $1 0"; return; fi
  fi
  kill -KILL -"$1" 2>/dev/null
  n=0; while group_alive "$1" && [ $n -lt 5000 ]; do sleep 0.02; n=$((n + 20)); done
  echo "stopped $1 $([ "$3" -gt 0 ] && echo 1 || echo 0)"
}
free_port() {
  # not read: dash reads a byte at a time, and a sysctl file answers only the first read
  e=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v lo=20000 -v hi=$((e - 1)) -v picked=" $drctl_picked " \
    -v seed="$(od -An -N4 -tu4 /dev/urandom)" '
    function hex(s,  n, k) { n = 0; for (k = 1; k <= length(s); k++) n = n * 16 + index("0123456789ABCDEF", toupper(substr(s, k, 1))) - 1; return n }
    $1 ~ /:$/ { split($2, a, ":"); used[hex(a[2])] = 1 }
    END {
      if (hi <= lo) { lo = 1024; hi = 65535 }
      srand(seed)
      for (t = 0; t < 500; t++) { p = lo + int(rand() * (hi - lo + 1)); if (!(p in used) && index(picked, " " p " ") == 0) { print p; exit 0 } }
      exit 1
    }'
}
`;

/**
 * Runs one watched instance: `$1` pid file, `$2` index, `$3` policy, `$4` restarts allowed, `$5` the
 * command, `$6` its log. It prints `pgid pid` of the first start and then writes only to the log. It is
 * the leader of the instance's session, so a stop (SIGTERM/SIGKILL to the group) ends it with the
 * instance. A crashed instance is started again after 100 ms, doubling to at most 5 s, while the pid file
 * still lists it with this watcher (the pid file is the desired state: a stopped instance is gone from it),
 * checked and updated under the file's lock so a stop and a restart never cross.
 */
export const WATCHER = String.raw`
F=$1; i=$2; policy=$3; max=$4; cmd=$5; log=$6; g=$$; r=0; d=100
exec </dev/null
/bin/sh -c "$cmd" >>"$log" 2>&1 &
p=$!
echo "$g $p"
exec >>"$log" 2>&1
while :; do
  wait "$p"; rc=$?
  if [ "$policy" = on-failure ] && [ "$rc" -eq 0 ]; then exit 0; fi
  if [ "$r" -ge "$max" ]; then echo "drctl: instance $i exited (status $rc) $r times; left down"; exit 0; fi
  sleep "$((d / 1000)).$(printf %03d $((d % 1000)))"
  d=$((d * 2)); [ "$d" -le 5000 ] || d=5000
  exec 9>>"$F.lock"; flock 9
  awk -v i="$i" -v g="$g" '$1 == i && $7 == g { f = 1 } END { exit !f }' "$F" 2>/dev/null || exit 0
  /bin/sh -c "$cmd" >>"$log" 2>&1 9>&- &
  p=$!; r=$((r + 1))
  awk -v i="$i" -v g="$g" -v p="$p" -v r="$r" -v at="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    '$1 == i && $7 == g { $2 = p; $6 = at; $8 = r } { print }' "$F" > "$F.w$$" && mv -f "$F.w$$" "$F"
  exec 9>&-
  echo "drctl: instance $i exited (status $rc); restarted as pid $p"
done
`;
