/* The strict JSON reader (mpp_json_parse) and JCS (RFC 8785) output on
 * everything it accepts. Invariants: JCS output is accepted again and is a
 * fixed point (JCS(parse(JCS(x))) == JCS(x)), it is valid UTF-8, every
 * number's ECMAScript form reads back to the same double, and the base64url
 * entry point agrees with the plain one. */
#include "fuzz.h"

#include <json-c/json.h>
#include <math.h>

#include "mpp_b64.h"
#include "mpp_json.h"
#include "mpp_limits.h"
#include "mpp_utf8.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

static void check_numbers(apr_pool_t *p, json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_double: {
        double d = json_object_get_double(o);
        const char *es = mpp_json_number_es(p, d);
        char *end;
        double back = strtod(es, &end);
        FUZZ_ASSERT(isfinite(d), "non-finite double accepted");
        FUZZ_ASSERT(*end == '\0' && back == d, "number %.17g printed as %s", d, es);
        break;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            check_numbers(p, json_object_array_get_idx(o, i));
        break;
    case json_type_object: {
        json_object_object_foreach(o, k, v) {
            FUZZ_ASSERT(mpp_utf8_valid((const unsigned char *)k, strlen(k)), "key is not UTF-8");
            check_numbers(p, v);
        }
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const char *text = fuzz_str(p, data, size), *err = NULL;
    /* the limits of credentials and requests */
    json_object *o = mpp_json_parse(p, text, size, MPP_MAX_JSON, MPP_MAX_JSON_DEPTH, &err);

    FUZZ_ASSERT(o || err, "refused without a reason");
    if (o) {
        const char *jcs = mpp_jcs(p, o), *jcs2, *err2 = NULL;
        size_t n = strlen(jcs);
        json_object *o2;

        FUZZ_ASSERT(mpp_utf8_valid((const unsigned char *)jcs, n), "JCS output is not UTF-8");
        check_numbers(p, o);
        /* JCS never adds whitespace or escapes beyond \uXXXX for controls:
         * at most 6 bytes for one input byte */
        FUZZ_ASSERT(n <= 6 * size + 64, "JCS of %zu bytes is %zu bytes", size, n);
        o2 = mpp_json_parse(p, jcs, n, 8 * MPP_MAX_JSON, MPP_MAX_JSON_DEPTH, &err2);
        FUZZ_ASSERT(o2, "JCS output refused (%s): %s", err2, jcs);
        jcs2 = mpp_jcs(p, o2);
        FUZZ_ASSERT(!strcmp(jcs, jcs2), "JCS is not a fixed point:\n  %s\n  %s", jcs, jcs2);

        /* the base64url door (requests, opaque values) sees the same JSON */
        if (json_object_is_type(o, json_type_object)) {
            const char *b64 = mpp_b64url_encode(p, data, size);
            json_object *o3 = mpp_json_from_b64url(p, b64, MPP_MAX_JSON, MPP_MAX_JSON_DEPTH, &err2);
            FUZZ_ASSERT(o3, "base64url form refused: %s", err2);
            FUZZ_ASSERT(!strcmp(mpp_jcs(p, o3), jcs), "base64url form parsed differently");
            FUZZ_ASSERT(!strcmp(mpp_jcs_b64url(p, o), mpp_b64url_encode(p, (const unsigned char *)jcs, n)),
                        "mpp_jcs_b64url differs from base64url(JCS)");
        }
    }
    /* the deeper and larger limits of JSON-RPC answers */
    mpp_json_parse(p, text, size, 4 * 1024 * 1024, 64, &err);
    fuzz_end();
    return 0;
}
