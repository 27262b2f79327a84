-- 002_audit.sql — the append-only audit log: the chain, its head, the
-- triggers that refuse a change, and the two SECURITY DEFINER functions.
--
-- Each part runs only while syncd's role owns what it would change (or it is
-- missing): after ../audit-owner.sql the role syncd_audit_owner owns them and
-- syncd leaves them as they are.

-- the tables and triggers, while syncd owns the table (a fresh database)
DO $guard$ BEGIN
IF to_regclass('public.syncd_audit') IS NULL OR pg_has_role((SELECT relowner FROM pg_class
    WHERE oid = to_regclass('public.syncd_audit')), 'USAGE') THEN
  CREATE TABLE IF NOT EXISTS public.syncd_audit (
    seq bigint PRIMARY KEY, at timestamptz NOT NULL, actor text NOT NULL, client text NOT NULL,
    request_id text NOT NULL, action text NOT NULL, unit text NOT NULL, object text NOT NULL,
    decision text NOT NULL, reason text NOT NULL, body bytea NOT NULL, prev_hash bytea NOT NULL,
    hash bytea NOT NULL);
  CREATE INDEX IF NOT EXISTS syncd_audit_unit_seq ON public.syncd_audit (unit, seq);
  CREATE INDEX IF NOT EXISTS syncd_audit_actor_seq ON public.syncd_audit (actor, seq);
  CREATE TABLE IF NOT EXISTS public.syncd_audit_head (id int PRIMARY KEY CHECK (id = 1), seq bigint NOT NULL,
    hash bytea NOT NULL);
  INSERT INTO public.syncd_audit_head VALUES (1, 0, decode(repeat('00', 32), 'hex')) ON CONFLICT DO NOTHING;
  CREATE OR REPLACE FUNCTION public.syncd_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
    RAISE EXCEPTION 'syncd_audit is append-only: % refused', TG_OP; END $$;
  CREATE OR REPLACE TRIGGER syncd_audit_no_change BEFORE UPDATE OR DELETE ON public.syncd_audit
    FOR EACH ROW EXECUTE FUNCTION public.syncd_audit_refuse();
  CREATE OR REPLACE TRIGGER syncd_audit_no_truncate BEFORE TRUNCATE ON public.syncd_audit
    FOR EACH STATEMENT EXECUTE FUNCTION public.syncd_audit_refuse();
END IF;
END $guard$;

-- The only way in once audit-owner.sql ran: they run as their owner, and
-- append refuses a row that does not extend the chain.  Replaced while
-- syncd owns both (or they are missing).
DO $guard$ BEGIN
IF NOT EXISTS (SELECT FROM pg_proc WHERE oid IN (to_regprocedure('public.syncd_audit_lock()'),
    to_regprocedure('public.syncd_audit_append(bigint, timestamptz, text, text, text, text, text, text, text, text, bytea, bytea, bytea)'))
    AND NOT pg_has_role(proowner, 'USAGE')) THEN
  CREATE OR REPLACE FUNCTION public.syncd_audit_lock() RETURNS TABLE(seq bigint, hash bytea)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$ BEGIN
    RETURN QUERY SELECT h.seq, h.hash FROM public.syncd_audit_head h WHERE h.id = 1 FOR UPDATE;
    END $$;
  CREATE OR REPLACE FUNCTION public.syncd_audit_append(p_seq bigint, p_at timestamptz, p_actor text,
    p_client text, p_request_id text, p_action text, p_unit text, p_object text, p_decision text,
    p_reason text, p_body bytea, p_prev bytea, p_hash bytea) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    DECLARE h record; BEGIN
    SELECT x.seq, x.hash INTO h FROM public.syncd_audit_head x WHERE x.id = 1 FOR UPDATE;
    IF NOT FOUND THEN RAISE EXCEPTION 'syncd_audit_head has no row'; END IF;
    IF p_seq IS DISTINCT FROM h.seq + 1 THEN
     RAISE EXCEPTION 'syncd_audit: seq % refused: the next seq is %', p_seq, h.seq + 1; END IF;
    IF p_prev IS DISTINCT FROM h.hash THEN
     RAISE EXCEPTION 'syncd_audit: seq % refused: prev_hash is not the head''s hash', p_seq; END IF;
    IF p_hash IS DISTINCT FROM sha256(p_prev || p_body) THEN
     RAISE EXCEPTION 'syncd_audit: seq % refused: hash is not SHA-256(prev_hash || body)', p_seq; END IF;
    INSERT INTO public.syncd_audit (seq, at, actor, client, request_id, action, unit, object, decision,
     reason, body, prev_hash, hash) VALUES (p_seq, p_at, p_actor, p_client, p_request_id, p_action,
     p_unit, p_object, p_decision, p_reason, p_body, p_prev, p_hash);
    UPDATE public.syncd_audit_head SET seq = p_seq, hash = p_hash WHERE id = 1;
    END $$;
  REVOKE ALL ON FUNCTION public.syncd_audit_lock() FROM PUBLIC;
  REVOKE ALL ON FUNCTION public.syncd_audit_append(bigint, timestamptz, text, text, text, text, text, text,
    text, text, bytea, bytea, bytea) FROM PUBLIC;
END IF;
END $guard$;
