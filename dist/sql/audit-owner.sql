-- audit-owner.sql — make syncd_audit append-only for syncd's own role.
-- syncd creates syncd_audit (and a trigger that refuses UPDATE, DELETE and
-- TRUNCATE) on first start.  Then a database owner runs, in the state DB:
--   psql -d syncd_state -v syncd_role=syncd -f audit-owner.sql
-- so that the table belongs to another role and syncd may only INSERT and
-- SELECT it.  Even a superuser who disables the trigger and rewrites rows is
-- caught by `syncctl audit verify` against the signed checkpoints.
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'syncd_audit_owner') THEN
    CREATE ROLE syncd_audit_owner NOLOGIN;
  END IF;
END $$;
ALTER TABLE syncd_audit OWNER TO syncd_audit_owner;
ALTER FUNCTION syncd_audit_refuse() OWNER TO syncd_audit_owner;
REVOKE ALL ON syncd_audit FROM PUBLIC;
REVOKE ALL ON syncd_audit FROM :"syncd_role";
GRANT SELECT, INSERT ON syncd_audit TO :"syncd_role";
