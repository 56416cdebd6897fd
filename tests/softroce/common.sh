# Shared by the softroce ctest drivers (sourced).
# lab_preflight: exit 77 (ctest SKIP) with the reason when this machine cannot run the lab at all; anything
# else that goes wrong later is a failure.
lab_preflight() {
  local why=""
  [ "$(id -u)" -eq 0 ] || why="needs root (netns, bridge, taps)"
  command -v qemu-system-x86_64 >/dev/null || why="qemu-system-x86_64 missing (scripts/install-deps.sh installs it)"
  command -v tcpdump >/dev/null || why="tcpdump missing (scripts/install-deps.sh installs it)"
  [ -e /dev/net/tun ] || why="/dev/net/tun missing"
  if [ -n "$why" ]; then echo "SKIP: $why"; exit 77; fi
}
