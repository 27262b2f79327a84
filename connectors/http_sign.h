/* http_sign.h — Standard Webhooks signatures for the HTTP target (issue 13
 * item 3): the secret's two forms and the webhook-signature header.  Pure. */
#ifndef SYNCD_CONNECTORS_HTTP_SIGN_H
#define SYNCD_CONNECTORS_HTTP_SIGN_H

#include <stddef.h>

/* The HMAC key of a secret as secret_file_read() returns it (trailing
 * newlines gone): "whsec_" + base64 is base64-decoded, as the Standard
 * Webhooks spec says; any other text is the key bytes as they are.  Returns
 * a new key of *keylen bytes, caller frees with free(); NULL with err set
 * when the secret is empty or its whsec_ part is not base64 or is empty. */
unsigned char *http_sign_key(const char *secret, size_t *keylen, char *err, size_t errlen);

/* "v1," + base64 of 44 characters + NUL */
#define HTTP_SIGNATURE_MAX 48

/* The webhook-signature header value for one delivery:
 * "v1," + base64(HMAC-SHA256(key, id + "." + timestamp + "." + body)), where
 * id is the webhook-id header (the batch id) and timestamp the
 * webhook-timestamp header (Unix seconds, sent as "%lld").  A retry sends
 * the same id with a fresh timestamp and signature.  Returns 0, or -1 when
 * OpenSSL fails (out is then ""). */
int http_sign_webhook(const unsigned char *key, size_t keylen, const char *id, long long timestamp,
		      const char *body, size_t len, char out[HTTP_SIGNATURE_MAX])
	__attribute__((warn_unused_result));

#endif
