/* print.h — what syncctl shows of syncd's API answers: the grants, audit,
 * document and dead-letter tables and summaries on a terminal, and the
 * audit log as CSV. */
#ifndef SYNCD_CTL_PRINT_H
#define SYNCD_CTL_PRINT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

/* "active", "revoked", "expired" (not_after passed) or "pending" (not_before
 * still ahead) for a grant object at time now. */
const char *api_grant_state(const json_t *grant, time_t now);
/* The grants table: ID USER ROLE UNIT "NOT AFTER" DEPTH GRANTOR STATE, one
 * row per grant object of the array.  Returns 0, or -1 when grants is not
 * an array of objects (nothing printed). */
int api_grants_print(FILE *f, const json_t *grants, time_t now);
/* A check answer: 1 for "allow", 0 for "deny", -1 when it has no decision. */
int api_check_allowed(const json_t *check);
/* "allow" or "deny: REASON", then one line per link of the chain.  Returns
 * what api_check_allowed() returns (nothing printed on -1). */
int api_check_print(FILE *f, const json_t *check);

/* The audit log table: SEQ AT ACTOR ACTION UNIT OBJECT DECISION REASON,
 * one row per event object of the array, AT to the second, long cells cut
 * with "…".  Returns 0, or -1 when events is not an array of objects
 * (nothing printed). */
int api_audit_print(FILE *f, const json_t *events);

/* The server's CSV (RFC 4180) written again to f, every cell through
 * text_csv_cell: a cell a spreadsheet would run (= + - @ TAB CR first)
 * starts with an apostrophe; records end in CRLF.  skip_header leaves the
 * first record out (a later page).  Returns the records written, or -1 on
 * a malformed CSV (an unclosed quote), no memory or a write error. */
int api_csv_print(FILE *f, const char *csv, size_t len, bool skip_header);
/* A verify answer: 1 when "ok" is true, 0 when false, -1 without "ok". */
int api_audit_intact(const json_t *verify);
/* "audit log intact: N rows, K signed checkpoints", or "audit log BROKEN
 * at seq N: PROBLEM" with the expected and found hashes.  Returns what
 * api_audit_intact() returns (nothing printed on -1). */
int api_audit_verify_print(FILE *f, const json_t *verify);

/* An issued document: serial, title, kind, unit, issued, issuer, state,
 * then one "label: value" line per field.  Returns 0, or -1 when doc is
 * not an object with a serial (nothing printed). */
int api_document_print(FILE *f, const json_t *doc);
/* A public verify answer: 1 for "valid", 0 for "revoked" or "unknown", -1
 * for anything else. */
int api_document_valid(const json_t *verify);
/* "SERIAL: valid (kind, unit, issued_on)" (or revoked, or unknown) and the
 * sha256 and signature lines.  Returns what api_document_valid() returns
 * (nothing printed on -1). */
int api_document_verify_print(FILE *f, const json_t *verify);

/* The dead letters table: ID "DEAD AT" TARGET UNIT BATCH CHANGES ATTEMPTS
 * HTTP ERROR STATE (open, retried or discarded), one row per object of the
 * array, long errors cut with "…".  Returns 0, or -1 when list is not an
 * array of objects (nothing printed). */
int api_deadletters_print(FILE *f, const json_t *list);
/* One dead letter: "label: value" lines (the batch, the failure, the
 * resolution), then the batch's body, indented when it is JSON.  Returns
 * 0, or -1 when dl is not an object with an id (nothing printed). */
int api_deadletter_print(FILE *f, const json_t *dl);
/* A retry's or discard's answer: "retried dead letter 17 (target, unit,
 * batch)" and whether the unit was unpaused or stays paused.  Returns 0, or
 * -1 when r is not an object with an id and a resolution (nothing printed). */
int api_deadletter_resolution_print(FILE *f, const json_t *r);

#endif
