/* mpp-conformance: the cross-implementation conformance adapter.
 *
 * Reads one JSON request {"schema":1,"op":...,"input":...,"context":...} on
 * stdin and writes one JSON response on stdout: {"ok":true,"value":...} or
 * {"ok":false,"error":{"type":...,"message":...}}. Diagnostics go to stderr.
 * The exit status is 0 whenever a response was written.
 *
 * Every operation is answered by the core library (src/mpp_*.c); this file
 * only converts between the adapter's JSON shapes and the core's types. */
#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_time.h>

#include <stdio.h>
#include <string.h>

#include "mpp_b64.h"
#include "mpp_challenge.h"
#include "mpp_credential.h"
#include "mpp_json.h"
#include "mpp_limits.h"
#include "mpp_method.h"
#include "mpp_problem.h"
#include "mpp_receipt.h"
#include "mpp_verify.h"

/* The request envelope is trusted test input, not protocol input: it may
 * carry pathological headers larger than the protocol's own limits (those
 * are enforced by the core when it parses the header inside). */
#define ENVELOPE_MAX   (8 * 1024 * 1024)
#define ENVELOPE_DEPTH 64

/* The fixed receipt of the server.verify stand-in payment method. */
#define STANDIN_REFERENCE "conformance-receipt"
#define STANDIN_TIMESTAMP "2026-01-29T12:00:00Z"

typedef struct {
    int ok;
    json_object *value;   /* ok: the result (a new reference) */
    const char *type;     /* !ok: error type */
    const char *message;
} result_t;

static result_t ok_value(json_object *v)
{
    result_t r = { 1, v, NULL, NULL };
    return r;
}

static result_t fail(const char *type, const char *message)
{
    result_t r = { 0, NULL, type, message ? message : "failed" };
    return r;
}

/* ---- reading JSON input ---- */

/* Member `key` of o as a string. Returns 0 (found, *out set), 1 (absent,
 * *out NULL) or -1 (present but not a string). */
static int member_str(json_object *o, const char *key, const char **out)
{
    json_object *v;
    *out = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return 1;
    if (!json_object_is_type(v, json_type_string))
        return -1;
    *out = json_object_get_string(v);
    return 0;
}

/* Member `key` of o as an object, or NULL. */
static json_object *member_obj(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
        return NULL;
    return v;
}

/* A Challenge object (request as a decoded object) onto mpp_challenge_t; the
 * wire `request` is base64url(JCS(request)), as a server issues it. */
static const char *challenge_from_json(apr_pool_t *p, json_object *o, mpp_challenge_t *c)
{
    static const char *const required[] = { "id", "realm", "method", "intent" };
    static const char *const optional[] = { "expires", "digest", "description", "opaque",
                                            "header" };
    const char **req_slots[] = { &c->id, &c->realm, &c->method, &c->intent };
    const char **opt_slots[] = { &c->expires, &c->digest, &c->description, &c->opaque, &c->header };

    memset(c, 0, sizeof(*c));
    if (!o || !json_object_is_type(o, json_type_object))
        return "challenge is not an object";
    for (unsigned i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (member_str(o, required[i], req_slots[i]) != 0)
            return apr_psprintf(p, "challenge.%s is missing or not a string", required[i]);
    for (unsigned i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
        if (member_str(o, optional[i], opt_slots[i]) < 0)
            return apr_psprintf(p, "challenge.%s is not a string", optional[i]);
    c->request_obj = member_obj(o, "request");
    if (!c->request_obj)
        return "challenge.request is missing or not an object";
    c->request = mpp_jcs_b64url(p, c->request_obj);
    return NULL;
}

/* A Credential object onto mpp_credential_t (borrowing its members). */
static const char *credential_from_json(apr_pool_t *p, json_object *o, mpp_credential_t *cred)
{
    json_object *src;
    const char *err;

    memset(cred, 0, sizeof(*cred));
    if (!o || !json_object_is_type(o, json_type_object))
        return "credential is not an object";
    if ((err = challenge_from_json(p, member_obj(o, "challenge"), &cred->challenge)))
        return json_object_object_get_ex(o, "challenge", NULL) ? err
                                                               : "credential.challenge is missing";
    cred->payload = member_obj(o, "payload");
    if (!cred->payload)
        return "credential.payload is missing or not an object";
    /* source: a string or an object; null means absent */
    if (json_object_object_get_ex(o, "source", &src) && src) {
        if (!json_object_is_type(src, json_type_string)
            && !json_object_is_type(src, json_type_object))
            return "credential.source is not a string or an object";
        cred->source = src;
    }
    return NULL;
}

/* ---- writing JSON results ---- */

static void add_str(json_object *o, const char *key, const char *v)
{
    if (v)
        json_object_object_add(o, key, json_object_new_string(v));
}

/* The Challenge shape: request decoded, absent optional fields omitted. */
static json_object *challenge_to_json(const mpp_challenge_t *c)
{
    json_object *o = json_object_new_object();
    add_str(o, "id", c->id);
    add_str(o, "realm", c->realm);
    add_str(o, "method", c->method);
    add_str(o, "intent", c->intent);
    json_object_object_add(o, "request", json_object_get(c->request_obj));
    add_str(o, "expires", c->expires);
    add_str(o, "description", c->description);
    add_str(o, "digest", c->digest);
    add_str(o, "opaque", c->opaque);
    add_str(o, "header", c->header);
    return o;
}

static json_object *header_result(const char *hdr)
{
    json_object *o = json_object_new_object();
    add_str(o, "header", hdr);
    return o;
}

static json_object *text_result(const char *s, apr_size_t len)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "text", json_object_new_string_len(s, (int)len));
    return o;
}

