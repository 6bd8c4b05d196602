/* WWW-Authenticate: every Payment challenge of a header value
 * (mpp_challenge_parse_list), the request JSON inside, and the Payment-Receipt
 * header a client reads next to it. Invariants: a challenge that can be
 * formatted again parses back to the same fields; its id binding input is
 * stable; a receipt that parses formats and parses back unchanged. */
#include "fuzz.h"

#include <apr_strings.h>

#include "mpp_challenge.h"
#include "mpp_json.h"
#include "mpp_limits.h"
#include "mpp_receipt.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static void check_challenge(apr_pool_t *p, const mpp_challenge_t *c)
{
    static const unsigned char key[32] = "fuzz-fuzz-fuzz-fuzz-fuzz-fuzz-k";
    const char *err = NULL, *wire, *id;
    mpp_challenge_t back;

    FUZZ_ASSERT(c->id && *c->id && c->realm && c->method && *c->method && c->intent && *c->intent
                && c->request && c->request_obj, "a required field is missing after a successful parse");
    FUZZ_ASSERT(json_object_is_type(c->request_obj, json_type_object), "request is not an object");
    id = mpp_challenge_compute_id(p, key, sizeof(key), c);
    FUZZ_ASSERT(strlen(id) == 43, "challenge id of %zu chars", strlen(id));
    mpp_jcs_b64url(p, c->request_obj);

    /* values with controls or invalid UTF-8 are refused by the writer */
    if (!(wire = mpp_challenge_format(p, c, &err))) return;
    /* \uXXXX escapes may grow a value past what the reader takes */
    if (strlen(wire) > MPP_MAX_CHALLENGE_HDR) return;
    FUZZ_ASSERT(mpp_challenge_parse(p, wire, &back, &err) == 0, "own output refused (%s): %s", err, wire);
    FUZZ_ASSERT(same(c->id, back.id) && same(c->realm, back.realm) && same(c->method, back.method)
                && same(c->intent, back.intent) && same(c->request, back.request)
                && same(c->expires, back.expires) && same(c->digest, back.digest)
                && same(c->description, back.description) && same(c->opaque, back.opaque),
                "format/parse changed a field: %s", wire);
    FUZZ_ASSERT(!strcmp(mpp_challenge_compute_id(p, key, sizeof(key), &back), id), "id changed");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const char *hdr = fuzz_str(p, data, size), *err = NULL;
    apr_array_header_t *l = mpp_challenge_parse_list(p, hdr, &err);

    if (l) {
        FUZZ_ASSERT(l->nelts > 0, "an empty list instead of an error");
        for (int i = 0; i < l->nelts; i++)
            check_challenge(p, &APR_ARRAY_IDX(l, i, mpp_challenge_t));
    }
    else FUZZ_ASSERT(err != NULL, "refused without a reason");

    {
        json_object *r = mpp_receipt_parse(p, hdr, &err);
        if (r) {
            const char *wire = mpp_receipt_format(p, r, &err);
            json_object *r2;
            FUZZ_ASSERT(wire, "a parsed receipt cannot be formatted: %s", err);
            r2 = mpp_receipt_parse(p, wire, &err);
            FUZZ_ASSERT(r2 && !strcmp(mpp_jcs(p, r), mpp_jcs(p, r2)), "receipt round trip changed it");
        }
    }
    fuzz_end();
    return 0;
}
