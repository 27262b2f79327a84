-- audit-owner.sql — hand the audit log to a role syncd cannot act as.
--
-- syncd creates public.syncd_audit, public.syncd_audit_head, the trigger
-- function syncd_audit_refuse() and the two SECURITY DEFINER functions
-- syncd_audit_lock() and syncd_audit_append() on its first start.  Then a
-- superuser runs, in the state database (again after an upgrade; running it
-- twice changes nothing):
--
--   psql -d syncd_state -v syncd_role=syncd -f audit-owner.sql
--
-- Afterwards the role syncd_audit_owner (NOLOGIN) owns all five, and syncd's
-- role may only SELECT the two tables and EXECUTE the two functions: every
-- row goes through syncd_audit_append(), which refuses a row that does not
-- extend the chain (seq, prev_hash, hash), and nothing can be updated,
-- deleted or truncated, nor a trigger disabled, by syncd.  When syncd's role
-- owns the schema public (PostgreSQL 15: the database owner does), the
-- schema goes to syncd_audit_owner too, with USAGE and CREATE left to
-- syncd, so syncd can neither rename nor drop it with the log inside.
-- Even a superuser who rewrites rows, or deletes the newest ones and sets
-- the head back, is caught by `syncctl audit verify` against the signed
-- checkpoints.
\set ON_ERROR_STOP on
SET syncd.audit_role = :'syncd_role';
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'syncd_audit_owner') THEN
    CREATE ROLE syncd_audit_owner NOLOGIN;
  END IF;
  IF pg_has_role(current_setting('syncd.audit_role'),
                 (SELECT nspowner FROM pg_namespace WHERE nspname = 'public'), 'USAGE') THEN
    ALTER SCHEMA public OWNER TO syncd_audit_owner;
    EXECUTE format('GRANT USAGE, CREATE ON SCHEMA public TO %I', current_setting('syncd.audit_role'));
  END IF;
END $$;

ALTER TABLE public.syncd_audit OWNER TO syncd_audit_owner;
ALTER TABLE public.syncd_audit_head OWNER TO syncd_audit_owner;
ALTER FUNCTION public.syncd_audit_refuse() OWNER TO syncd_audit_owner;
ALTER FUNCTION public.syncd_audit_lock() OWNER TO syncd_audit_owner;
ALTER FUNCTION public.syncd_audit_append(bigint, timestamptz, text, text, text, text, text, text, text,
  text, bytea, bytea, bytea) OWNER TO syncd_audit_owner;

REVOKE ALL ON public.syncd_audit, public.syncd_audit_head FROM PUBLIC;
REVOKE ALL ON public.syncd_audit, public.syncd_audit_head FROM :"syncd_role";
GRANT SELECT ON public.syncd_audit, public.syncd_audit_head TO :"syncd_role";

REVOKE ALL ON FUNCTION public.syncd_audit_refuse(), public.syncd_audit_lock(),
  public.syncd_audit_append(bigint, timestamptz, text, text, text, text, text, text, text, text, bytea,
  bytea, bytea) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.syncd_audit_refuse(), public.syncd_audit_lock(),
  public.syncd_audit_append(bigint, timestamptz, text, text, text, text, text, text, text, text, bytea,
  bytea, bytea) FROM :"syncd_role";
GRANT EXECUTE ON FUNCTION public.syncd_audit_lock(),
  public.syncd_audit_append(bigint, timestamptz, text, text, text, text, text, text, text, text, bytea,
  bytea, bytea) TO :"syncd_role";
