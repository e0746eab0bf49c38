#!/bin/sh
# frontdesk installer: puts a built frontdesk binary on a Linux server as a
# systemd service. Run it as root from the repository checkout:
#
#   cargo build --release --locked
#   sudo ./install.sh [--binary PATH] [--domain NAME --email ADDRESS] [--dry-run]
#   sudo ./install.sh --uninstall
#
# Idempotent: run it again to upgrade the binary and the unit files. An existing
# /etc/frontdesk/config.toml or /etc/frontdesk/frontdesk.env is never touched,
# except that --domain/--email set the [tls] mode, domains and acme_email keys
# in config.toml (a copy of the previous file is kept beside it); the data in
# /var/lib/frontdesk is never removed, not even by --uninstall.
set -eu

PREFIX="${PREFIX:-/usr/local}"
SERVICE_USER=frontdesk
DATA_DIR=/var/lib/frontdesk
BACKUP_DIR=/var/backups/frontdesk
CONF_DIR=/etc/frontdesk
CONF_FILE="$CONF_DIR/config.toml"
ENV_FILE="$CONF_DIR/frontdesk.env"
UNIT_DIR=/etc/systemd/system
UNITS="frontdesk.service frontdesk-backup.service frontdesk-backup.timer"
# The path the unit files in packaging/ name in ExecStart.
UNIT_BINARY=/usr/local/bin/frontdesk
# Where `cargo build --release` puts the static binary (.cargo/config.toml names the target).
BUILT=target/x86_64-unknown-linux-gnu/release/frontdesk
DEFAULT_BINARY=./$BUILT

HERE=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)
BINARY=""
DRY_RUN=0
UNINSTALL=0
WOULD_BUILD=0
DOMAINS=""
EMAIL=""

usage() {
    cat <<USAGE
Usage: sudo ./install.sh [--binary PATH] [--domain NAME]... [--email ADDRESS] [--dry-run]
       sudo ./install.sh --uninstall [--dry-run]

Installs frontdesk as a systemd service:
  binary        \$PREFIX/bin/frontdesk (PREFIX defaults to /usr/local)
  user          $SERVICE_USER (system user, no login shell)
  data          $DATA_DIR (owner $SERVICE_USER, mode 0700)
  backups       $BACKUP_DIR (owner $SERVICE_USER, mode 0700)
  config        $CONF_FILE (only if missing, from config.example.toml)
  secrets       $ENV_FILE (mode 0600, only if missing)
  units         $UNIT_DIR/{frontdesk.service,frontdesk-backup.service,frontdesk-backup.timer}

Options:
  --binary PATH   the frontdesk binary to install (default: $DEFAULT_BINARY;
                  if that is missing and cargo is available, offers to build it)
  --domain NAME   serve HTTPS for NAME with a Let's Encrypt certificate obtained
                  and renewed by frontdesk (repeat for more names; the first is the
                  public name); sets [tls] in the config, needs --email
  --email ADDRESS contact of the Let's Encrypt account
  --dry-run       print every action, change nothing
  --uninstall     stop and remove the binary and the units; keep data, config and backups
  -h, --help      show this help
USAGE
}

say() { printf 'install.sh: %s\n' "$*"; }
die() {
    printf 'install.sh: error: %s\n' "$*" >&2
    exit 1
}

# Runs a command, or only prints it with --dry-run.
run() {
    if [ "$DRY_RUN" = 1 ]; then
        printf 'would run: %s\n' "$*"
    else
        printf '+ %s\n' "$*"
        "$@"
    fi
}

