#!/bin/bash
# One batch sent by connectors/http_send.c (through build/http_send_cli) to
# tests/harness/receiver.py on loopback (issue 13): delivered byte-exact with
# its Idempotency-Key; 5xx, 429 + Retry-After, timeouts, refused connections
# are retries; 4xx, a 3xx (not followed), an unknown CA are dead; mTLS,
# webhook signatures, bearer and OAuth2 tokens (cached; one refetch on a 401).
set -euo pipefail
. "$(dirname "$0")/../harness/lib.sh"

h_init
CLI=$H_BUILD/http_send_cli
RECV=$H_ROOT/tests/harness/receiver.py
T=$H_TMP
BATCH=land-31120-0000000001A2B3C4-0000000001A2B3FF
# no trailing newline, Vietnamese NFC text: the receiver must hold these very bytes
printf '{"source":"land","unit":31120,"changes":[{"op":"insert","row":{"ten":"Nguy\xe1\xbb\x85n Th\xe1\xbb\x8b"}}]}' >"$T/body.json"

# recv NAME ARGS...: starts a receiver logging to $T/NAME.log; sets PORT
recv() {
	local name=$1 _
	shift
	: >"$T/$name.log"
	python3 "$RECV" --log "$T/$name.log" "$@" >"$T/$name.out" 2>"$T/$name.err" &
	h_atexit_kill $!
	for _ in $(seq 50); do
		PORT=$(head -1 "$T/$name.out" 2>/dev/null || true)
		[[ -n $PORT ]] && return 0
		sleep 0.1
	done
	echo "receiver $name did not start: $(cat "$T/$name.err")" >&2
	return 1
}
# send ARGS...: runs the client; OUT holds its lines
send() { OUT=$("$CLI" "$@" 2>&1 || true); }
field() { grep -o "\b$1=[^ ]*" <<<"$OUT" | head -1 | cut -d= -f2-; }
line() { grep "^$1=" <<<"$OUT" | head -1 | cut -d= -f2-; }
count() { wc -l <"$T/$1.log" | tr -d ' '; }
ctl() { curl -fsS "${@:2}" "$1" >/dev/null; }

# ---------------------------------------------------------------- plain HTTP
recv plain
P=$PORT
U=http://127.0.0.1:$P/ingest
send "$U" "$T/body.json" "$BATCH"
h_assert_eq "2xx: delivered" "delivered 200" "$(field verdict) $(field status)"
h_assert_eq "2xx: Idempotency-Key is the batch id" "$BATCH" "$(jq -r '.headers["idempotency-key"]' "$T/plain.log")"
h_assert_eq "2xx: the body arrives byte-exact" "$(base64 -w0 "$T/body.json")" "$(jq -r .body_b64 "$T/plain.log")"
h_assert_eq "2xx: POST with its Content-Type" "POST application/json" \
	"$(jq -r '.method + " " + .headers["content-type"]' "$T/plain.log")"

ctl "http://127.0.0.1:$P/control?status=500&body=down"
send "$U" "$T/body.json" "$BATCH"
h_assert_eq "500: retry" "retry 500 -1" "$(field verdict) $(field status) $(field retry_after)"

ctl "http://127.0.0.1:$P/control?status=429&retry_after=3"
send "$U" "$T/body.json" "$BATCH"
h_assert_eq "429 + Retry-After: 3: retry after 3 s" "retry 429 3" "$(field verdict) $(field status) $(field retry_after)"

ctl "http://127.0.0.1:$P/control?status=400&body=column%20ten%3A%20too%20long%0D%0Ainjected"
send "$U" "$T/body.json" "$BATCH"
h_assert_eq "400: dead" "dead 400" "$(field verdict) $(field status)"
h_assert_eq "400: the body excerpt, cleaned for logs" 'column ten: too long\x0d\x0ainjected' "$(line excerpt)"

n=$(count plain)
ctl "http://127.0.0.1:$P/control?status=301&location=/elsewhere"
send "$U" "$T/body.json" "$BATCH"
h_assert_eq "301: dead" "dead 301" "$(field verdict) $(field status)"
h_assert_eq "301: the redirect is not followed" $((n + 1)) "$(count plain)"

ctl "http://127.0.0.1:$P/control?status=200&delay_ms=3000"
send --timeout-ms 500 "$U" "$T/body.json" "$BATCH"
h_assert_eq "timeout: retry (curl 28)" "retry 0 28" "$(field verdict) $(field status) $(field curl)"
if grep -q "^error=.*Timeout was reached" <<<"$OUT"; then
	h_ok "timeout: the error names the timeout"
else
	h_fail "timeout: the error names the timeout" "$OUT"
fi

dead_port=$("$H_BUILD/freeport")
send "http://127.0.0.1:$dead_port/ingest" "$T/body.json" "$BATCH"
h_assert_eq "connection refused: retry (curl 7)" "retry 7" "$(field verdict) $(field curl)"

send "http://no-such-host.invalid/ingest" "$T/body.json" "$BATCH"
h_assert_eq "DNS failure: retry (curl 6)" "retry 6" "$(field verdict) $(field curl)"

