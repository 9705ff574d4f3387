#!/bin/sh
# Create the login role the web and worker processes use: a member of baton_app, which
# holds the grants and is bound by row-level security (never the owner, never BYPASSRLS).
set -eu
psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -v pw="$WEB_DB_PASSWORD" <<'SQL'
SELECT format('CREATE ROLE baton_web LOGIN NOSUPERUSER NOBYPASSRLS PASSWORD %L', :'pw')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'baton_web') \gexec
GRANT baton_app TO baton_web;
SQL
