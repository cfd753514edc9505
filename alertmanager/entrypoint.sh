#!/bin/sh
# Starts Alertmanager with alertmanager.yml after putting the WeCom application
# secret into a private copy of it.
#
# Why: Alertmanager 0.25's wechat_configs has no api_secret_file (the SMTP
# password, webhook and relay tokens are read from files by Alertmanager
# itself). The secret is read from a file here, never written to the
# repository, and the copy is readable by this user only.
#
# docker-compose: entrypoint: ["/bin/sh", "/etc/alertmanager/entrypoint.sh"]
#                 command: ["--storage.path=/alertmanager"]
# Any arguments are passed on to Alertmanager.
#
# Settings (environment):
#   ALERTMANAGER_CONFIG           default /etc/alertmanager/alertmanager.yml
#   ALERTMANAGER_RENDERED_CONFIG  default /tmp/alertmanager.yml (the private copy)
#   WECHAT_API_SECRET_FILE        default /etc/alertmanager/secrets/wechat_api_secret
#   ALERTMANAGER_BIN              default /bin/alertmanager (the image's binary)
# Without a secret file Alertmanager still starts: every other receiver works,
# WeCom notifications fail (Alertmanager logs them) until the file exists and
# the container restarts. A reload (SIGHUP, /-/reload) rereads the copy, so
# restart the container after editing alertmanager.yml.
set -eu

config=${ALERTMANAGER_CONFIG:-/etc/alertmanager/alertmanager.yml}
rendered=${ALERTMANAGER_RENDERED_CONFIG:-/tmp/alertmanager.yml}
secret_file=${WECHAT_API_SECRET_FILE:-/etc/alertmanager/secrets/wechat_api_secret}
bin=${ALERTMANAGER_BIN:-/bin/alertmanager}
placeholder=__WECHAT_API_SECRET_FROM_FILE__

umask 077
rm -f "$rendered"
secret=
if [ -r "$secret_file" ]; then
  secret=$(tr -d '\r\n' < "$secret_file")
fi
case $secret in
  '')
    echo "alertmanager entrypoint: no WeCom API secret in $secret_file; WeCom (wechat_configs) notifications will fail until it exists" >&2
    cp "$config" "$rendered"
    ;;
  *[!A-Za-z0-9_-]*)
    # WeCom secrets are letters, digits, '-' and '_'; anything else would
    # break the YAML or the sed expression, so it is refused, not escaped.
    echo "alertmanager entrypoint: $secret_file holds characters a WeCom secret never has (allowed: A-Z a-z 0-9 _ -); WeCom notifications will fail" >&2
    cp "$config" "$rendered"
    ;;
  *)
    sed "s/$placeholder/$secret/g" "$config" > "$rendered"
    ;;
esac

exec "$bin" --config.file="$rendered" "$@"