/* ---- operations ---- */

static result_t op_challenge_parse(apr_pool_t *p, json_object *in)
{
    const char *hdr, *err = NULL;
    mpp_challenge_t c;

    if (member_str(in, "header", &hdr) != 0)
        return fail("parse_error", "input.header is missing or not a string");
    if (mpp_challenge_parse(p, hdr, &c, &err))
        return fail("parse_error", err);
    return ok_value(challenge_to_json(&c));
}

static result_t op_challenge_format(apr_pool_t *p, json_object *in)
{
    mpp_challenge_t c;
    const char *err = challenge_from_json(p, in, &c);
    char *hdr;

    if (err)
        return fail("format_error", err);
    /* the credential-header binding is no WWW-Authenticate parameter */
    c.header = NULL;
    if (!(hdr = mpp_challenge_format(p, &c, &err)))
        return fail("format_error", err);
    return ok_value(header_result(hdr));
}

static result_t op_credential_parse(apr_pool_t *p, json_object *in)
{
    const char *hdr, *err = NULL;
    mpp_credential_t cred;
    json_object *o;

    if (member_str(in, "header", &hdr) != 0)
        return fail("parse_error", "input.header is missing or not a string");
    if (mpp_credential_parse(p, hdr, &cred, &err) != MPP_CRED_OK)
        return fail("parse_error", err);
    o = json_object_new_object();
    json_object_object_add(o, "challenge", challenge_to_json(&cred.challenge));
    json_object_object_add(o, "payload", json_object_get(cred.payload));
    if (cred.source)
        json_object_object_add(o, "source", json_object_get(cred.source));
    return ok_value(o);
}

static result_t op_credential_format(apr_pool_t *p, json_object *in)
{
    mpp_credential_t cred;
    const char *err = credential_from_json(p, in, &cred);
    char *hdr;

    if (err)
        return fail("format_error", err);
    if (!(hdr = mpp_credential_format(p, &cred, &err)))
        return fail("format_error", err);
    return ok_value(header_result(hdr));
}

static result_t op_receipt_parse(apr_pool_t *p, json_object *in)
{
    const char *hdr, *err = NULL;
    json_object *r;

    if (member_str(in, "header", &hdr) != 0)
        return fail("parse_error", "input.header is missing or not a string");
    if (!(r = mpp_receipt_parse(p, hdr, &err)))
        return fail("parse_error", err);
    return ok_value(json_object_get(r));
}

static result_t op_receipt_format(apr_pool_t *p, json_object *in)
{
    const char *err = NULL;
    char *hdr = mpp_receipt_format(p, in, &err);

    if (!hdr)
        return fail("format_error", err);
    return ok_value(header_result(hdr));
}

