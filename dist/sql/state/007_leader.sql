-- 007_leader.sql — active/standby: the lease by which the instances of one
-- cluster ([syncd] cluster) elect their active instance, and the fence that
-- refuses a write from an instance whose term is over (SQLSTATE SYF01).
--
-- The active instance renews expires_at every second; a standby takes the
-- row (term + 1) once expires_at has passed.  Every audit batch starts with
-- syncd_fence(cluster, term), which holds the row FOR SHARE until the batch
-- commits, so a takeover waits for a batch in flight and no batch of the old
-- term commits after it.  Every checkpoint row carries the term it was
-- written under; syncd_checkpoint_fence refuses to lower it.
CREATE TABLE IF NOT EXISTS public.syncd_leader (
  name text PRIMARY KEY,
  term bigint NOT NULL,
  holder text NOT NULL,           -- host and listen address of the active instance
  pid int NOT NULL,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  renewed_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL);

CREATE OR REPLACE FUNCTION public.syncd_fence(p_name text, p_term bigint) RETURNS void
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
  DECLARE l record; BEGIN
  SELECT x.term, x.holder INTO l FROM public.syncd_leader x WHERE x.name = p_name FOR SHARE;
  IF NOT FOUND OR l.term IS DISTINCT FROM p_term THEN
    RAISE EXCEPTION 'syncd fence: term % of cluster "%" is over (% holds term %); this instance may not write',
      p_term, p_name, coalesce(l.holder, 'nobody'), coalesce(l.term, 0) USING ERRCODE = 'SYF01';
  END IF;
  END $$;

CREATE OR REPLACE FUNCTION public.syncd_checkpoint_fence() RETURNS trigger
  LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$ BEGIN
  IF NEW.term < OLD.term THEN
    RAISE EXCEPTION 'syncd fence: %.% (%) was written under term %; a write under term % is refused',
      TG_TABLE_SCHEMA, TG_TABLE_NAME, OLD.source, OLD.term, NEW.term USING ERRCODE = 'SYF01';
  END IF;
  RETURN NEW; END $$;

ALTER TABLE public.syncd_checkpoint ADD COLUMN IF NOT EXISTS term bigint NOT NULL DEFAULT 0;
CREATE OR REPLACE TRIGGER syncd_checkpoint_fence BEFORE UPDATE ON public.syncd_checkpoint
  FOR EACH ROW EXECUTE FUNCTION public.syncd_checkpoint_fence();
ALTER TABLE public.syncd_http_checkpoint ADD COLUMN IF NOT EXISTS term bigint NOT NULL DEFAULT 0;
CREATE OR REPLACE TRIGGER syncd_checkpoint_fence BEFORE UPDATE ON public.syncd_http_checkpoint
  FOR EACH ROW EXECUTE FUNCTION public.syncd_checkpoint_fence();
