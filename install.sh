#!/bin/sh
# Installs a built frontdesk binary as a systemd service on a Linux server.
# Idempotent: run it again to upgrade the binary; config and data are never
# overwritten. Usage: sudo ./install.sh [--binary PATH] [--dry-run] [--uninstall]
set -eu

PREFIX="${PREFIX:-/usr/local}"
BINARY="./target/release/frontdesk"
DRY_RUN=0
UNINSTALL=0
HERE=$(cd "$(dirname "$0")" && pwd)

usage() {
    cat <<USAGE
Install frontdesk as a service.

  --binary PATH   frontdesk binary to install (default: ./target/release/frontdesk)
  --dry-run       print what would be done, change nothing
  --uninstall     remove the binary and units; keep /var/lib/frontdesk and /etc/frontdesk
  --help          this text

Environment: PREFIX (default /usr/local).
USAGE
}

while [ $# -gt 0 ]; do
    case "$1" in
        --binary) [ $# -ge 2 ] || { echo "install.sh: --binary needs a path" >&2; exit 2; }; BINARY="$2"; shift 2 ;;
        --dry-run) DRY_RUN=1; shift ;;
        --uninstall) UNINSTALL=1; shift ;;
        --help|-h) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done

run() {
    if [ "$DRY_RUN" = 1 ]; then
        echo "would run: $*"
    else
        echo "+ $*"
        "$@"
    fi
}

have_systemd() { command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; }

UNITS="frontdesk.service frontdesk-backup.service frontdesk-backup.timer"

if [ "$UNINSTALL" = 1 ]; then
    if have_systemd; then
        run systemctl disable --now frontdesk.service frontdesk-backup.timer || true
    fi
    for unit in $UNITS; do
        [ -e "/etc/systemd/system/$unit" ] && run rm -f "/etc/systemd/system/$unit"
    done
    [ -e "$PREFIX/bin/frontdesk" ] && run rm -f "$PREFIX/bin/frontdesk"
    have_systemd && run systemctl daemon-reload
    echo "frontdesk removed. Kept: /var/lib/frontdesk (data), /etc/frontdesk (config), /var/backups/frontdesk."
    exit 0
fi

if [ ! -x "$BINARY" ]; then
    if command -v cargo >/dev/null 2>&1 && [ -f "$HERE/Cargo.toml" ]; then
        echo "No binary at $BINARY; building it (cargo build --release --locked)."
        run cargo build --release --locked --manifest-path "$HERE/Cargo.toml"
        BINARY="$HERE/target/release/frontdesk"
    else
        echo "install.sh: no frontdesk binary at $BINARY (build it with 'cargo build --release')" >&2
        exit 1
    fi
fi
if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    echo "install.sh: run as root (sudo ./install.sh)" >&2
    exit 1
fi

if ! id frontdesk >/dev/null 2>&1; then
    run useradd --system --home /var/lib/frontdesk --shell /usr/sbin/nologin frontdesk
fi
run install -D -m 0755 "$BINARY" "$PREFIX/bin/frontdesk"
run install -d -m 0750 -o frontdesk -g frontdesk /var/lib/frontdesk /var/backups/frontdesk
run install -d -m 0755 /etc/frontdesk
if [ ! -e /etc/frontdesk/config.toml ]; then
    run install -m 0644 "$HERE/config.example.toml" /etc/frontdesk/config.toml
else
    echo "keeping existing /etc/frontdesk/config.toml"
fi
if [ ! -e /etc/frontdesk/frontdesk.env ]; then
    run install -m 0600 -o frontdesk -g frontdesk "$HERE/packaging/frontdesk.env.example" /etc/frontdesk/frontdesk.env
else
    echo "keeping existing /etc/frontdesk/frontdesk.env"
fi
for unit in $UNITS; do
    run install -m 0644 "$HERE/packaging/$unit" "/etc/systemd/system/$unit"
done
if have_systemd; then
    run systemctl daemon-reload
fi

cat <<NEXT

frontdesk is installed. Next:
  sudo -u frontdesk $PREFIX/bin/frontdesk --config /etc/frontdesk/config.toml init
  sudo systemctl enable --now frontdesk
  curl http://127.0.0.1:3000/health
Nightly backups to /var/backups/frontdesk:
  sudo systemctl enable --now frontdesk-backup.timer
NEXT
