# Shared by bench scripts: `. bench/lib.sh` from the repository root.

# oggedge_bin: prints the oggedge binary to benchmark: $OGGEDGE_BIN, else a fresh release build.
oggedge_bin() {
  if [ -n "${OGGEDGE_BIN:-}" ]; then
    echo "$OGGEDGE_BIN"
  else
    swift build -c release --product oggedge >/dev/null
    echo "$(swift build -c release --show-bin-path)/oggedge"
  fi
}
