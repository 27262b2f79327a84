-- 004_document_signer.sql — the role whose grant allowed an issue, kept
-- with the document: it picks the signature block (roles.json
-- "signer_title", policies/signers.csv) of every print and reprint.
-- Documents issued before this file have none and print the caption only.
ALTER TABLE public.syncd_documents ADD COLUMN IF NOT EXISTS signer_role text;
