/* sign.c — Ed25519 and SHA-256 through OpenSSL's EVP interface. */
#include "authz/sign.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/hex.h"

struct signer {
	EVP_PKEY *key;
	char pub[65];
};

void hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * len] = '\0';
}

int hex_decode(const char *in, unsigned char *out, size_t outlen)
{
	size_t n = strlen(in);

	if (n % 2 != 0 || n / 2 > outlen)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(in[2 * i]), lo = hex_digit(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

void sha256_raw(const void *a, size_t alen, const void *b, size_t blen, unsigned char out[32])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 32;

	memset(out, 0, 32);
	if (c == NULL)
		return;
	if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1 &&
	    (alen == 0 || EVP_DigestUpdate(c, a, alen) == 1) &&
	    (blen == 0 || EVP_DigestUpdate(c, b, blen) == 1))
		EVP_DigestFinal_ex(c, out, &n);
	EVP_MD_CTX_free(c);
}

void sha256_hex(const void *a, size_t alen, const void *b, size_t blen, char out[65])
{
	unsigned char h[32];

	sha256_raw(a, alen, b, blen, h);
	hex_encode(h, 32, out);
}

struct signer *signer_load(const char *path, char *err, size_t errlen)
{
	char *pem = secret_file_read(path, err, errlen);
	struct signer *s;
	unsigned char pub[32];
	size_t publen = sizeof(pub);
	BIO *bio;

	if (pem == NULL)
		return NULL;
	s = calloc(1, sizeof(*s));
	bio = BIO_new_mem_buf(pem, -1);
	if (s != NULL && bio != NULL)
		s->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	explicit_bzero(pem, strlen(pem));
	free(pem);
	if (s == NULL || s->key == NULL || EVP_PKEY_get_id(s->key) != EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_raw_public_key(s->key, pub, &publen) != 1) {
		snprintf(
			err, errlen,
			"%s: not an Ed25519 private key in PEM (make one with: openssl genpkey -algorithm ed25519 -out %s; chmod 600 %s)",
			path, path, path);
		signer_free(s);
		return NULL;
	}
	hex_encode(pub, publen, s->pub);
	return s;
}

void signer_free(struct signer *s)
{
	if (s == NULL)
		return;
	EVP_PKEY_free(s->key);
	free(s);
}

void signer_public_hex(const struct signer *s, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", s->pub);
}

int signer_sign(const struct signer *s, const void *msg, size_t len, char *out, size_t outlen)
{
	unsigned char sig[64];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *c;
	int ok;

	if (outlen < 129)
		return -1;
	c = EVP_MD_CTX_new();
	ok = c != NULL && EVP_DigestSignInit(c, NULL, NULL, NULL, s->key) == 1 &&
	     EVP_DigestSign(c, sig, &siglen, msg, len) == 1;
	EVP_MD_CTX_free(c);
	if (!ok)
		return -1;
	hex_encode(sig, siglen, out);
	return 0;
}

int signer_verify(const struct signer *s, const void *msg, size_t len, const char *sig_hex)
{
	unsigned char sig[64];
	EVP_MD_CTX *c;
	int ok;

	if (sig_hex == NULL || hex_decode(sig_hex, sig, sizeof(sig)) != 64)
		return 0;
	c = EVP_MD_CTX_new();
	ok = c != NULL && EVP_DigestVerifyInit(c, NULL, NULL, NULL, s->key) == 1 &&
	     EVP_DigestVerify(c, sig, 64, msg, len) == 1;
	EVP_MD_CTX_free(c);
	return ok ? 1 : 0;
}