# Writes config.toml's [tls] mode, domains and acme_email (the rest of the file
# as it was); the same arguments give the same file, so reruns change nothing.
tls_config() {
    awk -v domains="[$DOMAINS_TOML]" -v email="$EMAIL" '
        function missing() {
            if (!m) print "mode = \"acme\""
            if (!d) print "domains = " domains
            if (!e) print "acme_email = \"" email "\""
            m = d = e = 1
        }
        /^\[/ { if (in_tls) missing(); in_tls = ($0 == "[tls]"); if (in_tls) seen = 1; print; next }
        in_tls && /^[ \t]*mode[ \t]*=/ { print "mode = \"acme\""; m = 1; next }
        in_tls && /^[ \t]*domains[ \t]*=/ { print "domains = " domains; d = 1; next }
        in_tls && /^[ \t]*acme_email[ \t]*=/ { print "acme_email = \"" email "\""; e = 1; next }
        { print }
        END { if (in_tls) missing(); else if (!seen) { print ""; print "[tls]"; missing() } }
    ' "$1"
}

set_tls() {
    if [ "$DRY_RUN" = 1 ]; then
        # A fresh install starts from config.example.toml.
        from="$1"
        [ -e "$from" ] || from="$HERE/config.example.toml"
        printf 'would set in %s:\n' "$1"
        tls_config "$from" | awk '/^\[/ { show = ($0 == "[tls]") } show && !/^#/ && NF { print "  " $0 }'
        return
    fi
    tmp=$(mktemp)
    tls_config "$1" >"$tmp"
    if cmp -s "$tmp" "$1"; then
        say "$1 already has these TLS settings"
        rm -f "$tmp"
        return
    fi
    run cp -p "$1" "$1.before-tls"
    # cat keeps the file's owner and mode (root:frontdesk 0640).
    cat "$tmp" >"$1"
    rm -f "$tmp"
    say "set [tls] in $1 (the previous file is $1.before-tls)"
}

have_systemd() { command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; }

group_exists() {
    if command -v getent >/dev/null 2>&1; then
        getent group "$1" >/dev/null 2>&1
    else
        grep -q "^$1:" /etc/group
    fi
}

while [ $# -gt 0 ]; do
    case "$1" in
        --binary)
            [ $# -ge 2 ] || die "--binary needs a path"
            BINARY="$2"
            shift 2
            ;;
        --binary=*)
            BINARY="${1#--binary=}"
            shift
            ;;
        --domain)
            [ $# -ge 2 ] || die "--domain needs a name"
            DOMAINS="$DOMAINS $2"
            shift 2
            ;;
        --domain=*)
            DOMAINS="$DOMAINS ${1#--domain=}"
            shift
            ;;
        --email)
            [ $# -ge 2 ] || die "--email needs an address"
            EMAIL="$2"
            shift 2
            ;;
        --email=*)
            EMAIL="${1#--email=}"
            shift
            ;;
        --dry-run) DRY_RUN=1; shift ;;
        --uninstall) UNINSTALL=1; shift ;;
        -h | --help) usage; exit 0 ;;
        *)
            usage >&2
            die "unknown option: $1"
            ;;
    esac
done