static result_t op_b64_encode(apr_pool_t *p, json_object *in)
{
    json_object *t;
    const char *s;

    if (!json_object_object_get_ex(in, "text", &t) || !json_object_is_type(t, json_type_string))
        return fail("encoding_error", "input.text is missing or not a string");
    s = mpp_b64url_encode(p, (const unsigned char *)json_object_get_string(t),
                          (apr_size_t)json_object_get_string_len(t));
    return ok_value(text_result(s, strlen(s)));
}

static result_t op_b64_decode(apr_pool_t *p, json_object *in)
{
    const char *s;
    unsigned char *raw;
    apr_size_t len;

    if (member_str(in, "text", &s) != 0)
        return fail("encoding_error", "input.text is missing or not a string");
    if (mpp_b64url_decode(p, s, strlen(s), &raw, &len))
        return fail("encoding_error", "not canonical unpadded base64url");
    /* the result is text: bytes that are not UTF-8 are an error, never U+FFFD */
    if (!mpp_utf8_valid(raw, len))
        return fail("encoding_error", "decoded bytes are not valid UTF-8");
    return ok_value(text_result((const char *)raw, len));
}

static result_t op_challenge_id(apr_pool_t *p, json_object *in)
{
    static const char *const names[] = { "realm", "method", "intent" };
    static const char *const optional[] = { "expires", "digest", "opaque", "header" };
    mpp_challenge_t c;
    const char **slots[] = { &c.realm, &c.method, &c.intent };
    const char **opt_slots[] = { &c.expires, &c.digest, &c.opaque, &c.header };
    const char *secret;

    memset(&c, 0, sizeof(c));
    if (member_str(in, "secretKey", &secret) != 0)
        return fail("generation_error", "secretKey is missing or not a string");
    /* the same floor the server configuration enforces */
    if (strlen(secret) < MPP_HMAC_KEY_MIN)
        return fail("generation_error",
                    apr_psprintf(p, "secretKey is shorter than %d bytes", MPP_HMAC_KEY_MIN));
    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (member_str(in, names[i], slots[i]) != 0)
            return fail("generation_error",
                        apr_psprintf(p, "%s is missing or not a string", names[i]));
    /* description is accepted but never bound into the id */
    for (unsigned i = 0; i < sizeof(optional) / sizeof(optional[0]); i++)
        if (member_str(in, optional[i], opt_slots[i]) < 0)
            return fail("generation_error", apr_psprintf(p, "%s is not a string", optional[i]));
    if (!(c.request_obj = member_obj(in, "request")))
        return fail("generation_error", "request is missing or not an object");
    c.request = mpp_jcs_b64url(p, c.request_obj);
    {
        json_object *o = json_object_new_object();
        add_str(o, "id", mpp_challenge_compute_id(p, (const unsigned char *)secret,
                                                  strlen(secret), &c));
        return ok_value(o);
    }
}

static json_object *verify_rejected(const char *error_type)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "ok", json_object_new_boolean(0));
    add_str(o, "errorType", error_type);
    return o;
}

static const char *problem_error_type(mpp_problem_t prob)
{
    switch (prob) {
    case MPP_P_MALFORMED_CREDENTIAL: return "malformed_credential";
    case MPP_P_INVALID_CHALLENGE: return "invalid_challenge";
    case MPP_P_PAYMENT_EXPIRED: return "payment_expired";
    case MPP_P_VERIFICATION_FAILED: return "verification_failed";
    default: return "unknown_error";
    }
}

/* The stand-in payment method of server.verify: the request decides the
 * verdict (verificationError), and the receipt is fixed so that outcomes
 * compare exactly across implementations. */
static const char *standin_failure;

static mpp_problem_t standin_verify(mpp_payment_t *pay)
{
    if (standin_failure) {
        pay->detail = standin_failure;
        return MPP_P_VERIFICATION_FAILED;
    }
    pay->reference = STANDIN_REFERENCE;
    return MPP_OK;
}

static json_object *standin_receipt(mpp_payment_t *pay)
{
    json_object *r = json_object_new_object();
    add_str(r, "status", "success");
    add_str(r, "method", pay->cred->challenge.method);
    add_str(r, "reference", pay->reference);
    add_str(r, "timestamp", STANDIN_TIMESTAMP);
    return r;
}

