/* Authorization: Payment <base64url JSON> (mpp_credential_parse and the JSON
 * inside), then the gate's checks of the echo (mpp_verify_pick,
 * mpp_verify_echo) and the problem body they lead to. The harness also
 * binds the echo with the server key itself, so the checks after the HMAC
 * (pinned fields, opaque scope, expires, digest) are reachable.
 * Invariants: format(parse(x)) parses to the same credential; an echo bound
 * under the key never fails the binding; problem bodies are strict JSON. */
#include "fuzz.h"

#include <apr_strings.h>

#include "mpp_credential.h"
#include "mpp_crypto.h"
#include "mpp_json.h"
#include "mpp_limits.h"
#include "mpp_problem.h"
#include "mpp_verify.h"

#define NOW_SEC 1767225600LL  /* 2026-01-01T00:00:00Z */
#define NOT_OURS "challenge was not issued by this server or was altered"

static mpp_keys_t keys = { (const unsigned char *)"secret-key", 10,
                           (const unsigned char *)"previous-secret-key", 19 };
static mpp_expect_t exps[3];
static unsigned char hello_sha[32];

static const char *req_b64(apr_pool_t *p, const char *json);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    apr_pool_t *p;
    fuzz_init();
    p = fuzz_forever();
    /* the places of tests/conformance/vectors/server-verify.json and the gate */
    mpp_sha256((const unsigned char *)"hello", 5, hello_sha);
    exps[0] = (mpp_expect_t){ "api.example.com", "tempo", "charge",
        req_b64(p, "{\"amount\":\"100\",\"currency\":\"0xabc\",\"recipient\":\"0xdef\"}"), NULL, NULL };
    exps[1] = (mpp_expect_t){ "api.example.com", "evm", "charge",
        req_b64(p, "{\"amount\":\"10000\",\"currency\":\"0x833589fcd6edb6e08f4c7c32d4f71b54bda02913\","
                   "\"methodDetails\":{\"chainId\":8453,\"credentialTypes\":[\"authorization\"],\"decimals\":6},"
                   "\"recipient\":\"0x742d35cc6634c0532925a3b844bc9e7595f8fe00\"}"), "GET /paid/", hello_sha };
    exps[2] = (mpp_expect_t){ "api.example.com", "evm", "charge",
        req_b64(p, "{\"amount\":\"1\"}"), "POST /api", NULL };
    return 0;
}

static const char *req_b64(apr_pool_t *p, const char *json)
{
    const char *e;
    json_object *o = mpp_json_parse(p, json, strlen(json), 4096, 4, &e);
    if (!o) abort();
    return mpp_jcs_b64url(p, o);
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static const char *jcs_or_null(apr_pool_t *p, json_object *o)
{
    return o ? mpp_jcs(p, o) : NULL;
}

static void check_problem(apr_pool_t *p, mpp_problem_t pr, const char *detail, const char *id)
{
    const char *body = mpp_problem_json(p, pr, detail, NULL, id), *err;
    FUZZ_ASSERT(mpp_json_parse(p, body, strlen(body), 1 << 20, 4, &err), "problem body is not JSON (%s): %s",
                err, body);
}

static void verify(apr_pool_t *p, const mpp_credential_t *c)
{
    const mpp_challenge_t *echo = &c->challenge;
    int i = mpp_verify_pick(p, echo, exps, 3);
    apr_time_t now = apr_time_from_sec(NOW_SEC);
    const char *detail = NULL, *id, *prev_id;
    mpp_problem_t pr;
    mpp_challenge_t bound;

    FUZZ_ASSERT(i >= -1 && i < 3, "pick %d", i);
    if (i < 0) return;
    pr = mpp_verify_echo(p, &keys, echo, &exps[i], now, &detail);
    FUZZ_ASSERT(pr == MPP_OK || detail, "refused without a detail");
    check_problem(p, pr, detail, echo->id);

    /* the same echo as the server would have issued it (the id binds the
     * canonical request; the client may have re-encoded it) */
    bound = *echo;
    bound.request = echo->request_obj ? mpp_jcs_b64url(p, echo->request_obj) : echo->request;
    id = mpp_challenge_compute_id(p, keys.key, keys.keylen, &bound);
    prev_id = mpp_challenge_compute_id(p, keys.prev_key, keys.prev_keylen, &bound);
    bound.request = echo->request;
    bound.id = id;
    pr = mpp_verify_echo(p, &keys, &bound, &exps[i], now, &detail);
    FUZZ_ASSERT(pr == MPP_OK || (detail && strcmp(detail, NOT_OURS)), "a bound echo failed the binding");
    check_problem(p, pr, detail, bound.id);
    if (pr == MPP_OK) {
        FUZZ_ASSERT(!strcmp(echo->realm, exps[i].realm) && !strcmp(echo->method, exps[i].method)
                    && !strcmp(echo->intent, exps[i].intent) && echo->expires,
                    "accepted an echo of another place");
    }
    /* under the previous key too */
    bound.id = prev_id;
    pr = mpp_verify_echo(p, &keys, &bound, &exps[i], now, &detail);
    FUZZ_ASSERT(pr == MPP_OK || (detail && strcmp(detail, NOT_OURS)), "the previous key's echo failed the binding");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const char *hdr = fuzz_str(p, data, size), *err = NULL;
    mpp_credential_t c, back;
    mpp_cred_status_t st = mpp_credential_parse(p, hdr, &c, &err);

    FUZZ_ASSERT(st == MPP_CRED_OK || err, "status %d without a reason", (int)st);
    if (st == MPP_CRED_OK) {
        const mpp_challenge_t *e = &c.challenge, *b = &back.challenge;
        const char *wire;
        FUZZ_ASSERT(e->id && *e->id && e->realm && e->method && e->intent && e->request && e->request_obj
                    && c.payload && json_object_is_type(c.payload, json_type_object),
                    "a required field is missing after a successful parse");
        wire = mpp_credential_format(p, &c, &err);
        FUZZ_ASSERT(wire, "a parsed credential cannot be formatted: %s", err);
        /* JCS may be longer than the client's JSON (escapes), past the limit */
        if (strlen(wire) <= MPP_MAX_AUTH_HEADER) {
            mpp_cred_status_t st2 = mpp_credential_parse(p, wire, &back, &err);
            if (st2 == MPP_CRED_OK) {
                FUZZ_ASSERT(same(e->id, b->id) && same(e->realm, b->realm) && same(e->method, b->method)
                            && same(e->intent, b->intent) && same(e->request, b->request)
                            && same(e->expires, b->expires) && same(e->digest, b->digest)
                            && same(e->description, b->description) && same(e->opaque, b->opaque)
                            && same(e->header, b->header)
                            && same(jcs_or_null(p, c.payload), jcs_or_null(p, back.payload))
                            && same(jcs_or_null(p, c.source), jcs_or_null(p, back.source)),
                            "format/parse changed the credential: %s", wire);
            }
            else FUZZ_ASSERT(!strcmp(err, "JSON too large"), "own output refused (%s): %s", err, wire);
        }
        verify(p, &c);
    }
    else if (st == MPP_CRED_MALFORMED) {
        check_problem(p, MPP_P_MALFORMED_CREDENTIAL, err, NULL);
    }
    /* the token alone, as the gate's second look decodes it */
    {
        size_t n = strspn(hdr, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
        mpp_credential_decode(p, hdr, n, &back, &err);
    }
    fuzz_end();
    return 0;
}