case "$PREFIX" in
    /*) ;;
    *) die "PREFIX must be an absolute path, got '$PREFIX'" ;;
esac
case "$PREFIX" in
    *[!A-Za-z0-9/._-]*) die "PREFIX may only contain letters, digits and / . _ -, got '$PREFIX'" ;;
esac
PREFIX="${PREFIX%/}"
DEST="$PREFIX/bin/frontdesk"

# --domain/--email: checked here so a typo changes nothing.
DOMAINS_TOML=""
PRIMARY=""
for name in $DOMAINS; do
    [ -n "$PRIMARY" ] || PRIMARY="$name"
    case "$name" in
        *[!a-z0-9.-]* | "" | .* | *. | *..*)
            die "--domain: '$name' is not a domain name (lower-case letters, digits, dots, hyphens)" ;;
    esac
    DOMAINS_TOML="$DOMAINS_TOML${DOMAINS_TOML:+, }\"$name\""
done
if [ -n "$DOMAINS" ] || [ -n "$EMAIL" ]; then
    [ -n "$DOMAINS" ] || die "--email needs at least one --domain"
    [ -n "$EMAIL" ] || die "--domain needs --email (the Let's Encrypt account's contact)"
    case "$EMAIL" in
        *[!A-Za-z0-9@._+-]* | *@*@* | @* | *@) die "--email: '$EMAIL' is not an email address" ;;
        *@*.*) ;;
        *) die "--email: '$EMAIL' is not an email address" ;;
    esac
fi

[ "$(uname -s)" = Linux ] || [ "$DRY_RUN" = 1 ] || die "this installer is for Linux servers"
if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" != 0 ]; then
    die "run as root (sudo ./install.sh), or preview with --dry-run"
fi
[ "$DRY_RUN" = 0 ] || say "dry run: nothing will be changed"

# --- uninstall -------------------------------------------------------------
if [ "$UNINSTALL" = 1 ]; then
    if have_systemd; then
        for unit in frontdesk-backup.timer frontdesk.service; do
            if [ -e "$UNIT_DIR/$unit" ]; then
                run systemctl disable --now "$unit" || say "could not stop $unit (continuing)"
            fi
        done
    fi
    for unit in $UNITS; do
        if [ -e "$UNIT_DIR/$unit" ]; then
            run rm -f "$UNIT_DIR/$unit"
        fi
    done
    if [ -e "$DEST" ]; then
        run rm -f "$DEST"
    else
        say "no binary at $DEST"
    fi
    if have_systemd; then
        run systemctl daemon-reload
    fi
    if [ "$DRY_RUN" = 1 ]; then
        printf '\nDry run finished; nothing was changed. A real run would end with:\n'
    fi
    cat <<KEPT

frontdesk is uninstalled (binary and systemd units removed).
Kept, on purpose:
  $DATA_DIR      the database and JWT secret
  $CONF_DIR         config.toml and frontdesk.env
  $BACKUP_DIR  nightly backups
  user $SERVICE_USER
Reinstalling picks them up again. To erase everything for good:
  sudo userdel $SERVICE_USER && sudo rm -rf $DATA_DIR $CONF_DIR $BACKUP_DIR
KEPT
    exit 0
fi

# --- preflight -------------------------------------------------------------
for file in config.example.toml packaging/frontdesk.env.example \
    packaging/frontdesk.service packaging/frontdesk-backup.service packaging/frontdesk-backup.timer; do
    [ -f "$HERE/$file" ] || die "missing $HERE/$file (run install.sh from a full frontdesk checkout)"
done
command -v install >/dev/null 2>&1 || die "the 'install' command (coreutils) is missing"

if [ -z "$BINARY" ]; then
    BINARY="$DEFAULT_BINARY"
    # Run from elsewhere: look beside this script too.
    if [ ! -f "$BINARY" ] && [ -f "$HERE/$BUILT" ]; then
        BINARY="$HERE/$BUILT"
    fi
    if [ ! -f "$BINARY" ]; then
        if ! command -v cargo >/dev/null 2>&1 || [ ! -f "$HERE/Cargo.toml" ]; then
            die "no frontdesk binary at $BINARY; build it with 'cargo build --release --locked' or pass --binary PATH"
        fi
        say "no frontdesk binary at $BINARY"
        if [ "$DRY_RUN" = 0 ]; then
            [ -t 0 ] || die "build it first with 'cargo build --release --locked' (or pass --binary PATH)"
            printf "Build it now with 'cargo build --release --locked'? [y/N] "
            answer=""
            read -r answer || true
            case "$answer" in
                y | Y | yes | YES | Yes) ;;
                *) die "not building; build it with 'cargo build --release --locked' or pass --binary PATH" ;;
            esac
        fi
        run cargo build --release --locked --manifest-path "$HERE/Cargo.toml"
        WOULD_BUILD=$DRY_RUN
        BINARY="$HERE/$BUILT"
    fi
fi
if [ "$WOULD_BUILD" = 1 ] && [ ! -e "$BINARY" ]; then
    say "(dry run: the binary would be built first)"
else
    [ -f "$BINARY" ] || die "no frontdesk binary at $BINARY"
    [ -x "$BINARY" ] || die "$BINARY is not executable"
    # Catches a binary built for another architecture or a newer C library.
    VERSION=$("$BINARY" --version 2>&1) || die "$BINARY does not run on this machine: $VERSION"
    say "installing $VERSION from $BINARY"
fi

# --- user ------------------------------------------------------------------
if id -u "$SERVICE_USER" >/dev/null 2>&1; then
    say "user $SERVICE_USER exists"
else
    command -v useradd >/dev/null 2>&1 || [ "$DRY_RUN" = 1 ] ||
        die "useradd is missing; create a system user '$SERVICE_USER' with home $DATA_DIR and rerun"
    NOLOGIN=/usr/sbin/nologin
    [ -x "$NOLOGIN" ] || [ ! -x /sbin/nologin ] || NOLOGIN=/sbin/nologin
    if group_exists "$SERVICE_USER"; then
        run useradd --system --gid "$SERVICE_USER" --home-dir "$DATA_DIR" --no-create-home --shell "$NOLOGIN" "$SERVICE_USER"
    else
        run useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home --shell "$NOLOGIN" "$SERVICE_USER"
    fi
fi

# --- binary and directories --------------------------------------------------
# install(1) replaces the file rather than writing into it, so upgrading under
# a running service is safe; the old process keeps its copy until restarted.
run install -d -m 0755 "$PREFIX/bin"
run install -m 0755 "$BINARY" "$DEST"
# Private: password hashes, secrets, certificates' keys and customer data.
run install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$DATA_DIR"
run install -d -m 0700 -o "$SERVICE_USER" -g "$SERVICE_USER" "$BACKUP_DIR"
run install -d -m 0750 -o root -g "$SERVICE_USER" "$CONF_DIR"

# --- configuration: never overwritten -----------------------------------------
if [ -e "$CONF_FILE" ]; then
    say "keeping existing $CONF_FILE"
else
    # Readable by the service, writable only by root.
    run install -m 0640 -o root -g "$SERVICE_USER" "$HERE/config.example.toml" "$CONF_FILE"
fi
if [ -n "$DOMAINS" ]; then
    set_tls "$CONF_FILE"
fi
if [ -e "$ENV_FILE" ]; then
    say "keeping existing $ENV_FILE"
else
    # systemd reads it as root before dropping privileges; nobody else needs to.
    run install -m 0600 -o root -g root "$HERE/packaging/frontdesk.env.example" "$ENV_FILE"
fi

# --- systemd units -------------------------------------------------------------
for unit in $UNITS; do
    if [ "$DEST" = "$UNIT_BINARY" ]; then
        run install -m 0644 "$HERE/packaging/$unit" "$UNIT_DIR/$unit"
    elif [ "$DRY_RUN" = 1 ]; then
        printf 'would run: install -m 0644 %s %s (ExecStart rewritten to %s)\n' \
            "$HERE/packaging/$unit" "$UNIT_DIR/$unit" "$DEST"
    else
        tmp=$(mktemp)
        sed "s|$UNIT_BINARY|$DEST|g" "$HERE/packaging/$unit" >"$tmp"
        run install -m 0644 "$tmp" "$UNIT_DIR/$unit"
        rm -f "$tmp"
    fi
done
RUNNING=0
if have_systemd; then
    run systemctl daemon-reload
    if systemctl is-active --quiet frontdesk.service 2>/dev/null; then
        RUNNING=1
    fi
elif [ "$DRY_RUN" = 1 ]; then
    say "systemd is not running here: the units would be copied to $UNIT_DIR but not loaded"
else
    say "systemd is not running here: the units are in $UNIT_DIR but not loaded"
fi

# --- next steps --------------------------------------------------------------------
FD=frontdesk
[ "$DEST" = "$UNIT_BINARY" ] || FD="$DEST"
if [ "$DRY_RUN" = 1 ]; then
    printf '\nDry run finished; nothing was changed. A real run would end with:\n'
fi
cat <<NEXT

frontdesk is installed at $DEST.

Next steps:
  1. Review $CONF_FILE; put secrets (API keys, tokens, passwords)
     in $ENV_FILE (mode 0600), not in config.toml.
  2. First-time setup (once; it refuses to run twice):
       sudo -u $SERVICE_USER $FD --config $CONF_FILE init
  3. Start it now and at every boot:
       sudo systemctl enable --now frontdesk
  4. Check it:
       $FD --config $CONF_FILE health
       journalctl -u frontdesk -f

Nightly backups to $BACKUP_DIR are installed but not enabled:
  sudo systemctl enable --now frontdesk-backup.timer
NEXT
if ! have_systemd; then
    printf '\nWithout systemd, run it in the foreground instead of step 3:\n  sudo -u %s %s --config %s serve\n' \
        "$SERVICE_USER" "$FD" "$CONF_FILE"
fi
if [ -n "$DOMAINS" ]; then
    cat <<TLS

HTTPS: point the DNS of$DOMAINS at this server (A/AAAA records) and open ports
80 and 443. frontdesk gets its certificate from Let's Encrypt on its own (the
journal says "certificate obtained"); until then it answers on plain HTTP.
Then paste into the Twilio console (Phone Numbers > your number > Voice):
  A call comes in (webhook, HTTP POST):  https://$PRIMARY/api/voice/incoming
  Call status changes:                   https://$PRIMARY/api/voice/status
TLS
fi
if [ "$RUNNING" = 1 ]; then
    printf '\nfrontdesk is running the previous binary; load the new one with:\n  sudo systemctl restart frontdesk\n'
fi