# ---------------------------------------------------------------- TLS
(
	cd "$T"
	ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	for ca in ca other; do
		openssl req -x509 "${ec[@]}" -keyout $ca.key -out $ca.pem -days 2 -subj "/CN=$ca test CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
	done
	for who in server client; do
		openssl req "${ec[@]}" -keyout $who.key -out $who.csr -subj "/CN=$who"
		printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=%s\n' \
			"$([[ $who == server ]] && echo serverAuth || echo clientAuth)" >$who.ext
		[[ $who == server ]] && echo 'subjectAltName=IP:127.0.0.1' >>$who.ext
		openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $who.pem -days 2 \
			-extfile $who.ext
	done
) >"$T/openssl.log" 2>&1
chmod 600 "$T"/*.key

recv tls --tls-cert "$T/server.pem" --tls-key "$T/server.key"
U=https://127.0.0.1:$PORT/ingest
send --ca "$T/ca.pem" "$U" "$T/body.json" "$BATCH"
h_assert_eq "TLS with the right CA: delivered" "delivered 200" "$(field verdict) $(field status)"
send --ca "$T/other.pem" "$U" "$T/body.json" "$BATCH"
h_assert_eq "TLS with an unknown CA: dead (curl 60), a configuration error" "dead 60" "$(field verdict) $(field curl)"
h_assert_eq "TLS with an unknown CA: nothing reached the receiver" 1 "$(count tls)"

recv mtls --tls-cert "$T/server.pem" --tls-key "$T/server.key" --client-ca "$T/ca.pem"
U=https://127.0.0.1:$PORT/ingest
send --ca "$T/ca.pem" --cert "$T/client.pem" --key "$T/client.key" "$U" "$T/body.json" "$BATCH"
h_assert_eq "mTLS with the client certificate: delivered" "delivered 200" "$(field verdict) $(field status)"
send --ca "$T/ca.pem" "$U" "$T/body.json" "$BATCH"
if [[ $(field verdict) != delivered && $(count mtls) == 1 ]]; then
	h_ok "mTLS without a client certificate: refused ($(field verdict), curl $(field curl))"
else
	h_fail "mTLS without a client certificate: refused" "$OUT; $(count mtls) requests recorded"
fi

# ---------------------------------------------------------------- auth
umask 077
echo "whsec_$(printf 'a shared secret of 32 bytes!!!!!' | base64 -w0)" >"$T/whsec"
echo "whsec_$(printf 'not the secret the receiver has' | base64 -w0)" >"$T/whsec.wrong"
recv hmac --webhook-secret "$(cat "$T/whsec")"
U=http://127.0.0.1:$PORT/ingest
send --webhook-secret-file "$T/whsec" "$U" "$T/body.json" "$BATCH"
h_assert_eq "webhook signature: verified by the receiver, delivered" "delivered 200" "$(field verdict) $(field status)"
h_assert_eq "webhook signature: webhook-id is the batch id" "$BATCH" "$(jq -r '.headers["webhook-id"]' "$T/hmac.log")"
send --webhook-secret-file "$T/whsec.wrong" "$U" "$T/body.json" "$BATCH"
h_assert_eq "webhook signature with a wrong secret: 401, dead (no retry loop)" "dead 401" \
	"$(field verdict) $(field status)"

echo 'token-0123456789' >"$T/bearer"
echo 'token-wrong' >"$T/bearer.wrong"
recv bearer --bearer token-0123456789
U=http://127.0.0.1:$PORT/ingest
send --bearer-file "$T/bearer" "$U" "$T/body.json" "$BATCH"
h_assert_eq "bearer token from a file: delivered" "delivered 200" "$(field verdict) $(field status)"
send --bearer-file "$T/bearer.wrong" "$U" "$T/body.json" "$BATCH"
h_assert_eq "a wrong bearer token: 401, dead" "dead 401" "$(field verdict) $(field status)"
chmod 644 "$T/bearer"
send --bearer-file "$T/bearer" "$U" "$T/body.json" "$BATCH"
h_assert_eq "a world-readable token file: refused before sending" "-1 dead" "$(field rc) $(field verdict)"

echo 's3cret:with&odd=chars' >"$T/client_secret"
recv oauth --oauth-client 'syncd-land:s3cret:with&odd=chars' --token-ttl 3600
P=$PORT
oauth=(--token-url "http://127.0.0.1:$P/token" --client-id syncd-land --client-secret-file "$T/client_secret" --scope ingest)
send "${oauth[@]}" --repeat 2 "http://127.0.0.1:$P/ingest" "$T/body.json" "$BATCH"
h_assert_eq "OAuth2: two sends delivered" "2" "$(grep -c 'verdict=delivered' <<<"$OUT")"
h_assert_eq "OAuth2: one token fetched and cached across both" "1 1" \
	"$(line token_fetches) $(jq -s '[.[] | select(.path == "/token")] | length' "$T/oauth.log")"
h_assert_eq "OAuth2: grant_type=client_credentials with the scope" "grant_type=client_credentials&scope=ingest" \
	"$(jq -r 'select(.path == "/token") | .body' "$T/oauth.log")"
: >"$T/oauth.log"
send "${oauth[@]}" --repeat 2 --between "curl -fsS 'http://127.0.0.1:$P/control?revoke=1'" \
	"http://127.0.0.1:$P/ingest" "$T/body.json" "$BATCH"
h_assert_eq "OAuth2: a revoked token (401) cured by one fresh token" "2 2" \
	"$(grep -c 'verdict=delivered' <<<"$OUT") $(line token_fetches)"
h_assert_eq "OAuth2: the 401'd batch sent once more, same Idempotency-Key" "/token /ingest /ingest /token /ingest|$BATCH" \
	"$(jq -r .path "$T/oauth.log" | xargs)|$(jq -r 'select(.path == "/ingest") | .headers["idempotency-key"]' "$T/oauth.log" | sort -u)"
h_summary