static const mpp_method_t standin_method = {
    .name = "conformance", .verify = standin_verify, .receipt = standin_receipt,
};

/* server.verify: one credential against one route, through the gate's own
 * steps: the credential travels as an Authorization header and is read back
 * by the gate's parser, then picked and verified against the expectation the
 * route would issue. A stand-in replaces the payment method's verifier. */
static result_t op_server_verify(apr_pool_t *p, json_object *in)
{
    static const char *const names[] = { "realm", "secretKey", "method", "intent" };
    const char *route[4], *expires, *verification_error, *err = NULL, *detail = NULL, *hdr;
    json_object *request, *r;
    mpp_credential_t cred;
    mpp_expect_t exp;
    mpp_keys_t keys;
    mpp_problem_t prob;
    mpp_payment_t pay;
    int readable = 0;

    for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (member_str(in, names[i], &route[i]) != 0)
            return fail("verification_error",
                        apr_psprintf(p, "%s is missing or not a string", names[i]));
    if (!*route[1])
        return fail("verification_error", "secretKey is empty");
    if (!(request = member_obj(in, "request")))
        return fail("verification_error", "request is missing or not an object");
    /* The route's own expiry only shapes the challenges it issues; the gate
     * always requires the echoed expires (fail closed), so it is not needed
     * to verify. */
    if (member_str(in, "expires", &expires) < 0
        || member_str(in, "verificationError", &verification_error) < 0)
        return fail("verification_error", "expires and verificationError must be strings");

    /* 1. the credential as the gate receives it */
    err = credential_from_json(p, member_obj(in, "credential"), &cred);
    if (!err && (hdr = mpp_credential_format(p, &cred, &err)) != NULL)
        readable = mpp_credential_parse(p, hdr, &cred, &err) == MPP_CRED_OK;
    if (!readable) {
        fprintf(stderr, "mpp-conformance: server.verify: %s\n",
                err ? err : "unreadable credential");
        return ok_value(verify_rejected("malformed_credential"));
    }

    /* 2. what this route charges now: no scope, no body */
    memset(&exp, 0, sizeof(exp));
    exp.realm = route[0];
    exp.method = route[2];
    exp.intent = route[3];
    exp.request = mpp_jcs_b64url(p, request);
    if (mpp_verify_pick(p, &cred.challenge, &exp, 1) < 0) {
        fprintf(stderr, "mpp-conformance: server.verify: no offer for %s/%s\n",
                cred.challenge.method, cred.challenge.intent);
        return ok_value(verify_rejected("invalid_challenge"));
    }

    /* 3. binding, pinned fields, expiry, body digest; the secret is used as
     * given (the 32-byte floor belongs to configuration, not verification) */
    memset(&keys, 0, sizeof(keys));
    keys.key = (const unsigned char *)route[1];
    keys.keylen = strlen(route[1]);
    prob = mpp_verify_echo(p, &keys, &cred.challenge, &exp, apr_time_now(), &detail);
    if (prob != MPP_OK) {
        fprintf(stderr, "mpp-conformance: server.verify: %s: %s\n", mpp_problem_slug(prob),
                detail ? detail : "");
        return ok_value(verify_rejected(problem_error_type(prob)));
    }

    /* 4. the payment method, as the gate's pay() step runs it */
    standin_failure = verification_error;
    memset(&pay, 0, sizeof(pay));
    pay.p = p;
    pay.cred = &cred;
    pay.request = cred.challenge.request_obj;
    pay.challenge_id = cred.challenge.id;
    pay.now = apr_time_now();
    if ((prob = standin_method.verify(&pay)) != MPP_OK) {
        fprintf(stderr, "mpp-conformance: server.verify: %s: %s\n", mpp_problem_slug(prob),
                pay.detail ? pay.detail : "");
        return ok_value(verify_rejected(problem_error_type(prob)));
    }
    r = mpp_json_pool_own(p, standin_method.receipt(&pay));
    if (!mpp_receipt_format(p, r, &err))
        return fail("verification_error", err);
    {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "ok", json_object_new_boolean(1));
        json_object_object_add(o, "receipt", json_object_get(r));
        return ok_value(o);
    }
}

typedef struct {
    const char *name;
    result_t (*fn)(apr_pool_t *p, json_object *in);
} op_t;

