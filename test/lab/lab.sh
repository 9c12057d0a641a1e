#!/usr/bin/env bash
# Corral test lab: real Debian 12 nodes (systemd as PID 1, sshd) run as
# systemd-nspawn containers on this machine, on a private bridge, with a local
# apt repository. Must run as root. See test/lab/README.md.
#
# usage: test/lab/lab.sh COMMAND [ARGS]
#   prepare              install host tools; build (cached) the keys, base rootfs
#                        and local apt repo from test/lab/packages.txt
#   up [N]               run nodes n1..nN (default 3; nodes above N are stopped)
#                        and wait until each answers ssh with a booted systemd
#   down [--wipe]        stop all nodes and the lab network; --wipe also drops
#                        the nodes' state so the next `up` starts from bare nodes
#   stop-node NAME       power one node off (its address disappears)
#   start-node NAME      bring one node back (state kept) and wait for it
#   ssh [USER@]NAME [CMD...]   ssh to a node (default user root)
#   status               show nodes, bridge, repo server and guard route
#   netns NAME IP        a bare network namespace lab-NAME on the lab bridge at
#                        IP (10.213.0.200-254), for a process a test runs there
#   netns-del NAME       remove it
#   snapshot NAME        save every node's state (running nodes are stopped
#                        around the copy and started again)
#   restore NAME         put a snapshot back (same)
#
# environment:
#   CORRAL_LAB_DIR     work/cache folder (default /var/lib/corral-lab)
#   LAB_BOOT_TIMEOUT   seconds to wait for nodes to boot (default 120)
#   LAB_STOP_TIMEOUT   seconds to wait for an orderly node shutdown (default 30)
#
# Network safety: the host always keeps `unreachable 10.213.0.0/16`; nodes only
# have 10.213.0.0/24, no default route and DNS 127.0.0.1.
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
LAB=${CORRAL_LAB_DIR:-/var/lib/corral-lab}
BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-120}
STOP_TIMEOUT=${LAB_STOP_TIMEOUT:-30}

PACKAGES_TXT=$HERE/packages.txt
KEYS=$LAB/keys
KEY=$KEYS/id_ed25519
BASE=$LAB/base
REPO=$LAB/repo
NODES=$LAB/nodes
RUN=$LAB/run
LOGS=$LAB/logs
CACHE=$LAB/cache
STAMPS=$LAB/stamps
SNAPS=$LAB/snapshots
TMP=$LAB/tmp

NET=10.213.0
HOST_IP=$NET.1
GUARD_NET=10.213.0.0/16
BRIDGE=labbr0
REPO_PORT=8080
SUITE=bookworm
BASE_INCLUDE=systemd,systemd-sysv,dbus,openssh-server,iproute2,sudo,python3,procps,ca-certificates,iputils-ping,less
HOST_PACKAGES=(systemd-container debootstrap dpkg-dev iproute2 openssh-client python3)
HOST_PYTHON=/usr/bin/python3
MAX_NODES=99

