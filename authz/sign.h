/* sign.h — Ed25519 signatures (OpenSSL) for documents and audit
 * checkpoints.  The private key is a PEM file (openssl genpkey -algorithm
 * ed25519), read as a secret: mode 0600 or a systemd credential. */
#ifndef SYNCD_AUTHZ_SIGN_H
#define SYNCD_AUTHZ_SIGN_H

#include <stddef.h>

struct signer;

struct signer *signer_load(const char *path, char *err, size_t errlen);
void signer_free(struct signer *s);

/* Signature of msg as 128 hex digits (out: at least 129 bytes). */
int signer_sign(const struct signer *s, const void *msg, size_t len, char *out, size_t outlen);
/* 1 valid, 0 not. */
int signer_verify(const struct signer *s, const void *msg, size_t len, const char *sig_hex);
/* The public key, 64 hex digits (out: at least 65 bytes). */
void signer_public_hex(const struct signer *s, char *out, size_t outlen);

/* SHA-256 of a || b as 64 hex digits, and raw. */
void sha256_hex(const void *a, size_t alen, const void *b, size_t blen, char out[65]);
void sha256_raw(const void *a, size_t alen, const void *b, size_t blen, unsigned char out[32]);
void hex_encode(const unsigned char *in, size_t len, char *out);
/* -1 on a bad digit or length; else the number of bytes. */
int hex_decode(const char *in, unsigned char *out, size_t outlen);

#endif
