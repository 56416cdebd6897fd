# Sourced by guest test scripts: roce_v2_ipv4_gid DEV [PORT] prints the GID index of the RoCE v2 entry that
# holds an IPv4-mapped address (::ffff:a.b.c.d), the index perftest's -x and rfab's verbs driver need.
roce_v2_ipv4_gid() {
  local dev=$1 port=${2:-1} d=/sys/class/infiniband/$1/ports/${2:-1} i gid type
  for i in $(ls "$d/gids" | sort -n); do
    gid=$(cat "$d/gids/$i" 2>/dev/null) || continue
    type=$(cat "$d/gid_attrs/types/$i" 2>/dev/null) || continue
    case "$gid" in 0000:0000:0000:0000:0000:ffff:*) [ "$type" = "RoCE v2" ] && { echo "$i"; return 0; } ;; esac
  done
  echo "gid.sh: $dev port $port has no RoCE v2 IPv4-mapped GID" >&2
  return 1
}
