-- The role onset serves as: it reads and writes rows, and nothing more. The owner (the
-- role that runs `onset migrate`) keeps the schema, so the service can neither alter
-- tables nor drop the triggers that keep the audit log append-only.
--
-- Run as the owner, in onset's database, before the first migration:
--   psql -v owner=onset_owner -v app=onset_app -v app_password=... -f app-role.sql
CREATE ROLE :"app" LOGIN PASSWORD :'app_password' NOSUPERUSER NOCREATEDB NOCREATEROLE;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO :"app";
-- Tables the owner creates later (every migration) are the app's to use, not to change.
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"app";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO :"app";
