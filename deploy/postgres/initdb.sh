#!/bin/sh
# Run once by the postgres image on an empty volume (docker-entrypoint-initdb.d).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v owner="$POSTGRES_USER" -v app=onset_app -v app_password="$ONSET_APP_DB_PASSWORD" \
    -f /onset/app-role.sql
