#!/usr/bin/env bash
# First start of the PostgreSQL volume: one role and one database per owner, none of them superuser.
#   temporal    owns `temporal` and `temporal_visibility` (schemas set up by deploy/temporal/setup-schema.sh)
#   crisisdesk  owns `crisisdesk` (migrated by every worker at start: activities/migrations/)
# Run by the postgres image from /docker-entrypoint-initdb.d (psql over the local socket as
# POSTGRES_USER); tests/test_deploy.py runs the same file against the embedded PostgreSQL.
set -euo pipefail
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is required (the temporal role's password)}"
: "${CRISISDESK_DB_PASSWORD:?CRISISDESK_DB_PASSWORD is required (the crisisdesk role's password)}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
     -v temporal_pw="$TEMPORAL_DB_PASSWORD" -v crisisdesk_pw="$CRISISDESK_DB_PASSWORD" <<'SQL'
SELECT 'CREATE ROLE temporal LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'temporal') \gexec
SELECT 'CREATE ROLE crisisdesk LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'crisisdesk') \gexec
ALTER ROLE temporal WITH LOGIN NOSUPERUSER NOCREATEROLE CREATEDB PASSWORD :'temporal_pw';
ALTER ROLE crisisdesk WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD :'crisisdesk_pw';
SELECT 'CREATE DATABASE temporal OWNER temporal' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'temporal') \gexec
SELECT 'CREATE DATABASE temporal_visibility OWNER temporal' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'temporal_visibility') \gexec
SELECT 'CREATE DATABASE crisisdesk OWNER crisisdesk' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'crisisdesk') \gexec
REVOKE ALL ON DATABASE temporal, temporal_visibility FROM PUBLIC;
REVOKE ALL ON DATABASE crisisdesk FROM PUBLIC;
SQL
echo "databases ready: temporal, temporal_visibility (role temporal), crisisdesk (role crisisdesk)"
