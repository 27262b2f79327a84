/* http_sign.c — Standard Webhooks HMAC-SHA256 signatures (webhook-signature)
 * and whsec_ secrets, through OpenSSL's EVP_MAC. */
#include "connectors/http_sign.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHSEC "whsec_"

/* base64 (padding optional) -> new bytes; NULL when not base64. */
static unsigned char *base64_decode(const char *s, size_t *outlen)
{
	size_t n = strlen(s), padded = (n + 3) / 4 * 4, pad = 0;
	char *in = malloc(padded + 1);
	unsigned char *out = malloc(padded / 4 * 3 + 1);
	int m;

	if (!in || !out || n % 4 == 1)
		goto fail;
	memcpy(in, s, n);
	memset(in + n, '=', padded - n);
	in[padded] = '\0';
	while (pad < 2 && padded > pad && in[padded - 1 - pad] == '=')
		pad++;
	/* EVP_DecodeBlock skips leading/trailing blanks: refuse them ourselves */
	if (strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") != padded - pad)
		goto fail;
	if ((m = EVP_DecodeBlock(out, (const unsigned char *)in, (int)padded)) < 0 || (size_t)m < pad)
		goto fail;
	free(in);
	*outlen = (size_t)m - pad;
	return out;
fail:
	free(in);
	free(out);
	return NULL;
}

unsigned char *http_sign_key(const char *secret, size_t *keylen, char *err, size_t errlen)
{
	unsigned char *key;

	if (strncmp(secret, WHSEC, strlen(WHSEC)) != 0) {
		*keylen = strlen(secret);
		if (*keylen == 0) {
			snprintf(err, errlen, "webhook secret: empty");
			return NULL;
		}
		if (!(key = malloc(*keylen + 1)))
			snprintf(err, errlen, "webhook secret: out of memory");
		else
			memcpy(key, secret, *keylen + 1);
		return key;
	}
	key = base64_decode(secret + strlen(WHSEC), keylen);
	if (!key || *keylen == 0) {
		snprintf(err, errlen,
			 "webhook secret: the part after \"" WHSEC "\" is not base64 (or is empty)");
		free(key);
		return NULL;
	}
	return key;
}

int http_sign_webhook(const unsigned char *key, size_t keylen, const char *id, long long timestamp,
		      const char *body, size_t len, char out[HTTP_SIGNATURE_MAX])
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
			       OSSL_PARAM_construct_end()};
	unsigned char md[32];
	char ts[32];
	size_t mdlen = 0;
	int r = -1;

	out[0] = '\0';
	snprintf(ts, sizeof(ts), ".%lld.", timestamp);
	if (!ctx || !EVP_MAC_init(ctx, key, keylen, params) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)id, strlen(id)) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)ts, strlen(ts)) ||
	    !EVP_MAC_update(ctx, (const unsigned char *)body, len) ||
	    !EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) || mdlen != sizeof(md))
		goto out;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, md, (int)mdlen);
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}