log() { printf '[lab %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---------------------------------------------------------------- helpers ---

need_root() { [[ $(id -u) -eq 0 ]] || die "must run as root"; }

# The guard: lab addresses never follow the host's default route, even when
# the bridge is gone. Added before anything else and never removed.
guard_route() { ip route replace unreachable "$GUARD_NET"; }

node_index() {
  [[ ${1:-} =~ ^n([1-9][0-9]?)$ ]] || die "bad node name '${1:-}' (expected n1..n$MAX_NODES)"
  echo "${BASH_REMATCH[1]}"
}
node_ip() { echo "$NET.$((10 + $(node_index "$1")))"; }

lock() {
  mkdir -p "$LAB"
  exec 9>"$LAB/.lock"
  if ! flock -n 9; then
    log "waiting for another lab.sh to finish"
    flock 9
  fi
}

# pid from a pid file, only if that process is alive and its command line
# contains the given marker (guards against pid reuse).
live_pid() {
  local file=$1 marker=$2 pid cmd
  [[ -s $file ]] || return 1
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
  [[ $cmd == *"$marker"* ]] || return 1
  echo "$pid"
}
sup_pid() { live_pid "$RUN/$1.sup.pid" "__supervise $1 "; }
nspawn_pid() { live_pid "$RUN/$1.nspawn.pid" "--machine=$1 "; }
node_running() { sup_pid "$1" >/dev/null || nspawn_pid "$1" >/dev/null; }

# every node this lab knows about (state dirs, pid files, netns, mounts)
known_nodes() {
  {
    local d
    for d in "$NODES"/n* "$RUN"/n*.sup.pid "$RUN"/n*.nspawn.pid; do
      [[ -e $d ]] || continue
      d=${d##*/}; echo "${d%%.*}"
    done
    ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^lab-\(n[0-9]*\)$/\1/p'
    awk -v p="$NODES/" 'index($2, p) == 1 {print $2}' /proc/mounts | sed -n 's#.*/\(n[0-9]*\)/root$#\1#p'
  } | grep -E '^n[1-9][0-9]?$' | sort -u -V
}
running_nodes() {
  local n
  for n in $(known_nodes); do node_running "$n" && echo "$n"; done
  return 0
}

lab_count() { [[ -s $RUN/count ]] && cat "$RUN/count" || echo 0; }

# cgroup directories for one node: both the named systemd v1 hierarchy and
# the cgroup2 one on a hybrid host; just cgroup2 on a pure-v2 host.
cg_dirs() {
  if [[ -d /sys/fs/cgroup/systemd && -d /sys/fs/cgroup/unified ]]; then
    echo "/sys/fs/cgroup/systemd/lab/$1" "/sys/fs/cgroup/unified/lab/$1"
  elif [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    echo "/sys/fs/cgroup/lab/$1"
  else
    echo "/sys/fs/cgroup/systemd/lab/$1"
  fi
}
cg_procs() {
  local d
  for d in $(cg_dirs "$1"); do
    [[ -d $d ]] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
  return 0
}
cg_remove() {
  local d
  for d in $(cg_dirs "$1"); do
    [[ -d $d ]] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
    [[ -d $d ]] && log "warning: could not remove cgroup $d"
    rmdir "${d%/*}" 2>/dev/null || true
  done
  return 0
}

# ------------------------------------------------------------- prepare ---

host_prereqs() {
  local p missing=()
  for p in "${HOST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing host packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# the Debian (not -security) mirror the host itself uses
mirror_uri() {
  local u=""
  if [[ -r /etc/apt/sources.list.d/debian.sources ]]; then
    u=$(awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}' /etc/apt/sources.list.d/debian.sources |
      grep -v -- '-security' | head -n1 || true)
  fi
  if [[ -z $u && -r /etc/apt/sources.list ]]; then
    u=$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; break}}' /etc/apt/sources.list |
      grep -v -- '-security' | head -n1 || true)
  fi
  [[ -n $u ]] || die "cannot find the host's Debian mirror in /etc/apt"
  echo "$u"
}

ensure_keys() {
  mkdir -p "$KEYS"
  chmod 0700 "$KEYS"
  if [[ ! -s $KEY || ! -s $KEY.pub ]]; then
    rm -f "$KEY" "$KEY.pub"
    ssh-keygen -q -t ed25519 -N '' -C corral-lab -f "$KEY"
  fi
  chmod 0600 "$KEY"
}

hash16() { sha256sum | cut -c1-16; }
stamp() { cat "$STAMPS/$1" 2>/dev/null || true; }

bootstrap_key() { printf '%s\n' v1 "$SUITE" minbase "$BASE_INCLUDE" "$(mirror_uri)" | hash16; }
base_key() { { stamp bootstrap; declare -f customise_base; cat "$KEY.pub"; } | hash16; }
package_list() { sed 's/#.*//' "$PACKAGES_TXT" | tr -s ' \t' '\n\n' | sed '/^$/d' | sort -u; }
repo_key() {
  { echo v1; stamp base; package_list; cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } | hash16
}

lab_busy() { [[ -n $(running_nodes) ]] || awk -v p="$NODES/" 'index($2, p) == 1' /proc/mounts | grep -q .; }

build_bootstrap() {
  local key tmp
  key=$(bootstrap_key)
  if [[ -s $CACHE/bootstrap.tar && $(stamp bootstrap) == "$key" ]]; then return 0; fi
  log "debootstrap $SUITE (minbase) from $(mirror_uri); log: $LOGS/debootstrap.log"
  tmp=$TMP/bootstrap
  rm -rf "$tmp"
  mkdir -p "$tmp" "$CACHE" "$LOGS" "$STAMPS"
  if ! debootstrap --variant=minbase --include="$BASE_INCLUDE" "$SUITE" "$tmp" "$(mirror_uri)" >"$LOGS/debootstrap.log" 2>&1; then
    tail -n 20 "$LOGS/debootstrap.log" >&2
    die "debootstrap failed"
  fi
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$tmp" -cpf "$CACHE/bootstrap.tar.new" .
  mv "$CACHE/bootstrap.tar.new" "$CACHE/bootstrap.tar"
  rm -rf "$tmp"
  echo "$key" >"$STAMPS/bootstrap"
}

