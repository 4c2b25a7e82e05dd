#!/bin/sh
# Prints the CPU ticks (user + system, including exited children that were waited for) used so
# far by each kind of testbed server, one "name ticks" line each, and the whole machine's busy
# ticks ("machine", from /proc/stat). Run inside `uptake testbed run` before and after a scan;
# benches/lib.sh's bench_servers_cpu prints the difference.
# Fields 14-17 of /proc/PID/stat (utime stime cutime cstime) are counted after the command name
# in parentheses, which may hold spaces ("nsd: xfrd").
unbound=0 nsd=0 nginx=0 postfix=0 serve_tls=0
for p in /proc/[0-9]*; do
  exe=$(readlink "$p/exe" 2>/dev/null) || continue
  case $exe in
    */unbound) kind=unbound ;;
    */nsd) kind=nsd ;;
    */nginx) kind=nginx ;;
    */postfix/*) kind=postfix ;;
    */uptake) grep -q serve-tls "$p/cmdline" 2>/dev/null && kind=serve_tls || continue ;;
    *) continue ;;
  esac
  s=$(cat "$p/stat" 2>/dev/null) || continue
  # shellcheck disable=SC2086
  set -- ${s##*) }
  shift 11
  eval "$kind=\$(( $kind + $1 + $2 + $3 + $4 ))"
done
echo "unbound $unbound"
echo "nsd $nsd"
echo "nginx $nginx"
echo "postfix $postfix"
echo "serve-tls $serve_tls"
# /proc/stat "cpu" line: user nice system idle iowait irq softirq steal ...; busy = all but idle and iowait.
awk '/^cpu / { print "machine", $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
