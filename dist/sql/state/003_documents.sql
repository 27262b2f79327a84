-- 003_documents.sql — issued documents: the gap-free serial per unit and
-- year, the register, and the outbox that delivers acts up to the city.
CREATE TABLE IF NOT EXISTS public.syncd_doc_seq (unit text NOT NULL, year int NOT NULL, last int NOT NULL,
  PRIMARY KEY (unit, year));
CREATE TABLE IF NOT EXISTS public.syncd_documents (serial text PRIMARY KEY, kind text NOT NULL, unit text NOT NULL,
  record_key text NOT NULL, issued_at timestamptz NOT NULL, issuer text NOT NULL, request_id text NOT NULL,
  body text NOT NULL, hash text NOT NULL, signature text NOT NULL, public_key text NOT NULL,
  revoked_at timestamptz, revoked_by text, revoke_reason text);
CREATE TABLE IF NOT EXISTS public.syncd_outbox (id bigserial PRIMARY KEY, serial text NOT NULL
  REFERENCES public.syncd_documents, destination text NOT NULL, payload text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(), delivered_at timestamptz, attempts int NOT NULL DEFAULT 0,
  last_error text);
CREATE INDEX IF NOT EXISTS syncd_outbox_pending ON public.syncd_outbox (id) WHERE delivered_at IS NULL;
