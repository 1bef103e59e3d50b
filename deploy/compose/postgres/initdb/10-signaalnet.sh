#!/bin/sh
# Run once by the postgres image when it initialises an empty data directory: the role's own
# login `signaalnet` (password from the Docker secret db-password), owning the database
# `signaalnet` and its public schema, so that the role can run its migrations at start; nobody
# else may connect to it. The superuser `postgres` (secret db-admin-password) is for the
# operator: backups, upgrades. docs/operations.md, "PostgreSQL".
set -eu
password="$(cat /run/secrets/db-password)"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v pw="$password" <<'SQL'
CREATE ROLE signaalnet LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'pw';
CREATE DATABASE signaalnet OWNER signaalnet;
REVOKE ALL ON DATABASE signaalnet FROM PUBLIC;
SQL
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname signaalnet <<'SQL'
ALTER SCHEMA public OWNER TO signaalnet;
REVOKE ALL ON SCHEMA public FROM PUBLIC;
SQL