static const op_t ops[] = {
    { "challenge.parse", op_challenge_parse },
    { "challenge.format", op_challenge_format },
    { "credential.parse", op_credential_parse },
    { "credential.format", op_credential_format },
    { "receipt.parse", op_receipt_parse },
    { "receipt.format", op_receipt_format },
    { "base64url.encode", op_b64_encode },
    { "base64url.decode", op_b64_decode },
    { "challenge.id", op_challenge_id },
    { "server.verify", op_server_verify },
};

/* The error type an op reports for input it cannot use. */
static const char *input_error_type(const char *op)
{
    if (!strcmp(op, "challenge.parse") || !strcmp(op, "credential.parse")
        || !strcmp(op, "receipt.parse"))
        return "parse_error";
    if (!strcmp(op, "challenge.format") || !strcmp(op, "credential.format")
        || !strcmp(op, "receipt.format"))
        return "format_error";
    if (!strncmp(op, "base64url.", 10))
        return "encoding_error";
    if (!strcmp(op, "challenge.id"))
        return "generation_error";
    return "verification_error";
}

/* ---- the envelope ---- */

static char *read_all(apr_pool_t *p, FILE *f, apr_size_t *len)
{
    apr_size_t cap = 65536, n = 0;
    char *buf = apr_palloc(p, cap);

    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n == cap) {
            char *nb;
            if (cap >= ENVELOPE_MAX)
                return NULL;
            nb = apr_palloc(p, cap * 2);
            memcpy(nb, buf, n);
            buf = nb;
            cap *= 2;
        }
    }
    if (ferror(f))
        return NULL;
    *len = n;
    return buf;
}

static result_t dispatch(apr_pool_t *p, const char *text, apr_size_t len, const char **opname)
{
    const char *err = NULL, *op;
    json_object *req, *schema, *in;

    *opname = "?";
    req = mpp_json_parse(p, text, len, ENVELOPE_MAX, ENVELOPE_DEPTH, &err);
    if (!req || !json_object_is_type(req, json_type_object))
        return fail("unknown_error", apr_pstrcat(p, "request is not a JSON object: ",
                                                 err ? err : "wrong type", NULL));
    if (!json_object_object_get_ex(req, "schema", &schema)
        || !json_object_is_type(schema, json_type_int)
        || json_object_get_int64(schema) != 1)
        return fail("unknown_error", "unsupported request schema (expected 1)");
    if (member_str(req, "op", &op) != 0)
        return fail("unknown_error", "request.op is missing or not a string");
    *opname = op;
    for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        if (strcmp(ops[i].name, op))
            continue;
        if (!json_object_object_get_ex(req, "input", &in)
            || !json_object_is_type(in, json_type_object))
            return fail(input_error_type(op), "request.input is missing or not an object");
        return ops[i].fn(p, in);
    }
    return fail("unsupported_operation", apr_pstrcat(p, "operation not supported: ", op, NULL));
}

int main(void)
{
    apr_pool_t *p;
    apr_size_t len = 0;
    const char *text, *opname = "?";
    json_object *resp;
    result_t res;
    char *out;
    int rc = 0;

    if (apr_initialize() != APR_SUCCESS || apr_pool_create(&p, NULL) != APR_SUCCESS) {
        fputs("mpp-conformance: cannot initialise APR\n", stderr);
        return 1;
    }
    text = read_all(p, stdin, &len);
    res = text ? dispatch(p, text, len, &opname)
               : fail("unknown_error", "cannot read the request from stdin");

    resp = mpp_json_pool_own(p, json_object_new_object());
    json_object_object_add(resp, "ok", json_object_new_boolean(res.ok));
    if (res.ok) {
        json_object_object_add(resp, "value", res.value);
    }
    else {
        json_object *e = json_object_new_object();
        add_str(e, "type", res.type);
        add_str(e, "message", res.message);
        json_object_object_add(resp, "error", e);
        fprintf(stderr, "mpp-conformance: %s: %s: %s\n", opname, res.type, res.message);
    }
    out = mpp_jcs(p, resp);
    if (fputs(out, stdout) == EOF || fputc('\n', stdout) == EOF || fflush(stdout) == EOF) {
        fputs("mpp-conformance: cannot write the response\n", stderr);
        rc = 1;
    }
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
