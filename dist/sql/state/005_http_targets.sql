-- 005_http_targets.sql — the HTTP targets (`[target NAME] kind = http`):
-- each unit's batches in commit order (written by the stream in the same
-- transaction as the unit's checkpoint, read by the delivery threads), each
-- unit's queued and delivered positions, units paused behind a dead batch,
-- and the dead letters an operator retries or discards.

-- One batch for one unit of one target.  id orders a unit's batches;
-- batch_id is the Idempotency-Key, recorded here before the first send.
CREATE TABLE IF NOT EXISTS public.syncd_http_batch (
  id bigserial PRIMARY KEY,
  target text NOT NULL,
  unit int NOT NULL,
  source text NOT NULL,
  batch_id text NOT NULL,
  lsn_from pg_lsn,
  lsn_to pg_lsn,
  changes int NOT NULL,
  content_type text NOT NULL,
  body bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  state text NOT NULL DEFAULT 'pending'
    CHECK (state IN ('pending', 'delivered', 'dead', 'discarded')),
  attempts int NOT NULL DEFAULT 0,
  first_failed_at timestamptz, -- retry_deadline counts from here
  last_error text,
  delivered_at timestamptz,
  UNIQUE (target, batch_id));
-- lz4 where the server has it: bodies are queued in the stream's commit
DO $$ BEGIN
  ALTER TABLE public.syncd_http_batch ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN NULL;
END $$;
CREATE INDEX IF NOT EXISTS syncd_http_batch_open ON public.syncd_http_batch (target, unit, id)
  WHERE state IN ('pending', 'dead');

-- Per (target, source, unit): the last commit LSN queued (the stream's
-- checkpoint for this destination) and the last one the receiver answered
-- 2xx for (advanced in the transaction that marks the batch delivered).
CREATE TABLE IF NOT EXISTS public.syncd_http_checkpoint (
  target text NOT NULL,
  source text NOT NULL,
  unit int NOT NULL,
  queued_lsn pg_lsn NOT NULL,
  batch_lsn pg_lsn, -- lsn_to of the last batch queued: the next one's lsn_from
  delivered_lsn pg_lsn,
  PRIMARY KEY (target, source, unit));

-- A unit whose target is paused: its oldest batch is dead; nothing later is
-- sent until an operator retries or discards it.
-- detached: what waited behind it grew past unit_backlog_limit, so it was
-- discarded and nothing more is queued until a resync sends a full copy.
CREATE TABLE IF NOT EXISTS public.syncd_http_paused (
  target text NOT NULL,
  unit int NOT NULL,
  paused_at timestamptz NOT NULL DEFAULT now(),
  reason text NOT NULL,
  detached boolean NOT NULL DEFAULT false,
  PRIMARY KEY (target, unit));

-- A batch the receiver refused (4xx other than 408/425/429, 3xx, a TLS
-- certificate error) or that was still failing at retry_deadline.
CREATE TABLE IF NOT EXISTS public.syncd_deadletter (
  id bigserial PRIMARY KEY,
  batch bigint NOT NULL REFERENCES public.syncd_http_batch (id),
  target text NOT NULL,
  unit int NOT NULL,
  batch_id text NOT NULL,
  http_status int,
  error text NOT NULL,
  response_excerpt text,
  attempts int NOT NULL,
  dead_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  resolution text CHECK (resolution IN ('retried', 'discarded')),
  resolved_by text,
  reason text);
CREATE INDEX IF NOT EXISTS syncd_deadletter_open ON public.syncd_deadletter (id) WHERE resolved_at IS NULL;