# Everything that turns the pristine debootstrap tree into the lab base.
# Its text is part of the base cache key: editing it rebuilds the base.
customise_base() {
  local r=$1 u
  # per-node ssh host keys, made on each node's first start
  rm -f "$r"/etc/ssh/ssh_host_*
  mkdir -p "$r/etc/systemd/system/ssh.service.d"
  cat >"$r/etc/systemd/system/ssh.service.d/lab-hostkeys.conf" <<'EOF'
# corral lab: each node generates its own host keys before sshd starts
[Service]
ExecStartPre=
ExecStartPre=/usr/bin/ssh-keygen -A
ExecStartPre=/usr/sbin/sshd -t
EOF
  # a fresh machine-id per node
  : >"$r/etc/machine-id"
  rm -f "$r/var/lib/dbus/machine-id"
  # no name resolution beyond the node itself
  rm -f "$r/etc/resolv.conf"
  echo 'nameserver 127.0.0.1' >"$r/etc/resolv.conf"
  echo lab-base >"$r/etc/hostname"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n' >"$r/etc/hosts"
  # no outside apt sources: nodes get the lab repo when they start
  : >"$r/etc/apt/sources.list"
  rm -f "$r"/etc/apt/sources.list.d/*
  # periodic jobs that only add noise in a lab, and the first-boot wizard
  for u in apt-daily.timer apt-daily-upgrade.timer fstrim.timer e2scrub_all.timer \
    e2scrub_reap.service dpkg-db-backup.timer systemd-firstboot.service; do
    ln -sfn /dev/null "$r/etc/systemd/system/$u"
  done
  # admin user with passwordless sudo; root and admin log in with the lab key
  chroot "$r" id admin >/dev/null 2>&1 || chroot "$r" useradd --create-home --shell /bin/bash --groups sudo admin
  chroot "$r" usermod -p '*' admin
  echo 'admin ALL=(ALL:ALL) NOPASSWD: ALL' >"$r/etc/sudoers.d/lab-admin"
  chmod 0440 "$r/etc/sudoers.d/lab-admin"
  install -d -m 0700 "$r/root/.ssh" "$r/home/admin/.ssh"
  install -m 0600 "$KEY.pub" "$r/root/.ssh/authorized_keys"
  install -m 0600 "$KEY.pub" "$r/home/admin/.ssh/authorized_keys"
  chroot "$r" chown -R admin:admin /home/admin/.ssh
  mkdir -p "$r/srv/lab-repo"
}

build_base() {
  local key
  key=$(base_key)
  if [[ -f $BASE/etc/os-release && $(stamp base) == "$key" ]]; then return 0; fi
  lab_busy && die "the base rootfs must be rebuilt but the lab is up: run 'lab.sh down' first"
  log "building base rootfs in $BASE"
  rm -rf "$BASE.new"
  mkdir -p "$BASE.new"
  tar --numeric-owner --xattrs --xattrs-include='*' -C "$BASE.new" -xpf "$CACHE/bootstrap.tar"
  customise_base "$BASE.new"
  rm -rf "$BASE"
  mv "$BASE.new" "$BASE"
  echo "$key" >"$STAMPS/base"
}

build_repo() {
  local key t pkgs
  key=$(repo_key)
  if [[ -s $REPO/Packages && $(stamp repo) == "$key" ]]; then return 0; fi
  lab_busy && die "the apt repo must be rebuilt but the lab is up: run 'lab.sh down' first"
  mapfile -t pkgs < <(package_list)
  ((${#pkgs[@]} > 0)) || die "$PACKAGES_TXT lists no package"
  log "building local apt repo (${#pkgs[@]} packages + deps); log: $LOGS/repo.log"
  t=$TMP/repo
  rm -rf "$t" "$REPO.new"
  mkdir -p "$t/upper" "$t/work" "$t/root" "$REPO.new/debs/partial"
  # a throwaway overlay of the base, in a private mount namespace (all its
  # mounts vanish with the namespace); apt there uses the host's sources
  if ! unshare --mount --propagation private -- bash "$SELF" __repo-chroot "$t" "$REPO.new/debs" "${pkgs[@]}" >"$LOGS/repo.log" 2>&1; then
    tail -n 30 "$LOGS/repo.log" >&2
    die "downloading packages failed"
  fi
  rm -rf "$t" "$REPO.new/debs/partial" "$REPO.new/debs/lock"
  (
    cd "$REPO.new"
    dpkg-scanpackages --multiversion debs /dev/null >Packages 2>>"$LOGS/repo.log"
    gzip -9nc Packages >Packages.gz
    "$HOST_PYTHON" - <<'EOF'
import hashlib, time
files = ["Packages", "Packages.gz"]
out = ["Origin: corral-lab", "Label: corral-lab", "Suite: lab", "Codename: lab",
       "Architectures: amd64 all",
       "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S UTC", time.gmtime())]
for algo, field in (("md5", "MD5Sum"), ("sha256", "SHA256")):
    out.append(field + ":")
    for f in files:
        data = open(f, "rb").read()
        out.append(" %s %d %s" % (hashlib.new(algo, data).hexdigest(), len(data), f))
open("Release", "w").write("\n".join(out) + "\n")
EOF
  )
  rm -rf "$REPO"
  mv "$REPO.new" "$REPO"
  echo "$key" >"$STAMPS/repo"
  log "repo: $(ls "$REPO/debs" | wc -l) .debs, $(du -sh "$REPO" | cut -f1)"
}

# runs inside `unshare --mount`: download the packages into $2
repo_chroot() {
  local t=$1 debs=$2 r f k
  shift 2
  r=$t/root
  mount -t overlay lab-repo -o "lowerdir=$BASE,upperdir=$t/upper,workdir=$t/work" "$r"
  mount -t proc proc "$r/proc"
  mount --bind /dev "$r/dev"
  mount --bind /etc/resolv.conf "$r/etc/resolv.conf"
  mount --bind "$debs" "$r/var/cache/apt/archives"
  [[ -f /etc/apt/sources.list ]] && cp /etc/apt/sources.list "$r/etc/apt/sources.list"
  cp -a /etc/apt/sources.list.d/. "$r/etc/apt/sources.list.d/"
  for f in "$r"/etc/apt/sources.list.d/*.sources; do
    [[ -e $f ]] || continue
    for k in $(awk '/^Signed-By:/ {print $2}' "$f"); do
      [[ -e $r$k || ! -e $k ]] || install -D -m 0644 "$k" "$r$k"
    done
  done
  chroot "$r" apt-get update
  chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get install -y --download-only "$@"
  chroot "$r" env DEBIAN_FRONTEND=noninteractive apt-get upgrade -y --download-only
}

prepare() {
  need_root
  guard_route
  host_prereqs
  mkdir -p "$LAB" "$LOGS" "$STAMPS" "$CACHE" "$RUN" "$NODES"
  ensure_keys
  build_bootstrap
  build_base
  build_repo
}

# -------------------------------------------------------------- network ---

inotify_raise() {
  local cur
  cur=$(sysctl -n fs.inotify.max_user_instances)
  if ((cur < 1024)); then
    [[ -e $RUN/inotify.orig ]] || echo "$cur" >"$RUN/inotify.orig"
    sysctl -qw fs.inotify.max_user_instances=1024
  fi
}
inotify_restore() {
  if [[ -s $RUN/inotify.orig ]]; then
    sysctl -qw fs.inotify.max_user_instances="$(<"$RUN/inotify.orig")"
    rm -f "$RUN/inotify.orig"
  fi
}

repo_server_up() {
  local pid i
  if live_pid "$RUN/http.pid" http.server >/dev/null; then return 0; fi
  # Daemons must not inherit a caller's lock descriptor (`flock /tmp/corral-lab.lock lab.sh up` holds it on fd 3): they would hold the lock forever.
  setsid "$HOST_PYTHON" -m http.server "$REPO_PORT" --bind "$HOST_IP" --directory "$REPO" \
    >>"$LOGS/http.log" 2>&1 </dev/null 3>&- 4>&- 5>&- 9>&- &
  pid=$!
  echo "$pid" >"$RUN/http.pid"
  for i in $(seq 100); do
    if (exec 3<>"/dev/tcp/$HOST_IP/$REPO_PORT") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 5 "$LOGS/http.log" >&2
  die "the repo http server did not start"
}
repo_server_down() {
  local pid i
  if pid=$(live_pid "$RUN/http.pid" http.server); then
    kill "$pid" 2>/dev/null || true
    # (an exited process may stay a zombie for a while: its cmdline is empty)
    for i in $(seq 50); do live_pid "$RUN/http.pid" http.server >/dev/null || break; sleep 0.1; done
    live_pid "$RUN/http.pid" http.server >/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$RUN/http.pid"
}

net_up() {
  guard_route
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link add "$BRIDGE" type bridge
  fi
  # fixed MAC: otherwise the bridge takes a port's MAC, which changes as nodes
  # come and go and leaves stale ARP entries in the nodes
  ip link set "$BRIDGE" address "$(lab_mac 0 1)"
  sysctl -qw "net.ipv6.conf.$BRIDGE.disable_ipv6=1"
  ip addr replace "$HOST_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  inotify_raise
  repo_server_up
}
net_down() {
  repo_server_down
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^lab-d[0-9]+$' || true); do net_node_down "${ns#lab-}"; done
  ip link del "$BRIDGE" 2>/dev/null || true
  inotify_restore
  guard_route
}

# locally administered MAC 02:0a:d5:00:KIND:OCTET (0a:d5 = 10.213)
lab_mac() { printf '02:0a:d5:00:%02x:%02x' "$1" "$2"; }

net_node_up() {
  local name=$1 ns=lab-$1 veth=lab-v$1 ip octet
  ip=$(node_ip "$name")
  octet=${ip##*.}
  ip netns list | awk '{print $1}' | grep -qx "$ns" || ip netns add "$ns"
  if ! ip link show "$veth" >/dev/null 2>&1; then
    ip -n "$ns" link del eth0 2>/dev/null || true
    # fixed MACs, so ARP caches on the host and in other nodes stay right
    # when a node restarts (a fresh random MAC would stall traffic ~30 s)
    ip link add "$veth" address "$(lab_mac 1 "$octet")" type veth \
      peer name eth0 address "$(lab_mac 0 "$octet")" netns "$ns"
  fi
  sysctl -qw "net.ipv6.conf.$veth.disable_ipv6=1"
  ip link set "$veth" master "$BRIDGE" up
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
  ip -n "$ns" addr replace "$ip/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
}
# A namespace of the test's own (no node in it): a daemon started with
# `ip netns exec lab-NAME` reaches the lab, and a route in the namespace can cut
# it off from one address while the rest of the lab still answers.
cmd_netns() {
  local name=${1:-} ip=${2:-} ns veth
  [[ $name =~ ^d[0-9]{1,2}$ && $ip =~ ^10\.213\.0\.(2[0-4][0-9]|25[0-4])$ ]] || die "usage: lab.sh netns dN 10.213.0.200-254"
  need_root
  ip link show "$BRIDGE" >/dev/null 2>&1 || die "no lab bridge: run 'lab.sh up' first"
  ns=lab-$name veth=lab-v$name
  cmd_netns_del "$name"
  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  sysctl -qw "net.ipv6.conf.$veth.disable_ipv6=1"
  ip link set "$veth" master "$BRIDGE" up
  ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
}
cmd_netns_del() {
  [[ ${1:-} =~ ^d[0-9]{1,2}$ ]] || die "usage: lab.sh netns-del dN"
  net_node_down "$1"
}
net_node_down() {
  ip netns del "lab-$1" 2>/dev/null || true
  ip link del "lab-v$1" 2>/dev/null || true
}

# ---------------------------------------------------------------- nodes ---

# Files the lab owns inside a node. hostname and the apt source are seeded on
# a fresh node only (the tool under test may change them); the lab block of
# /etc/hosts is refreshed on every start.
seed_node_files() {
  local name=$1 count=$2 root=$NODES/$1/root up=$NODES/$1/upper i block
  if [[ ! -e $up/etc/hostname ]]; then
    echo "$name" >"$root/etc/hostname"
    mkdir -p "$root/etc/apt/sources.list.d"
    echo "deb [trusted=yes] http://$HOST_IP:$REPO_PORT/ ./" >"$root/etc/apt/sources.list.d/lab.list"
  fi
  block="# BEGIN corral-lab (managed by test/lab/lab.sh)"$'\n'"$HOST_IP"$'\t'"labhost"
  for ((i = 1; i <= count; i++)); do block+=$'\n'"$NET.$((10 + i))"$'\t'"n$i"; done
  block+=$'\n'"# END corral-lab"
  BLOCK=$block "$HOST_PYTHON" - "$root/etc/hosts" <<'EOF'
import os, re, sys
path = sys.argv[1]
block = os.environ["BLOCK"] + "\n"
try:
    text = open(path).read()
except FileNotFoundError:
    text = ""
pat = re.compile(r"^# BEGIN corral-lab.*?^# END corral-lab\n?", re.S | re.M)
if pat.search(text):
    text = pat.sub(lambda m: block, text)
else:
    if text and not text.endswith("\n"):
        text += "\n"
    text += block
if os.path.islink(path):
    os.unlink(path)
with open(path, "w") as f:
    f.write(text)
EOF
}

mount_node() {
  local name=$1 d=$NODES/$1
  mkdir -p "$d/upper" "$d/work" "$d/root"
  if [[ $(cat "$d/base-stamp" 2>/dev/null) != "$(stamp base)" ]]; then
    if [[ -n $(ls -A "$d/upper") ]]; then log "$name: base rootfs changed, resetting the node"; fi
    mountpoint -q "$d/root" && umount "$d/root"
    rm -rf "$d/upper" "$d/work"
    mkdir -p "$d/upper" "$d/work"
    stamp base >"$d/base-stamp"
  fi
  if ! mountpoint -q "$d/root"; then
    mount -t overlay "lab-$name" -o "lowerdir=$BASE,upperdir=$d/upper,workdir=$d/work" "$d/root"
  fi
}

# launch a node's supervisor (does not wait for boot)
launch_node() {
  local name=$1 count=$2 d
  node_index "$name" >/dev/null
  if node_running "$name"; then return 0; fi
  cleanup_node "$name" # leftovers of a node that died (processes, mounts, netns)
  rm -f "$RUN/$name.exit-code"
  mount_node "$name"
  seed_node_files "$name" "$count"
  net_node_up "$name"
  for d in $(cg_dirs "$name"); do mkdir -p "$d"; done
  : >"$RUN/$name.starting"
  setsid bash "$SELF" __supervise "$name" >>"$LOGS/$name.log" 2>&1 </dev/null 3>&- 4>&- 5>&- 9>&- &
  local i
  for i in $(seq 100); do sup_pid "$name" >/dev/null && break; sleep 0.05; done
  sup_pid "$name" >/dev/null || die "$name: supervisor did not start (see $LOGS/$name.log)"
}

# the supervisor: runs nspawn, and again whenever the node reboots (rc 133)
supervise() {
  local name=$1 root=$NODES/$1/root d rc=0 npid
  echo $$ >"$RUN/$name.sup.pid"
  for d in $(cg_dirs "$name"); do echo $$ >"$d/cgroup.procs"; done
  rm -f "$RUN/$name.starting"
  while [[ ! -e $RUN/$name.stop ]]; do
    log "$name: starting container"
    SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 SYSTEMD_NSPAWN_API_VFS_WRITABLE=network \
      systemd-nspawn --quiet --boot --directory="$root" --machine="$name" --hostname="$name" \
      --network-namespace-path="/run/netns/lab-$name" --register=no --keep-unit \
      --capability=CAP_NET_ADMIN,CAP_IPC_LOCK --resolv-conf=off --timezone=off \
      --link-journal=no --console=read-only --bind-ro="$REPO:/srv/lab-repo" </dev/null &
    npid=$!
    echo "$npid" >"$RUN/$name.nspawn.pid"
    rc=0
    wait "$npid" || rc=$?
    rm -f "$RUN/$name.nspawn.pid"
    log "$name: container exited with $rc"
    [[ $rc -eq 133 ]] || break
    log "$name: reboot requested"
  done
  echo "$rc" >"$RUN/$name.exit-code"
  rm -f "$RUN/$name.sup.pid"
}

ssh_probe() {
  ssh -i "$KEY" -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=2 \
    -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o GlobalKnownHostsFile=/dev/null \
    -o LogLevel=ERROR "root@$1" "${@:2}"
}

# wait until every named node answers ssh with a booted systemd
wait_ready() {
  local deadline=$((SECONDS + BOOT_TIMEOUT)) pending=("$@") left n state
  while ((${#pending[@]})); do
    left=()
    for n in "${pending[@]}"; do
      if ! node_running "$n" && [[ ! -e $RUN/$n.starting ]]; then
        tail -n 20 "$LOGS/$n.log" >&2 || true
        die "$n: container is not running (see $LOGS/$n.log)"
      fi
      state=$(ssh_probe "$(node_ip "$n")" systemctl is-system-running 2>/dev/null || true)
      case $state in
        running) ;;
        degraded)
          log "$n: degraded; failed units: $(ssh_probe "$(node_ip "$n")" systemctl --failed --plain --no-legend 2>/dev/null | awk '{print $1}' | tr '\n' ' ')"
          ;;
        *) left+=("$n") ;;
      esac
    done
    pending=(${left[@]+"${left[@]}"})
    ((${#pending[@]})) || break
    ((SECONDS < deadline)) || die "timed out after ${BOOT_TIMEOUT}s waiting for: ${pending[*]}"
    sleep 0.3
  done
}

# ssh_config, known_hosts and nodes.json for n1..count
write_client_files() {
  local count=$1 i n ip kh keys
  {
    echo "# corral lab nodes; generated by test/lab/lab.sh. Use: ssh -F $LAB/ssh_config n1"
    for ((i = 1; i <= count; i++)); do
      printf 'Host n%d\n  HostName %s.%d\n' "$i" "$NET" $((10 + i))
      printf '  User root\n  Port 22\n  IdentityFile %s\n  IdentitiesOnly yes\n' "$KEY"
      printf '  UserKnownHostsFile %s/known_hosts\n  GlobalKnownHostsFile /dev/null\n' "$LAB"
      printf '  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 5\n  LogLevel ERROR\n\n'
    done
  } >"$LAB/ssh_config.new"
  mv "$LAB/ssh_config.new" "$LAB/ssh_config"
  {
    printf '['
    for ((i = 1; i <= count; i++)); do
      ((i > 1)) && printf ','
      printf '{"name":"n%d","ip":"%s.%d"}' "$i" "$NET" $((10 + i))
    done
    printf ']\n'
  } >"$LAB/nodes.json"
}

# refresh the known_hosts lines of the given (running) nodes
update_known_hosts() {
  local kh=$LAB/known_hosts n ips=() keys tmp
  for n in "$@"; do ips+=("$(node_ip "$n")"); done
  # one ssh-keyscan call scans all nodes in parallel
  keys=$(ssh-keyscan -T 5 -t ed25519,ecdsa,rsa "${ips[@]}" 2>/dev/null | grep -v '^#' || true)
  for n in "$@"; do
    grep -q "^$(node_ip "$n") " <<<"$keys" || die "$n: ssh-keyscan returned no key"
  done
  tmp=$(mktemp "$LAB/known_hosts.XXXXXX")
  {
    # keep the lines of other nodes, replace those of these nodes
    [[ -f $kh ]] && awk -v names=" $* " '{ split($1, h, ","); if (index(names, " " h[2] " ") == 0) print }' "$kh"
    awk -v ipnet="$NET." '{ n = substr($1, length(ipnet) + 1) - 10; $1 = $1 ",n" n; print }' <<<"$keys" | sort
  } >"$tmp"
  chmod 0644 "$tmp"
  mv "$tmp" "$kh"
}

# stop nodes in parallel: orderly shutdown first, then force
stop_nodes() {
  local n pid deadline
  (($#)) || return 0
  for n in "$@"; do
    : >"$RUN/$n.stop"
    # nspawn turns SIGTERM into an orderly shutdown of the container's systemd
    if pid=$(nspawn_pid "$n"); then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  deadline=$((SECONDS + STOP_TIMEOUT))
  for n in "$@"; do
    while node_running "$n" && ((SECONDS < deadline)); do sleep 0.1; done
    if node_running "$n"; then
      log "$n: no orderly shutdown within ${STOP_TIMEOUT}s, killing it"
      if pid=$(nspawn_pid "$n"); then kill -KILL "$pid" 2>/dev/null || true; fi
      if pid=$(sup_pid "$n"); then kill -KILL "$pid" 2>/dev/null || true; fi
    fi
  done
  for n in "$@"; do cleanup_node "$n"; done
}

# everything of one node except its state dirs
cleanup_node() {
  local n=$1 i pids root=$NODES/$1/root
  for i in $(seq 50); do
    pids=$(cg_procs "$n")
    [[ -z $pids ]] && break
    ((i == 1)) && log "$n: killing leftover processes: $(echo $pids)"
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  [[ -z $(cg_procs "$n") ]] || log "warning: $n: processes left in its cgroup"
  # a killed nspawn leaves its lock on the root directory's inode behind
  if mountpoint -q "$root"; then
    rm -f "/run/systemd/nspawn/locks/inode-$(stat -c '%d:%i' "$root")"
  fi
  for i in $(seq 50); do
    mountpoint -q "$root" || break
    umount "$root" 2>/dev/null || sleep 0.1
  done
  if mountpoint -q "$root"; then
    log "warning: $n: overlay busy, detaching it lazily"
    umount -l "$root"
  fi
  net_node_down "$n"
  cg_remove "$n"
  rmdir "/run/systemd/nspawn/propagate/$n" 2>/dev/null || true
  rm -f "$RUN/$n.stop" "$RUN/$n.starting" "$RUN/$n.sup.pid" "$RUN/$n.nspawn.pid"
}

run_tidy() {
  rmdir /run/systemd/nspawn/propagate /run/systemd/nspawn/locks /run/systemd/nspawn 2>/dev/null || true
  local d
  for d in $(cg_dirs x); do rmdir "${d%/*}" 2>/dev/null || true; done
  return 0
}

# ------------------------------------------------------------- commands ---

cmd_up() {
  local count=${1:-3} n i extra=() names=() t0=$SECONDS
  [[ $count =~ ^[0-9]+$ ]] && ((count >= 1 && count <= MAX_NODES)) || die "bad node count '$count'"
  need_root
  lock
  guard_route
  prepare
  for n in $(running_nodes); do (($(node_index "$n") > count)) && extra+=("$n"); done
  if ((${#extra[@]})); then log "stopping nodes beyond n$count: ${extra[*]}"; stop_nodes "${extra[@]}"; fi
  net_up
  echo "$count" >"$RUN/count"
  for ((i = 1; i <= count; i++)); do names+=("n$i"); done
  for n in "${names[@]}"; do
    if node_running "$n"; then
      seed_node_files "$n" "$count" # already up: refresh its /etc/hosts block
    else
      launch_node "$n" "$count"
    fi
  done
  wait_ready "${names[@]}"
  update_known_hosts "${names[@]}"
  write_client_files "$count"
  log "up: ${names[*]} ready in $((SECONDS - t0))s; ssh -F $LAB/ssh_config n1"
}

cmd_down() {
  local wipe=0 n
  case ${1:-} in --wipe) wipe=1 ;; "") ;; *) die "usage: lab.sh down [--wipe]" ;; esac
  need_root
  lock
  guard_route
  mapfile -t nodes < <(known_nodes)
  local live=()
  for n in ${nodes[@]+"${nodes[@]}"}; do node_running "$n" && live+=("$n"); done
  ((${#live[@]})) && log "stopping ${live[*]}"
  stop_nodes ${live[@]+"${live[@]}"}
  for n in ${nodes[@]+"${nodes[@]}"}; do cleanup_node "$n"; done
  net_down
  run_tidy
  rm -f "$RUN/count" "$RUN"/n*.exit-code
  if ((wipe)); then
    log "wiping node state"
    rm -rf "$NODES"
    mkdir -p "$NODES"
    rm -f "$LAB/known_hosts"
  fi
  guard_route
  log "down"
}

cmd_stop_node() {
  local name=${1:-}
  node_index "$name" >/dev/null
  need_root
  lock
  guard_route
  if node_running "$name"; then stop_nodes "$name"; else cleanup_node "$name"; fi
  log "$name stopped"
}

cmd_start_node() {
  local name=${1:-} count idx
  idx=$(node_index "$name")
  need_root
  lock
  guard_route
  prepare
  count=$(lab_count)
  if ((idx > count)); then
    count=$idx
    echo "$count" >"$RUN/count"
  fi
  net_up
  launch_node "$name" "$count"
  wait_ready "$name"
  update_known_hosts "$name"
  write_client_files "$count"
  log "$name started"
}

cmd_ssh() {
  local target=${1:-}
  [[ -n $target ]] || die "usage: lab.sh ssh [USER@]NAME [CMD...]"
  shift
  [[ -f $LAB/ssh_config ]] || die "no $LAB/ssh_config: run 'lab.sh up' first"
  exec ssh -F "$LAB/ssh_config" "$target" "$@"
}

cmd_status() {
  local n state ip sys
  if ip route show "$GUARD_NET" 2>/dev/null | grep -q unreachable; then
    echo "guard route: unreachable $GUARD_NET (present)"
  else
    echo "guard route: MISSING (run any lab.sh command as root to restore it)"
  fi
  if ip link show "$BRIDGE" >/dev/null 2>&1; then echo "bridge: $BRIDGE $HOST_IP/24 up"; else echo "bridge: down"; fi
  if live_pid "$RUN/http.pid" http.server >/dev/null; then
    echo "repo: http://$HOST_IP:$REPO_PORT/ (serving $REPO)"
  else
    echo "repo server: stopped"
  fi
  echo "lab dir: $LAB   nodes in lab: $(lab_count)"
  for n in $(known_nodes); do
    ip=$(node_ip "$n")
    if node_running "$n"; then
      state=running
      sys=$(ssh_probe "$ip" systemctl is-system-running 2>/dev/null || true)
      printf '%-4s %-12s %-8s systemd=%s\n' "$n" "$ip" "$state" "${sys:-unreachable}"
    else
      printf '%-4s %-12s %s\n' "$n" "$ip" stopped
    fi
  done
}

cmd_snapshot() {
  local snap=${1:-} live n dest
  [[ $snap =~ ^[A-Za-z0-9._-]+$ ]] || die "usage: lab.sh snapshot NAME (letters, digits, . _ -)"
  need_root
  lock
  guard_route
  mapfile -t live < <(running_nodes)
  ((${#live[@]})) && log "stopping ${live[*]} for the snapshot"
  stop_nodes ${live[@]+"${live[@]}"}
  dest=$SNAPS/$snap
  rm -rf "$dest.new"
  mkdir -p "$dest.new"
  for n in $(known_nodes); do
    [[ -d $NODES/$n/upper ]] || continue
    tar --numeric-owner --xattrs --xattrs-include='*' -C "$NODES/$n" -cpf "$dest.new/$n.tar" upper base-stamp
  done
  stamp base >"$dest.new/base-stamp"
  rm -rf "$dest"
  mv "$dest.new" "$dest"
  log "snapshot $snap: $(du -sh "$dest" | cut -f1)"
  restart_after "${live[@]+"${live[@]}"}"
}

cmd_restore() {
  local snap=${1:-} live n dest
  [[ $snap =~ ^[A-Za-z0-9._-]+$ ]] || die "usage: lab.sh restore NAME"
  dest=$SNAPS/$snap
  [[ -d $dest ]] || die "no snapshot '$snap' in $SNAPS"
  need_root
  lock
  guard_route
  [[ $(cat "$dest/base-stamp") == "$(stamp base)" ]] || die "snapshot '$snap' was taken on another base rootfs"
  mapfile -t live < <(running_nodes)
  ((${#live[@]})) && log "stopping ${live[*]} for the restore"
  stop_nodes ${live[@]+"${live[@]}"}
  for n in $(known_nodes); do cleanup_node "$n"; done
  rm -rf "$NODES"
  mkdir -p "$NODES"
  for f in "$dest"/n*.tar; do
    [[ -e $f ]] || continue
    n=$(basename "$f" .tar)
    mkdir -p "$NODES/$n/work" "$NODES/$n/root"
    tar --numeric-owner --xattrs --xattrs-include='*' -C "$NODES/$n" -xpf "$f"
  done
  log "restored snapshot $snap"
  restart_after "${live[@]+"${live[@]}"}"
}

restart_after() {
  (($#)) || return 0
  local count n
  count=$(lab_count)
  ((count > 0)) || count=$#
  net_up
  for n in "$@"; do launch_node "$n" "$count"; done
  wait_ready "$@"
  update_known_hosts "$@"
  write_client_files "$count"
  log "restarted $*"
}

main() {
  local cmd=${1:-}
  (($#)) && shift
  case $cmd in
    prepare) lock; prepare ;;
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    stop-node) cmd_stop_node "$@" ;;
    start-node) cmd_start_node "$@" ;;
    ssh) cmd_ssh "$@" ;;
    status) cmd_status ;;
    netns) cmd_netns "$@" ;;
    netns-del) cmd_netns_del "$@" ;;
    snapshot) cmd_snapshot "$@" ;;
    restore) cmd_restore "$@" ;;
    __supervise) supervise "$@" ;;
    __repo-chroot) repo_chroot "$@" ;;
    -h | --help | help | "") sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//' ;;
    *) die "unknown command '$cmd' (try: lab.sh help)" ;;
  esac
}

# keep `exit` on this line: bash then never reads past it, so editing this
# file while node supervisors run cannot make them execute stray text
main "$@"; exit
