#!/bin/sh
# Start Asterisk in the foreground as the asterisk user, after preparing what it writes to.
set -eu

keys=/etc/asterisk-keys
rendered=/etc/asterisk-rendered

# The configuration rendered by `callcenter asterisk config` (the asterisk-config service): copied in so that
# the asterisk user, and only it, can read the files that hold secrets.
if ! ls "$rendered"/*.conf >/dev/null 2>&1; then
    echo "asterisk-entrypoint: no rendered configuration in $rendered (run: callcenter asterisk config)" >&2
    exit 1
fi
install -d -o asterisk -g asterisk -m 0750 /etc/asterisk
install -o asterisk -g asterisk -m 0640 "$rendered"/*.conf /etc/asterisk/
recordings=${RECORDINGS_DIR:-/var/spool/asterisk/monitor/callcenter}

# WSS needs a TLS certificate. Mount your own (asterisk.crt / asterisk.key); without one, a self-signed
# certificate is made so that a first start works, and browsers will warn until a real one is mounted.
if [ ! -s "$keys/asterisk.crt" ] || [ ! -s "$keys/asterisk.key" ]; then
    echo "asterisk-entrypoint: no certificate in $keys: making a self-signed one (replace it for production)" >&2
    install -d -o asterisk -g asterisk -m 0750 "$keys"
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=${WSS_HOSTNAME:-localhost}" \
        -keyout "$keys/asterisk.key" -out "$keys/asterisk.crt" 2>/dev/null
    chown asterisk:asterisk "$keys/asterisk.key" "$keys/asterisk.crt"
    chmod 0600 "$keys/asterisk.key"
fi

# Recordings: owned by asterisk, group ccrec (gid 2000, which the call center server joins to read them),
# setgid so that every file keeps the group; nobody else may read them.
install -d -o asterisk -g ccrec -m 2750 "$recordings"
for dir in /var/lib/asterisk /var/log/asterisk /var/spool/asterisk /var/run/asterisk; do
    install -d -o asterisk -g asterisk "$dir"
done

umask 0027
exec asterisk -f -U asterisk -G ccrec -vvv
