/* pgoutput.h — the logical replication protocol, pure: bytes in, events
 * out, no I/O.  Covers the CopyData frames of the streaming replication
 * protocol ('w' XLogData, 'k' keepalive, and the client's 'r' status update)
 * and the pgoutput messages of protocol versions 1 and 2 (PostgreSQL 15):
 * Begin, Commit, Origin, Relation, Type, Insert, Update, Delete, Truncate,
 * Message, Stream Start/Stop/Commit/Abort.
 *
 * Every length is checked against the input; malformed input is an error
 * (-1 with a message naming the message type and offset), never a
 * crash or a read past the end.  All integers are big-endian on the wire. */
#ifndef SYNCD_CONNECTORS_PGOUTPUT_H
#define SYNCD_CONNECTORS_PGOUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- CopyData frames ------------------------------------------------------ */

struct pgo_frame {
	char kind;	    /* 'w' XLogData or 'k' keepalive */
	uint64_t wal_start; /* 'w' only */
	uint64_t wal_end;
	int64_t send_time;	/* microseconds since 2000-01-01 */
	bool reply_requested;	/* 'k' only */
	const uint8_t *payload; /* 'w' only: one pgoutput message, borrowed */
	size_t payload_len;
};

/* 0, or -1 with err set (unknown kind, short frame). */
int pgo_frame_parse(const uint8_t *buf, size_t len, struct pgo_frame *out, char *err, size_t errlen);

#define PGO_STATUS_LEN 34
/* Writes a standby status update ('r'): each LSN is "last byte + 1" that is
 * written / flushed / applied.  Returns PGO_STATUS_LEN. */
size_t pgo_status_build(uint8_t out[PGO_STATUS_LEN], uint64_t written, uint64_t flushed, uint64_t applied,
			int64_t now, bool reply_requested);

/* Microseconds since 2000-01-01 (the PostgreSQL epoch) for a Unix time. */
int64_t pgo_time_from_unix(int64_t unix_us);

/* "16/B374D848" <-> 64-bit LSN; parse returns -1 on malformed text. */
int pgo_lsn_parse(const char *s, uint64_t *lsn);
void pgo_lsn_format(uint64_t lsn, char *out, size_t outlen); /* outlen >= 18 */

/* ---- pgoutput messages ---------------------------------------------------- */

enum pgo_type {
	PGO_BEGIN = 'B',
	PGO_COMMIT = 'C',
	PGO_ORIGIN = 'O',
	PGO_RELATION = 'R',
	PGO_TYPE = 'Y',
	PGO_INSERT = 'I',
	PGO_UPDATE = 'U',
	PGO_DELETE = 'D',
	PGO_TRUNCATE = 'T',
	PGO_MESSAGE = 'M',
	PGO_STREAM_START = 'S',
	PGO_STREAM_STOP = 'E',
	PGO_STREAM_COMMIT = 'c',
	PGO_STREAM_ABORT = 'A',
};

/* One column value of a TupleData. */
struct pgo_value {
	char kind;	     /* 'n' NULL, 'u' unchanged TOAST (no data), 't' text, 'b' binary */
	const uint8_t *data; /* 't'/'b': borrowed from the message; not NUL-terminated */
	uint32_t len;
};

struct pgo_tuple {
	uint16_t ncols;
	const struct pgo_value *values; /* owned by the parser, valid until the next parse */
};

struct pgo_column {
	bool key; /* flags & 1: part of the replica identity key */
	const char *name;
	uint32_t type_oid;
	int32_t typmod;
};

struct pgo_event {
	enum pgo_type type;
	bool has_xid; /* inside a streamed transaction (v2): the message carried an xid */
	uint32_t xid; /* that xid; for Begin/Stream*: the transaction's xid */
	union {
		struct {
			uint64_t final_lsn; /* the commit's LSN */
			int64_t commit_time;
		} begin;
		struct { /* Commit and Stream Commit */
			uint8_t flags;
			uint64_t commit_lsn;
			uint64_t end_lsn;
			int64_t commit_time;
		} commit;
		struct {
			uint64_t lsn;
			const char *name;
		} origin;
		struct {
			uint32_t oid;
			const char *nspname; /* "" means pg_catalog */
			const char *relname;
			char replident; /* 'd', 'n', 'f', 'i' */
			uint16_t ncols;
			const struct pgo_column *cols;
		} relation;
		struct {
			uint32_t oid;
			const char *nspname;
			const char *name;
		} type_info;
		struct { /* Insert, Update, Delete */
			uint32_t relid;
			char old_kind;		    /* 'K' key only, 'O' whole old row, 0 none */
			struct pgo_tuple old_tuple; /* Update with K/O, Delete */
			struct pgo_tuple new_tuple; /* Insert, Update */
		} change;
		struct {
			uint32_t nrels;
			uint8_t options;	/* 1 CASCADE, 2 RESTART IDENTITY */
			const uint32_t *relids; /* owned by the parser */
		} truncate;
		struct {
			uint8_t flags; /* 1: transactional */
			uint64_t lsn;
			const char *prefix;
			const uint8_t *content;
			uint32_t len;
		} message;
		struct {
			bool first_segment;
		} stream_start;
		struct {
			uint32_t subxid; /* == xid: the whole transaction aborted */
		} stream_abort;
	} u;
};

struct pgo_parser;

/* proto_version 1 or 2.  NULL when out of memory. */
struct pgo_parser *pgo_parser_new(int proto_version);
void pgo_parser_free(struct pgo_parser *p);

/* Parses one pgoutput message (the payload of an XLogData frame).  Strings
 * and values in ev are borrowed from buf or owned by the parser: valid until
 * the next call.  Tracks Stream Start/Stop to know when messages carry an
 * xid.  Returns 0, or -1 with err set. */
int pgo_parse(struct pgo_parser *p, const uint8_t *buf, size_t len, struct pgo_event *ev, char *err,
	      size_t errlen);

/* Parses one message as inside a Stream Start ... Stream Stop block (it
 * carries the xid of its subtransaction) whatever the stream state: a
 * message of a streamed transaction staged at receipt and read back at its
 * Stream Commit.  The stream state is left as it was. */
int pgo_parse_streamed(struct pgo_parser *p, const uint8_t *buf, size_t len, struct pgo_event *ev, char *err,
		       size_t errlen);

#endif
