# Shared helpers for the soft-RoCE lab scripts (sourced, not run).

# copy_elf_with_libs DEST_ROOT SYSROOT FILE [DEST_PATH]
# Copies FILE into DEST_ROOT (at DEST_PATH, default: same path relative to /) together with every shared
# library it needs, found by walking DT_NEEDED (readelf) in SYSROOT first, then on the host. Libraries land in
# DEST_ROOT/lib/x86_64-linux-gnu so one search path serves every binary in the guest.
copy_elf_with_libs() {
  local dest=$1 sysroot=$2 file=$3 dpath=${4:-}
  [ -n "$dpath" ] || dpath=${file#"$sysroot"}
  mkdir -p "$dest/$(dirname "$dpath")"
  cp -L "$file" "$dest/$dpath"
  local queue=("$file") seen=" " f lib found d
  while [ ${#queue[@]} -gt 0 ]; do
    f=${queue[0]}; queue=("${queue[@]:1}")
    for lib in $(readelf -d "$f" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      case "$seen" in *" $lib "*) continue ;; esac
      seen="$seen$lib "
      found=""
      for d in "$sysroot/lib/x86_64-linux-gnu" "$sysroot/usr/lib/x86_64-linux-gnu" \
               /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /usr/local/lib; do
        if [ -e "$d/$lib" ]; then found=$d/$lib; break; fi
      done
      if [ -z "$found" ]; then
        echo "softroce-lab: $file needs $lib, found neither in $sysroot nor on the host" >&2
        return 1
      fi
      [ -e "$dest/lib/x86_64-linux-gnu/$lib" ] || cp -L "$found" "$dest/lib/x86_64-linux-gnu/$lib"
      queue+=("$found")
    done
  done
}

# module_closure MODROOT KVER MODULE... : prints the module files (relative to MODROOT/lib/modules/KVER) in
# load order, dependencies first, from modules.dep.
module_closure() {
  local modroot=$1 kver=$2; shift 2
  local dep=$modroot/lib/modules/$kver/modules.dep
  awk -v want="$*" '
    BEGIN { n = split(want, w, " ") }
    {
      key = $1; sub(/:$/, "", key)
      name = key; sub(/.*\//, "", name); sub(/\.ko(\.[a-z]+)?$/, "", name); gsub(/-/, "_", name)
      path[name] = key; deps[name] = ""
      for (i = 2; i <= NF; i++) {
        d = $i; sub(/.*\//, "", d); sub(/\.ko(\.[a-z]+)?$/, "", d); gsub(/-/, "_", d)
        deps[name] = deps[name] " " d
      }
    }
    function visit(m,   k, parts, i) {
      if (m in done) return
      if (!(m in path)) { print "softroce-lab: module " m " not in modules.dep" > "/dev/stderr"; exit 1 }
      done[m] = 1
      k = split(deps[m], parts, " ")
      # modules.dep lists the full closure; visiting each dependency first gives a valid order.
      for (i = k; i >= 1; i--) visit(parts[i])
      print path[m]
    }
    END { for (i = 1; i <= n; i++) { m = w[i]; gsub(/-/, "_", m); visit(m) } }
  ' "$dep"
}
