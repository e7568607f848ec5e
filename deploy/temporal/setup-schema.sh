#!/usr/bin/env bash
# One-shot schema job (temporalio/admin-tools, the same version as the server): create, set up and
# update the schemas of Temporal's two PostgreSQL databases with temporal-sql-tool and the schema
# files the image ships for its own server version. Safe on every start: setup-schema -v 0.0 keeps
# an existing version, update-schema applies only the versions a database has not seen.
set -euo pipefail
: "${POSTGRES_SEEDS:?POSTGRES_SEEDS is required (the PostgreSQL host)}"
: "${SQL_PASSWORD:?SQL_PASSWORD is required (the temporal role's password)}"
: "${DB_PORT:=5432}" "${SQL_USER:=temporal}" "${DBNAME:=temporal}" "${VISIBILITY_DBNAME:=temporal_visibility}"
: "${SQL_PLUGIN:=postgres12}" "${TEMPORAL_HOME:=/etc/temporal}"
export SQL_PASSWORD  # temporal-sql-tool reads it from the environment: never on a command line

schema_dir="$TEMPORAL_HOME/schema/postgresql/v12"
sql_tool() { temporal-sql-tool --plugin "$SQL_PLUGIN" --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$SQL_USER" "$@"; }

until sql_tool --db "$DBNAME" validate-health >/dev/null 2>&1 || sql_tool --db postgres validate-health >/dev/null 2>&1; do
    echo "waiting for PostgreSQL at $POSTGRES_SEEDS:$DB_PORT"; sleep 2
done
for db in "$DBNAME" "$VISIBILITY_DBNAME"; do
    case "$db" in
        "$VISIBILITY_DBNAME") versioned="$schema_dir/visibility/versioned" ;;  # advanced visibility on SQL
        *) versioned="$schema_dir/temporal/versioned" ;;
    esac
    # The databases exist when deploy/postgres/init-databases.sh made them; elsewhere the role may create them.
    sql_tool --db "$db" create-database 2>/dev/null || echo "database $db exists"
    sql_tool --db "$db" setup-schema -v 0.0
    sql_tool --db "$db" update-schema -d "$versioned"
    echo "schema of $db is up to date ($versioned)"
done
