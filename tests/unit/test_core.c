/* Unit tests of the protocol core: encodings, JSON/JCS, challenge binding,
 * credentials, receipts, problems, configuration model and verification. */
#include <apr_hash.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <json-c/json.h>
#include <string.h>
#include <time.h>

#include "mpp_accept.h"
#include "mpp_addr.h"
#include "mpp_amount.h"
#include "mpp_args.h"
#include "mpp_b64.h"
#include "mpp_challenge.h"
#include "mpp_credential.h"
#include "mpp_crypto.h"
#include "mpp_digest.h"
#include "mpp_json.h"
#include "mpp_limits.h"
#include "mpp_method.h"
#include "mpp_model.h"
#include "mpp_problem.h"
#include "mpp_receipt.h"
#include "mpp_time.h"
#include "mpp_verify.h"

#include "mpp_u256.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tests.h"

/* ------------------------------------------------------------------ */
/* fixture and helpers                                                 */

static apr_pool_t *tp;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&tp, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(tp);
    tp = NULL;
}

static TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    return tc;
}

/* Strict-parse a JSON text that the test knows to be valid. */
static json_object *J(const char *text)
{
    const char *err = NULL;
    json_object *o = mpp_json_parse(tp, text, strlen(text), MPP_MAX_JSON, MPP_MAX_JSON_DEPTH, &err);
    ck_assert_msg(o != NULL, "parse of %s failed: %s", text, err ? err : "?");
    return o;
}

/* Parse error for a JSON text (NULL when it parsed). */
static const char *jerr(const char *text, apr_size_t len, apr_size_t max_len, int depth)
{
    const char *err = NULL;
    json_object *o = mpp_json_parse(tp, text, len, max_len, depth, &err);
    if (o)
        return NULL;
    ck_assert_ptr_nonnull(err);
    return err;
}

static int json_ok(const char *text)
{
    return jerr(text, strlen(text), MPP_MAX_JSON, MPP_MAX_JSON_DEPTH) == NULL;
}

static const char *jcs_of(const char *text)
{
    return mpp_jcs(tp, J(text));
}

/* base64url(JCS(text)): a request or opaque param value. */
static const char *req_b64(const char *json)
{
    return mpp_jcs_b64url(tp, J(json));
}

static char *b64s(const char *s)
{
    return mpp_b64url_encode(tp, (const unsigned char *)s, strlen(s));
}

static int b64dec(const char *s, const char **out, apr_size_t *outlen)
{
    unsigned char *o = NULL;
    int rc = mpp_b64url_decode(tp, s, strlen(s), &o, outlen);
    *out = (const char *)o;
    return rc;
}

static apr_array_header_t *W(const char *line)
{
    const char *err = NULL;
    apr_array_header_t *w = mpp_args_split(tp, line, &err);
    ck_assert_msg(w != NULL, "split of %s failed: %s", line, err ? err : "?");
    return w;
}

static const char *id_for(const char *key, const mpp_challenge_t *c)
{
    return mpp_challenge_compute_id(tp, (const unsigned char *)key, strlen(key), c);
}

/* ------------------------------------------------------------------ */
/* mpp_b64                                                             */

START_TEST(b64_rfc4648_vectors)
{
    static const char *const in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    static const char *const url[] = { "", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy" };
    static const char *const std[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };

    for (int i = 0; i < 7; i++) {
        const unsigned char *d = (const unsigned char *)in[i];
        const char *dec;
        apr_size_t n;
        ck_assert_str_eq(mpp_b64url_encode(tp, d, strlen(in[i])), url[i]);
        ck_assert_str_eq(mpp_b64std_encode(tp, d, strlen(in[i])), std[i]);
        ck_assert_int_eq(b64dec(url[i], &dec, &n), 0);
        ck_assert_uint_eq(n, strlen(in[i]));
        ck_assert_mem_eq(dec, in[i], n);
        ck_assert_int_eq(dec[n], '\0'); /* NUL-terminated, not counted */
    }
}
END_TEST

START_TEST(b64_url_alphabet)
{
    /* 0xfb 0xff uses the two alphabet-specific digits */
    static const unsigned char d[] = { 0xfb, 0xff, 0xbf };
    const char *dec;
    apr_size_t n;

    ck_assert_str_eq(mpp_b64url_encode(tp, d, 3), "-_-_");
    ck_assert_str_eq(mpp_b64std_encode(tp, d, 3), "+/+/");
    ck_assert_str_eq(mpp_b64url_encode(tp, d, 2), "-_8");
    ck_assert_str_eq(mpp_b64std_encode(tp, d, 2), "+/8=");
    ck_assert_int_eq(b64dec("-_-_", &dec, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(dec, d, 3);
}
END_TEST

START_TEST(b64_round_trip_all_lengths)
{
    unsigned char buf[300];
    for (int i = 0; i < (int)sizeof(buf); i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    for (apr_size_t len = 0; len <= sizeof(buf); len++) {
        char *e = mpp_b64url_encode(tp, buf, len);
        unsigned char *d = NULL;
        apr_size_t n = 0;
        ck_assert_ptr_null(strchr(e, '='));
        ck_assert_uint_eq(strlen(e), (len * 4 + 2) / 3);
        ck_assert_int_eq(mpp_b64url_decode(tp, e, strlen(e), &d, &n), 0);
        ck_assert_uint_eq(n, len);
        if (len)
            ck_assert_mem_eq(d, buf, len);
    }
}
END_TEST

START_TEST(b64_strict_rejects)
{
    static const char *const bad[] = {
        "Zg==",      /* padding */
        "Zm8=",
        "Zg=",
        "Zm9v+A",    /* standard alphabet */
        "Zm9v/A",
        "Zm9v YmFy", /* whitespace */
        "Zm9vYmFy\n",
        " Zm9v",
        "Zm9v\tYg",
        "Zm9vY",     /* length % 4 == 1, even with zero leftover bits */
        "Z",
        "A",
        "Zm9vA",
        "AAAAA",
        "Zh",        /* non-zero trailing bits ("Zg" is canonical) */
        "Zm9",       /* "Zm8" is canonical */
        "Zm9vYh",
        "Zm9v*g",
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *dec;
        apr_size_t n;
        ck_assert_msg(b64dec(bad[i], &dec, &n) == -1, "accepted '%s'", bad[i]);
    }
}
END_TEST

START_TEST(b64_decode_uses_length_not_nul)
{
    unsigned char *d;
    apr_size_t n;
    /* only the first inlen bytes count; a '=' after them is not read */
    ck_assert_int_eq(mpp_b64url_decode(tp, "Zm9v==", 4, &d, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_mem_eq(d, "foo", 3);
    /* an embedded NUL is not a base64url character */
    ck_assert_int_eq(mpp_b64url_decode(tp, "Zm\0v", 4, &d, &n), -1);
}
END_TEST

static int u8(const char *s)
{
    return mpp_utf8_valid((const unsigned char *)s, strlen(s));
}

START_TEST(utf8_validation)
{
    /* valid: ASCII, 2/3/4-byte forms and the edges of the ranges */
    ck_assert_int_eq(u8(""), 1);
    ck_assert_int_eq(u8("plain ascii \x7f"), 1);
    ck_assert_int_eq(u8("caf\xc3\xa9"), 1);
    ck_assert_int_eq(u8("\xc2\x80"), 1);             /* U+0080 */
    ck_assert_int_eq(u8("\xe2\x82\xac"), 1);         /* U+20AC */
    ck_assert_int_eq(u8("\xe0\xa0\x80"), 1);         /* U+0800 */
    ck_assert_int_eq(u8("\xed\x9f\xbf"), 1);         /* U+D7FF */
    ck_assert_int_eq(u8("\xee\x80\x80"), 1);         /* U+E000 */
    ck_assert_int_eq(u8("\xef\xbf\xbf"), 1);         /* U+FFFF */
    ck_assert_int_eq(u8("\xf0\x90\x80\x80"), 1);     /* U+10000 */
    ck_assert_int_eq(u8("\xf0\x9f\x98\x80"), 1);     /* U+1F600 */
    ck_assert_int_eq(u8("\xf4\x8f\xbf\xbf"), 1);     /* U+10FFFF */

    /* overlongs */
    ck_assert_int_eq(u8("\xc0\x80"), 0);
    ck_assert_int_eq(u8("\xc1\xbf"), 0);
    ck_assert_int_eq(u8("\xe0\x80\x80"), 0);
    ck_assert_int_eq(u8("\xe0\x9f\xbf"), 0);
    ck_assert_int_eq(u8("\xf0\x80\x80\x80"), 0);
    ck_assert_int_eq(u8("\xf0\x8f\xbf\xbf"), 0);
    /* surrogates */
    ck_assert_int_eq(u8("\xed\xa0\x80"), 0);         /* U+D800 */
    ck_assert_int_eq(u8("\xed\xbf\xbf"), 0);         /* U+DFFF */
    ck_assert_int_eq(u8("\xed\xa0\xbd\xed\xb8\x80"), 0); /* CESU-8 pair */
    /* above U+10FFFF */
    ck_assert_int_eq(u8("\xf4\x90\x80\x80"), 0);
    ck_assert_int_eq(u8("\xf5\x80\x80\x80"), 0);
    ck_assert_int_eq(u8("\xf8\x88\x80\x80\x80"), 0);
    ck_assert_int_eq(u8("\xff"), 0);
    /* truncated and stray continuation bytes */
    ck_assert_int_eq(u8("\xc3"), 0);
    ck_assert_int_eq(u8("\xe2\x82"), 0);
    ck_assert_int_eq(u8("\xf0\x9f\x98"), 0);
    ck_assert_int_eq(u8("a\xe2\x82" "b"), 0);
    ck_assert_int_eq(u8("\x80"), 0);
    ck_assert_int_eq(u8("a\xbf"), 0);
    /* length bounds the scan: a sequence cut by len is truncated */
    ck_assert_int_eq(mpp_utf8_valid((const unsigned char *)"\xe2\x82\xac", 2), 0);
    ck_assert_int_eq(mpp_utf8_valid((const unsigned char *)"\xe2\x82\xac", 3), 1);
}
END_TEST

Suite *suite_b64(void)
{
    Suite *s = suite_create("b64");
    TCase *tc = tcase("b64");
    tcase_add_test(tc, b64_rfc4648_vectors);
    tcase_add_test(tc, b64_url_alphabet);
    tcase_add_test(tc, b64_round_trip_all_lengths);
    tcase_add_test(tc, b64_strict_rejects);
    tcase_add_test(tc, b64_decode_uses_length_not_nul);
    tcase_add_test(tc, utf8_validation);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_json: strict parsing                                            */

START_TEST(json_accepts_nested_and_null_members)
{
    json_object *o = J(" {\"a\": {\"b\": [1, 2, {\"c\": null}], \"d\": true}, \"e\": null,"
                       " \"f\": \"x\", \"g\": [], \"h\": {}, \"i\": -1.5e3, \"j\": false}\n");
    json_object *a, *b, *e, *c;

    ck_assert(json_object_is_type(o, json_type_object));
    ck_assert(json_object_object_get_ex(o, "a", &a));
    ck_assert(json_object_object_get_ex(a, "b", &b));
    ck_assert_uint_eq(json_object_array_length(b), 3);
    ck_assert(json_object_object_get_ex(json_object_array_get_idx(b, 2), "c", &c));
    ck_assert_ptr_null(c);
    /* a null member is kept (present with a null value) */
    ck_assert(json_object_object_get_ex(o, "e", &e));
    ck_assert_ptr_null(e);
    ck_assert_int_eq(json_object_object_length(o), 7);
    ck_assert_str_eq(mpp_json_str(o, "f"), "x");
    ck_assert_ptr_null(mpp_json_str(o, "e"));
    ck_assert_ptr_null(mpp_json_str(o, "a"));
    ck_assert_ptr_null(mpp_json_str(o, "missing"));
    ck_assert_str_eq(mpp_jcs(tp, o),
                     "{\"a\":{\"b\":[1,2,{\"c\":null}],\"d\":true},\"e\":null,\"f\":\"x\",\"g\":[],"
                     "\"h\":{},\"i\":-1500,\"j\":false}");
    ck_assert(json_ok("[]"));
    ck_assert(json_ok("[null]"));
    ck_assert(json_ok("\"\\u00e9\\ud83d\\ude00\""));
}
END_TEST

START_TEST(json_rejects_duplicate_keys)
{
    ck_assert_ptr_nonnull(jerr("{\"a\":1,\"a\":2}", 13, 1000, 16));
    ck_assert(!json_ok("{\"a\":1,\"b\":{\"x\":1,\"x\":1}}"));
    /* the same key spelled with an escape is still a duplicate */
    ck_assert(!json_ok("{\"a\":1,\"\\u0061\":2}"));
    ck_assert(!json_ok("{\"a\":null,\"a\":null}"));
    /* equal keys in different objects are fine */
    ck_assert(json_ok("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"));
}
END_TEST

START_TEST(json_depth_limit)
{
    char deep[64];
    /* depth counts containers: 16 nested arrays pass a limit of 16, 17 fail */
    memset(deep, '[', 16);
    memset(deep + 16, ']', 16);
    ck_assert_ptr_null(jerr(deep, 32, 1000, 16));
    memset(deep, '[', 17);
    memset(deep + 17, ']', 17);
    ck_assert_ptr_nonnull(jerr(deep, 34, 1000, 16));
    ck_assert_ptr_null(jerr("{\"a\":{\"b\":{}}}", 14, 1000, 3));
    ck_assert_ptr_nonnull(jerr("{\"a\":{\"b\":{}}}", 14, 1000, 2));
    ck_assert_ptr_nonnull(jerr("{\"a\":[{}]}", 10, 1000, 2));
}
END_TEST

START_TEST(json_size_limit)
{
    const char *t = "{\"a\":\"bcdef\"}"; /* 13 bytes */
    ck_assert_ptr_null(jerr(t, 13, 13, 16));
    ck_assert_ptr_nonnull(jerr(t, 13, 12, 16));
}
END_TEST

START_TEST(json_rejects_bad_text)
{
    static const char *const bad[] = {
        /* invalid UTF-8 inside a string, raw */
        "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xff\"", "{\"a\":\"\xe2\x82\"}",
        /* lone surrogates and NUL escapes */
        "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"", "\"\\ude00\\ud83d\"",
        "\"\\u0000\"", "{\"a\\u0000\":1}",
        /* raw control characters and bad escapes */
        "\"a\nb\"", "\"\\x41\"", "\"\\u12\"", "\"\\u12g4\"", "\"abc",
        /* trailing data */
        "{} x", "{}{}", "[1] ,", "1 2", "{\"a\":1}}",
        /* numbers */
        "01", "-01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "NaN", "Infinity", "-Infinity",
        "1e999", "-1e999", "[1e400]", "1.5.2", "--1",
        /* structure */
        "", " ", "{", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}", "{'a':1}", "[1 2]", "nul", "tru",
        "null", /* a bare null is no value for any caller */
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!json_ok(bad[i]), "accepted %s", bad[i]);
    /* a raw NUL byte counted in the length */
    ck_assert_ptr_nonnull(jerr("\"a\0b\"", 5, 100, 16));
    ck_assert_ptr_nonnull(jerr("{}\0", 3, 100, 16));
}
END_TEST

START_TEST(json_from_b64url)
{
    const char *err = NULL;
    json_object *o = mpp_json_from_b64url(tp, "eyJhbW91bnQiOiIxMDAwMDAwIn0", 1000, 16, &err);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(mpp_json_str(o, "amount"), "1000000");
    ck_assert_ptr_null(mpp_json_from_b64url(tp, "eyJhbW91bnQiOiIxMDAwMDAwIn0=", 1000, 16, &err));
    ck_assert_ptr_null(mpp_json_from_b64url(tp, b64s("[1]"), 1000, 16, &err));
    ck_assert_ptr_null(mpp_json_from_b64url(tp, b64s("\"s\""), 1000, 16, &err));
    ck_assert_ptr_null(mpp_json_from_b64url(tp, b64s("{\"a\":1,\"a\":1}"), 1000, 16, &err));
    ck_assert_ptr_null(mpp_json_from_b64url(tp, b64s("{\"a\":\"0123456789\"}"), 8, 16, &err));
}
END_TEST

/* ------------------------------------------------------------------ */
/* mpp_jcs                                                             */

START_TEST(jcs_key_order_utf16)
{
    /* RFC 8785 sorting example: UTF-16 code units, so U+1F600 (D83D DE00)
     * sorts before U+FB33, unlike UTF-8 byte order. */
    const char *in =
        "{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\","
        "\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\","
        "\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":\"Control\","
        "\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}";
    const char *want =
        "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
        "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
        "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
        "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}";
    ck_assert_str_eq(jcs_of(in), want);
    /* prefixes sort first; ASCII is plain byte order */
    ck_assert_str_eq(jcs_of("{\"ab\":1,\"a\":2,\"B\":3,\"\":4}"), "{\"\":4,\"B\":3,\"a\":2,\"ab\":1}");
    /* nested objects are sorted too; arrays keep their order */
    ck_assert_str_eq(jcs_of("{\"z\":[3,1,{\"y\":1,\"x\":2}],\"a\":{\"d\":1,\"c\":2}}"),
                     "{\"a\":{\"c\":2,\"d\":1},\"z\":[3,1,{\"x\":2,\"y\":1}]}");
}
END_TEST

START_TEST(jcs_string_escaping)
{
    /* only '"', '\' and controls are escaped; '/', DEL, U+2028 and
     * non-ASCII are raw; controls without a short form are \u00xx */
    const char *want = "{\"s\":\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f"
                       "\x7f\xe2\x80\xa8\xc3\xa9\xf0\x9f\x98\x80\"}";
    json_object *o;

    ck_assert_str_eq(jcs_of("{\"s\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u0001\\u001F\\u007f"
                            "\\u2028\\u00e9\\ud83d\\ude00\"}"), want);
    /* the same from a string built in C (raw bytes in, escapes out) */
    o = mpp_json_pool_own(tp, json_object_new_object());
    json_object_object_add(o, "s", json_object_new_string(
        "a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f\xe2\x80\xa8\xc3\xa9\xf0\x9f\x98\x80"));
    ck_assert_str_eq(mpp_jcs(tp, o), want);
    /* other controls without a short form */
    ck_assert_str_eq(jcs_of("\"\\u000b\\u000e\\u0010\\u001a\\u0007\""),
                     "\"\\u000b\\u000e\\u0010\\u001a\\u0007\"");
}
END_TEST

START_TEST(jcs_html_raw)
{
    ck_assert_str_eq(jcs_of("{\"d\":\"Access <premium> & 'analytics' \\u003cb\\u003e\"}"),
                     "{\"d\":\"Access <premium> & 'analytics' <b>\"}");
}
END_TEST

START_TEST(jcs_numbers)
{
    ck_assert_str_eq(jcs_of("[1e21,1e-7,0.000001,4.5e-5,100,-0,123.456,1.5e300]"),
                     "[1e+21,1e-7,0.000001,0.000045,100,0,123.456,1.5e+300]");
    ck_assert_str_eq(jcs_of("[-0.0,1E2,1.0,0.5e1,-1e-7,1e20,18446744073709551616,42431]"),
                     "[0,100,1,5,-1e-7,100000000000000000000,18446744073709552000,42431]");
    ck_assert_str_eq(jcs_of("{\"chainId\":8453,\"decimals\":6,\"neg\":-9007199254740991}"),
                     "{\"chainId\":8453,\"decimals\":6,\"neg\":-9007199254740991}");
}
END_TEST

START_TEST(jcs_number_es_direct)
{
    static const struct { double d; const char *s; } v[] = {
        { 1e21, "1e+21" }, { 1e-7, "1e-7" }, { 0.000001, "0.000001" }, { 4.5e-5, "0.000045" },
        { 100, "100" }, { -0.0, "0" }, { 0.0, "0" }, { 123.456, "123.456" },
        { 1.5e300, "1.5e+300" }, { 1e20, "100000000000000000000" },
        { 123456789012345680000.0, "123456789012345680000" }, { 0.1, "0.1" },
        { -1.5, "-1.5" }, { 0.1 + 0.2, "0.30000000000000004" }, { 1.23e-18, "1.23e-18" },
        { 5e-324, "5e-324" }, { 1.7976931348623157e308, "1.7976931348623157e+308" },
        { -1e21, "-1e+21" }, { 1e-6, "0.000001" }, { 1.5e-7, "1.5e-7" },
        { 9007199254740992.0, "9007199254740992" }, { 333333333.33333329, "333333333.3333333" },
        { 2e-7, "2e-7" }, { 1.2e21, "1.2e+21" },
    };
    for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        ck_assert_str_eq(mpp_json_number_es(tp, v[i].d), v[i].s);
}
END_TEST

START_TEST(jcs_b64url_form)
{
    /* the request param of the HMAC vectors */
    ck_assert_str_eq(req_b64("{ \"amount\" : \"1000000\" }"), "eyJhbW91bnQiOiIxMDAwMDAwIn0");
    ck_assert_str_eq(req_b64("{}"), "e30");
    ck_assert_str_eq(req_b64("{\"pi\":\"pi_3abc123XYZ\",\"deposit\":\"dep_456\"}"),
                     "eyJkZXBvc2l0IjoiZGVwXzQ1NiIsInBpIjoicGlfM2FiYzEyM1hZWiJ9");
    ck_assert_str_eq(req_b64("{\"_mppx_scope\":\"GET /api/v1/alpha\"}"),
                     "eyJfbXBweF9zY29wZSI6IkdFVCAvYXBpL3YxL2FscGhhIn0");
}
END_TEST

/* The per-thread key cache gives what one-shot HMAC gives, for more keys
 * than it keeps (evictions), keys longer than a block, and the empty key. */
START_TEST(hmac_cache_matches_one_shot)
{
    unsigned char keys[6][100], msg[300], a[32], b[32];
    apr_size_t lens[6] = { 32, 48, 64, 65, 100, 1 };
    unsigned int n = 32;
    for (int k = 0; k < 6; k++)
        for (apr_size_t i = 0; i < lens[k]; i++) keys[k][i] = (unsigned char)(k * 31 + i);
    for (apr_size_t i = 0; i < sizeof(msg); i++) msg[i] = (unsigned char)(i * 7);
    for (int round = 0; round < 50; round++) {
        int k = (round * 5) % 6;
        apr_size_t len = (apr_size_t)(round * 13) % sizeof(msg);
        mpp_hmac_sha256(keys[k], lens[k], msg, len, a);
        HMAC(EVP_sha256(), keys[k], (int)lens[k], msg, len, b, &n);
        ck_assert_mem_eq(a, b, 32);
    }
    /* RFC 4231 test case 2 */
    mpp_hmac_sha256((const unsigned char *)"Jefe", 4, (const unsigned char *)"what do ya want for nothing?", 28, a);
    ck_assert_str_eq(mpp_hex_encode(tp, a, 32) + 2,
                     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}
END_TEST

/* The JCS writer's hand-built siblings (problem bodies, opaque values) are
 * the JCS of the same objects. */
START_TEST(hand_built_json_is_jcs)
{
    const char *detail = "a \"quoted\" \\ detail\n\x01 \xc3\xa9";
    char *body = mpp_problem_json(tp, MPP_P_VERIFICATION_FAILED, detail, "hint", "cid");
    json_object *o = J(body);
    ck_assert_str_eq(mpp_jcs(tp, o), body);
    ck_assert_str_eq(mpp_json_str(o, "detail"), detail);
    body = mpp_problem_json(tp, MPP_P_PAYMENT_REQUIRED, NULL, NULL, NULL);
    ck_assert_str_eq(mpp_jcs(tp, J(body)), body);
    ck_assert_str_eq(mpp_json_quote(tp, "\x7f\x1f\"\\/"), "\"\x7f\\u001f\\\"\\\\/\"");
}
END_TEST

Suite *suite_json(void)
{
    Suite *s = suite_create("json");
    TCase *tc = tcase("parse");
    tcase_add_test(tc, json_accepts_nested_and_null_members);
    tcase_add_test(tc, json_rejects_duplicate_keys);
    tcase_add_test(tc, json_depth_limit);
    tcase_add_test(tc, json_size_limit);
    tcase_add_test(tc, json_rejects_bad_text);
    tcase_add_test(tc, json_from_b64url);
    suite_add_tcase(s, tc);
    tc = tcase("jcs");
    tcase_add_test(tc, jcs_key_order_utf16);
    tcase_add_test(tc, jcs_string_escaping);
    tcase_add_test(tc, hmac_cache_matches_one_shot);
    tcase_add_test(tc, hand_built_json_is_jcs);
    tcase_add_test(tc, jcs_html_raw);
    tcase_add_test(tc, jcs_numbers);
    tcase_add_test(tc, jcs_number_es_direct);
    tcase_add_test(tc, jcs_b64url_form);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_challenge: HMAC binding                                         */

#define REQ_V1 "eyJhbW91bnQiOiIxMDAwMDAwIn0"
#define EXP_V "2025-01-06T12:00:00Z"
#define DIG_V "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE"
#define OPQ_PI "eyJwaSI6InBpXzNhYmMxMjNYWVoifQ"

static mpp_challenge_t ch(const char *realm, const char *method, const char *intent,
                          const char *request, const char *expires, const char *digest,
                          const char *opaque)
{
    mpp_challenge_t c;
    memset(&c, 0, sizeof(c));
    c.realm = realm;
    c.method = method;
    c.intent = intent;
    c.request = request;
    c.expires = expires;
    c.digest = digest;
    c.opaque = opaque;
    return c;
}

START_TEST(challenge_id_vectors)
{
    /* the 15 HMAC vectors, key "test-vector-secret" */
    static const struct {
        const char *realm, *method, *intent, *request_json, *expires, *digest,
                   *opaque_json, *description, *id;
    } v[] = {
        /* V1 */ { "api.example.com", "tempo", "charge", "{\"amount\":\"1000000\"}", NULL, NULL, NULL, NULL,
                   "X6v1eo7fJ76gAxqY0xN9Jd__4lUyDDYmriryOM-5FO4" },
        /* V2 */ { "api.example.com", "tempo", "charge", "{\"amount\":\"1000000\"}", EXP_V, NULL, NULL, NULL,
                   "ChPX33RkKSZoSUyZcu8ai4hhkvjZJFkZVnvWs5s0iXI" },
        /* V3 */ { "api.example.com", "tempo", "charge", "{\"amount\":\"1000000\"}", NULL, DIG_V, NULL, NULL,
                   "JHB7EFsPVb-xsYCo8LHcOzeX1gfXWVoUSzQsZhKAfKM" },
        /* V4 */ { "api.example.com", "tempo", "charge", "{\"amount\":\"1000000\"}", EXP_V, DIG_V, NULL, NULL,
                   "m39jbWWCIfmfJZSwCfvKFFtBl0Qwf9X4nOmDb21peLA" },
        /* V5 */ { "api.example.com", "tempo", "charge", "{\"amount\":\"1000000\"}", NULL, NULL,
                   "{\"pi\":\"pi_3abc123XYZ\"}", NULL, "rxzKZ2qjXvinqCH96RORTZEPs1KXsA-0AUjrCAPFOWc" },
        /* V6 */ { "api.example.com", "tempo", "charge", "{\"amount\":\"1000000\"}", EXP_V, NULL,
                   "{\"pi\":\"pi_3abc123XYZ\"}", NULL, "KAfoMrA4fnzS1DPWN_cUv_b3_yHxCizdp6OhH7gluMY" },
        /* V7 */ { "api.example.com", "tempo", "charge", "{\"amount\":\"1000000\"}", NULL, NULL, NULL,
                   "Test payment", "X6v1eo7fJ76gAxqY0xN9Jd__4lUyDDYmriryOM-5FO4" },
        /* V8 */ { "api.example.com", "tempo", "charge",
                   "{\"amount\":\"1000000\",\"currency\":\"0x1234\",\"recipient\":\"0xabcd\"}", NULL, NULL,
                   NULL, NULL, "_H5TOnnlW0zduQ5OhQ3EyLVze_TqxLDPda2CGZPZxOc" },
        /* V9 */ { "api.example.com", "tempo", "charge",
                   "{\"amount\":\"1000000\",\"currency\":\"0x1234\",\"methodDetails\":{\"chainId\":42431}}",
                   NULL, NULL, NULL, NULL, "TqujwpuDDg_zsWGINAd5XObO2rRe6uYufpqvtDmr6N8" },
        /* V10 */ { "api.example.com", "tempo", "charge", "{}", NULL, NULL, NULL, NULL,
                    "yLN7yChAejW9WNmb54HpJIWpdb1WWXeA3_aCx4dxmkU" },
        /* V11 */ { "api.example.com", "tempo", "charge", "{\"amount\":\"1000000\"}", NULL, NULL, "{}", NULL,
                    "vb4IyH-0LdJ3s7L0QAw8jIzcZkyxksPhIvEfmHmzA9k" },
        /* V12 */ { "payments.other.com", "tempo", "charge", "{\"amount\":\"1000000\"}", NULL, NULL, NULL, NULL,
                    "3F5bOo2a9RUihdwKk4hGRvBvzQmVPBMDvW0YM-8GD00" },
        /* V13 */ { "api.example.com", "stripe", "charge", "{\"amount\":\"1000000\"}", NULL, NULL, NULL, NULL,
                    "o0ra2sd7HcB4Ph0Vns69gRDUhSj5WNOnUopcDqKPLz4" },
        /* V14 */ { "api.example.com", "tempo", "session", "{\"amount\":\"1000000\"}", NULL, NULL, NULL, NULL,
                    "aAY7_IEDzsznNYplhOSE8cERQxvjFcT4Lcn-7FHjLVE" },
        /* V15 */ { "api.example.com", "tempo", "charge", "{\"amount\":\"1000000\"}", NULL, NULL,
                    "{\"deposit\":\"dep_456\",\"pi\":\"pi_3abc123XYZ\"}", NULL,
                    "aKskU8sadR5ZuFbUCsIwhO-ENxuVpTw17FdwHEXsJDk" },
    };
    for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        mpp_challenge_t c = ch(v[i].realm, v[i].method, v[i].intent, req_b64(v[i].request_json),
                               v[i].expires, v[i].digest,
                               v[i].opaque_json ? req_b64(v[i].opaque_json) : NULL);
        c.description = v[i].description;
        ck_assert_msg(strcmp(id_for("test-vector-secret", &c), v[i].id) == 0,
                      "V%u: got %s want %s", i + 1, id_for("test-vector-secret", &c), v[i].id);
    }
}
END_TEST

START_TEST(challenge_binding_input)
{
    mpp_challenge_t c = ch("api.example.com", "tempo", "charge", REQ_V1, NULL, NULL, NULL);
    ck_assert_str_eq(mpp_challenge_binding_input(tp, &c), "api.example.com|tempo|charge|" REQ_V1 "|||");
    c = ch("api.example.com", "tempo", "charge", REQ_V1, EXP_V, DIG_V, NULL);
    ck_assert_str_eq(mpp_challenge_binding_input(tp, &c),
                     "api.example.com|tempo|charge|" REQ_V1 "|" EXP_V "|" DIG_V "|");
    c = ch("api.example.com", "tempo", "charge", REQ_V1, EXP_V, NULL, OPQ_PI);
    c.description = "not bound";
    ck_assert_str_eq(mpp_challenge_binding_input(tp, &c),
                     "api.example.com|tempo|charge|" REQ_V1 "|" EXP_V "||" OPQ_PI);
    /* the optional header slot goes before opaque */
    c = ch("api.example.com", "tempo", "charge", REQ_V1, NULL, NULL, NULL);
    c.header = "Payment-Authorization";
    ck_assert_str_eq(mpp_challenge_binding_input(tp, &c),
                     "api.example.com|tempo|charge|" REQ_V1 "|||Payment-Authorization|");
    c.header = "Authorization";
    ck_assert_str_eq(mpp_challenge_binding_input(tp, &c), "api.example.com|tempo|charge|" REQ_V1 "|||");
}
END_TEST

START_TEST(challenge_id_conformance_rows)
{
    const char *k32 = "test-vector-secret-minimum-32-byte-secret";
    mpp_challenge_t c = ch("api.example.com", "tempo", "charge", REQ_V1, NULL, NULL, NULL);

    ck_assert_str_eq(id_for(k32, &c), "6QDs0BmhrI_v67iWeCMvGqQJEFQ6ErWKlk7zi5xL6t0");
    /* opaque is a raw slot: not necessarily base64url JSON */
    c.opaque = "trace-123";
    ck_assert_str_eq(id_for(k32, &c), "1XJ-Ti0DACNe3E1zHvwH6OdnKlhUx6xKxDbhJyexng4");

    c = ch("api.example.com", "tempo", "charge",
           req_b64("{\"amount\":\"1500\",\"currency\":\"USD\",\"description\":\"Access <premium> & analytics\","
                   "\"recipient\":\"merchant\"}"), NULL, NULL, NULL);
    ck_assert_str_eq(id_for(k32, &c), "iU2QdYw_u-prmGZWxm58jeBakeYE-ib_u77f9vcW76E");

    c = ch("api.example.com", "tempo", "charge",
           req_b64("{\"amount\":\"100\",\"currency\":\"EUR\","
                   "\"recipient\":\"0x1111111111111111111111111111111111111111\","
                   "\"description\":\"Payment for caf\xc3\xa9 \xe2\x98\x95\"}"), NULL, NULL, NULL);
    ck_assert_str_eq(id_for("unicode-test-key-minimum-32-byte-secret", &c),
                     "-UB9jxfPEvTmFw7qvLmqJhDZ-lJ-noCp15ROxPHC4BE");

    /* server-verification rows, key "secret-key" */
    c = ch("api.example.com", "tempo", "charge",
           req_b64("{\"amount\":\"100\",\"currency\":\"0xabc\",\"recipient\":\"0xdef\"}"),
           "2099-01-01T00:00:00Z", NULL, NULL);
    ck_assert_str_eq(c.request, "eyJhbW91bnQiOiIxMDAiLCJjdXJyZW5jeSI6IjB4YWJjIiwicmVjaXBpZW50IjoiMHhkZWYifQ");
    ck_assert_str_eq(mpp_challenge_binding_input(tp, &c),
                     "api.example.com|tempo|charge|"
                     "eyJhbW91bnQiOiIxMDAiLCJjdXJyZW5jeSI6IjB4YWJjIiwicmVjaXBpZW50IjoiMHhkZWYifQ"
                     "|2099-01-01T00:00:00Z||");
    ck_assert_str_eq(id_for("secret-key", &c), "Ip25HCkqcMaW6FT_ziOG9BT58-7_KEwkzhdUwX8tmI8");
    c.expires = "2020-01-01T00:00:00Z";
    ck_assert_str_eq(id_for("secret-key", &c), "FvOsbLHtxODU_85N-iRtmoHPXtWdslgkA-vT15rLMXo");
}
END_TEST

START_TEST(challenge_id_header_slot)
{
    const char *k32 = "test-vector-secret-minimum-32-byte-secret";
    mpp_challenge_t c = ch("api.example.com", "tempo", "charge", REQ_V1, NULL, NULL, NULL);
    c.header = "Payment-Authorization";
    ck_assert_str_eq(id_for(k32, &c), "re8MIMJYpIJ0r_aiizscg6ghtipQM8IpOa_NtpwIU8E");
    /* the default header leaves the 7-slot input unchanged */
    c.header = "Authorization";
    ck_assert_str_eq(id_for(k32, &c), "6QDs0BmhrI_v67iWeCMvGqQJEFQ6ErWKlk7zi5xL6t0");
}
END_TEST

START_TEST(challenge_id_end_to_end)
{
    const char *key = "test-secret-key-test-secret-key-32";
    mpp_challenge_t c = ch("api.example.com", "mock", "charge",
                           req_b64("{\"recipient\":\"acct_1\",\"amount\":\"1000\",\"currency\":\"usd\"}"),
                           "2099-01-01T00:00:00Z", NULL, NULL);
    c.description = "Pay \"premium\" \xe2\x80\x94 now";
    ck_assert_str_eq(c.request, "eyJhbW91bnQiOiIxMDAwIiwiY3VycmVuY3kiOiJ1c2QiLCJyZWNpcGllbnQiOiJhY2N0XzEifQ");
    ck_assert_str_eq(mpp_challenge_binding_input(tp, &c),
                     "api.example.com|mock|charge|"
                     "eyJhbW91bnQiOiIxMDAwIiwiY3VycmVuY3kiOiJ1c2QiLCJyZWNpcGllbnQiOiJhY2N0XzEifQ"
                     "|2099-01-01T00:00:00Z||");
    ck_assert_str_eq(id_for(key, &c), "tDKs9tMAtkwQ-DwXLEz1ouw9yFraxrK2K0d5fb_g5EY");

    /* E2: evm/charge on Base, request given as its JCS text */
    {
        const char *e2 =
            "{\"amount\":\"10000\",\"currency\":\"0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913\","
            "\"externalId\":\"order-42\",\"methodDetails\":{\"chainId\":8453,"
            "\"credentialTypes\":[\"authorization\"],\"decimals\":6},"
            "\"recipient\":\"0x742d35Cc6634c0532925a3b844bC9e7595F8fE00\"}";
        ck_assert_str_eq(jcs_of(e2), e2);
        c = ch("api.example.com", "evm", "charge", b64s(e2), "2099-01-01T00:00:00Z", NULL, NULL);
        ck_assert_str_eq(id_for(key, &c), "wyhGJvegEx9s6AZmB1C5PfOEvf6npWhq-flEBZU8OO4");
    }
}
END_TEST

START_TEST(challenge_id_sensitivity)
{
    /* every bound field changes the id; description does not */
    const char *key = "0123456789abcdef0123456789abcdef";
    mpp_challenge_t base = ch("r", "m", "charge", REQ_V1, EXP_V, DIG_V, OPQ_PI), c;
    const char *id0 = id_for(key, &base);

    c = base; c.description = "anything";
    ck_assert_str_eq(id_for(key, &c), id0);
    c = base; c.realm = "r2";
    ck_assert_str_ne(id_for(key, &c), id0);
    c = base; c.method = "n";
    ck_assert_str_ne(id_for(key, &c), id0);
    c = base; c.intent = "session";
    ck_assert_str_ne(id_for(key, &c), id0);
    c = base; c.request = "e30";
    ck_assert_str_ne(id_for(key, &c), id0);
    c = base; c.expires = NULL;
    ck_assert_str_ne(id_for(key, &c), id0);
    c = base; c.digest = NULL;
    ck_assert_str_ne(id_for(key, &c), id0);
    c = base; c.opaque = NULL;
    ck_assert_str_ne(id_for(key, &c), id0);
    c = base;
    ck_assert_str_ne(mpp_challenge_compute_id(tp, (const unsigned char *)key, 31, &c), id0);
    ck_assert_uint_eq(strlen(id0), 43);
}
END_TEST

/* ------------------------------------------------------------------ */
/* mpp_challenge: format and parse                                     */

#define E1_ID "tDKs9tMAtkwQ-DwXLEz1ouw9yFraxrK2K0d5fb_g5EY"
#define E1_REQ "eyJhbW91bnQiOiIxMDAwIiwiY3VycmVuY3kiOiJ1c2QiLCJyZWNpcGllbnQiOiJhY2N0XzEifQ"
#define E1_LINE "Payment id=\"" E1_ID "\", realm=\"api.example.com\", method=\"mock\", " \
    "intent=\"charge\", request=\"" E1_REQ "\", description=\"Pay \\\"premium\\\" \\u2014 now\", " \
    "expires=\"2099-01-01T00:00:00Z\""

static mpp_challenge_t e1_challenge(void)
{
    mpp_challenge_t c = ch("api.example.com", "mock", "charge", E1_REQ, "2099-01-01T00:00:00Z", NULL, NULL);
    c.id = E1_ID;
    c.description = "Pay \"premium\" \xe2\x80\x94 now";
    return c;
}

START_TEST(challenge_format_e1)
{
    mpp_challenge_t c = e1_challenge();
    const char *err = NULL;
    char *h = mpp_challenge_format(tp, &c, &err);
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(h, E1_LINE);
}
END_TEST

START_TEST(challenge_format_order_and_escapes)
{
    mpp_challenge_t c = ch("r\\x", "evm", "charge", "e30", "2099-01-01T00:00:00Z", "sha-256=:abc=:", "e30");
    const char *err = NULL;
    char *h;

    c.id = "abc";
    c.description = "caf\xc3\xa9 \xf0\x9f\x98\x80\ttab";
    h = mpp_challenge_format(tp, &c, &err);
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(h, "Payment id=\"abc\", realm=\"r\\\\x\", method=\"evm\", intent=\"charge\", "
                        "request=\"e30\", description=\"caf\\u00e9 \\ud83d\\ude00\ttab\", "
                        "digest=\"sha-256=:abc=:\", expires=\"2099-01-01T00:00:00Z\", opaque=\"e30\"");
}
END_TEST

START_TEST(challenge_format_refuses_crlf)
{
    const char *err;
    mpp_challenge_t c = e1_challenge();

    c.description = "line\r\nInjected: 1";
    err = NULL;
    ck_assert_ptr_null(mpp_challenge_format(tp, &c, &err));
    ck_assert_ptr_nonnull(err);
    c = e1_challenge();
    c.description = "a\nb";
    err = NULL;
    ck_assert_ptr_null(mpp_challenge_format(tp, &c, &err));
    ck_assert_ptr_nonnull(err);
    c = e1_challenge();
    c.realm = "api.example.com\r";
    err = NULL;
    ck_assert_ptr_null(mpp_challenge_format(tp, &c, &err));
    ck_assert_ptr_nonnull(err);
    c = e1_challenge();
    c.opaque = "x\ny";
    err = NULL;
    ck_assert_ptr_null(mpp_challenge_format(tp, &c, &err));
    c = e1_challenge();
    c.description = "nul-less \x01 control";
    ck_assert_ptr_null(mpp_challenge_format(tp, &c, &err));
    c = e1_challenge();
    c.description = "bad utf-8 \xc0\x80";
    ck_assert_ptr_null(mpp_challenge_format(tp, &c, &err));
    c = e1_challenge();
    c.id = NULL;
    ck_assert_ptr_null(mpp_challenge_format(tp, &c, &err));
}
END_TEST

static apr_array_header_t *plist(const char *hdr)
{
    const char *err = NULL;
    apr_array_header_t *l = mpp_challenge_parse_list(tp, hdr, &err);
    ck_assert_msg(l != NULL, "parse of [%.200s] failed: %s", hdr, err ? err : "?");
    return l;
}

static const char *plist_err(const char *hdr)
{
    const char *err = NULL;
    apr_array_header_t *l = mpp_challenge_parse_list(tp, hdr, &err);
    ck_assert_msg(l == NULL, "parse of [%.200s] succeeded", hdr);
    ck_assert_ptr_nonnull(err);
    return err;
}

#define CH(i) APR_ARRAY_IDX(l, (i), mpp_challenge_t)

START_TEST(challenge_parse_e1)
{
    apr_array_header_t *l = plist(E1_LINE);
    ck_assert_int_eq(l->nelts, 1);
    ck_assert_str_eq(CH(0).id, E1_ID);
    ck_assert_str_eq(CH(0).realm, "api.example.com");
    ck_assert_str_eq(CH(0).method, "mock");
    ck_assert_str_eq(CH(0).intent, "charge");
    ck_assert_str_eq(CH(0).request, E1_REQ);
    ck_assert_str_eq(CH(0).description, "Pay \"premium\" \xe2\x80\x94 now");
    ck_assert_str_eq(CH(0).expires, "2099-01-01T00:00:00Z");
    ck_assert_ptr_null(CH(0).digest);
    ck_assert_ptr_null(CH(0).opaque);
    ck_assert_ptr_nonnull(CH(0).request_obj);
    ck_assert_str_eq(mpp_json_str(CH(0).request_obj, "amount"), "1000");
    /* the parsed challenge rebinds to the same id */
    ck_assert_str_eq(id_for("test-secret-key-test-secret-key-32", &CH(0)), E1_ID);
    {
        mpp_challenge_t one;
        const char *err;
        ck_assert_int_eq(mpp_challenge_parse(tp, E1_LINE, &one, &err), 0);
        ck_assert_str_eq(one.id, E1_ID);
    }
}
END_TEST

START_TEST(challenge_parse_two_in_one_value)
{
    apr_array_header_t *l = plist(E1_LINE ", Payment id=\"second\", realm=\"api.example.com\", "
                                  "method=\"other\", intent=\"charge\", request=\"e30\"");
    ck_assert_int_eq(l->nelts, 2);
    ck_assert_str_eq(CH(0).id, E1_ID);
    ck_assert_str_eq(CH(0).expires, "2099-01-01T00:00:00Z");
    ck_assert_str_eq(CH(1).id, "second");
    ck_assert_str_eq(CH(1).method, "other");
    ck_assert_str_eq(CH(1).request, "e30");
    ck_assert_ptr_null(CH(1).expires);
    ck_assert_ptr_null(CH(1).description);
}
END_TEST

START_TEST(challenge_parse_other_schemes)
{
    apr_array_header_t *l;

    l = plist("Bearer realm=\"x\", Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\"");
    ck_assert_int_eq(l->nelts, 1);
    ck_assert_str_eq(CH(0).id, "a");
    ck_assert_str_eq(CH(0).realm, "r");

    l = plist("Basic realm=\"b\", charset=\"UTF-8\", Payment id=\"a\", realm=\"r\", method=\"m\", "
              "intent=\"charge\", request=\"e30\", Negotiate, Bearer error=\"invalid_token\", "
              "Payment id=\"b\", realm=\"r2\", method=\"n\", intent=\"charge\", request=\"e30\", "
              "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\"");
    ck_assert_int_eq(l->nelts, 2);
    ck_assert_str_eq(CH(0).id, "a");
    ck_assert_str_eq(CH(1).id, "b");
    ck_assert_str_eq(CH(1).realm, "r2");
    /* a malformed foreign challenge (duplicate or excess params) is skipped,
     * not fatal to the Payment challenges around it */
    l = plist("Bearer realm=\"a\", realm=\"b\", error=\"x\", Payment id=\"a\", realm=\"r\", method=\"m\", "
              "intent=\"charge\", request=\"e30\", Digest qop=\"auth\", QOP=\"auth-int\", nonce=\"n\", "
              "Payment id=\"b\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\"");
    ck_assert_int_eq(l->nelts, 2);
    ck_assert_str_eq(CH(0).id, "a");
    ck_assert_str_eq(CH(1).id, "b");
    /* the scheme name is case-insensitive */
    l = plist("payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\"");
    ck_assert_int_eq(l->nelts, 1);
    /* no Payment challenge at all */
    plist_err("Bearer realm=\"x\", Basic realm=\"y\"");
    plist_err("");
}
END_TEST

START_TEST(challenge_parse_quoted_payment_inside_values)
{
    apr_array_header_t *l = plist(
        "Payment id=\"a\", realm=\"Payment id=\\\"evil\\\", realm=\\\"x\\\"\", method=\"m\", "
        "intent=\"charge\", description=\"x, Payment id=\\\"b\\\", method=\\\"z\\\"\", request=\"e30\"");
    ck_assert_int_eq(l->nelts, 1);
    ck_assert_str_eq(CH(0).id, "a");
    ck_assert_str_eq(CH(0).realm, "Payment id=\"evil\", realm=\"x\"");
    ck_assert_str_eq(CH(0).method, "m");
    ck_assert_str_eq(CH(0).description, "x, Payment id=\"b\", method=\"z\"");
}
END_TEST

START_TEST(challenge_parse_duplicates_and_case)
{
    apr_array_header_t *l;

    plist_err("Payment id=\"a\", id=\"b\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\"");
    plist_err("Payment id=\"a\", ID=\"b\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\"");
    plist_err("Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\", "
              "foo=1, Foo=2");
    /* names are case-insensitive, token values are accepted */
    l = plist("Payment ID=\"a\", Realm=\"r\", METHOD=m, Intent=\"charge\", reQuest=e30, EXPIRES=\"x\"");
    ck_assert_int_eq(l->nelts, 1);
    ck_assert_str_eq(CH(0).id, "a");
    ck_assert_str_eq(CH(0).realm, "r");
    ck_assert_str_eq(CH(0).method, "m");
    ck_assert_str_eq(CH(0).request, "e30");
    ck_assert_str_eq(CH(0).expires, "x");
    /* unknown params are ignored; OWS around '=' and ',' is allowed */
    l = plist("Payment  id = \"a\" ,realm=\"r\",method=\"m\" , intent=\"charge\",request=\"e30\",x-new=\"1\"");
    ck_assert_int_eq(l->nelts, 1);
    ck_assert_str_eq(CH(0).id, "a");
}
END_TEST

START_TEST(challenge_parse_missing_or_bad)
{
    /* each required param, and a request that is not base64url JSON */
    plist_err("Payment realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\"");
    plist_err("Payment id=\"\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\"");
    plist_err("Payment id=\"a\", method=\"m\", intent=\"charge\", request=\"e30\"");
    plist_err("Payment id=\"a\", realm=\"r\", intent=\"charge\", request=\"e30\"");
    plist_err("Payment id=\"a\", realm=\"r\", method=\"m\", request=\"e30\"");
    plist_err("Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\"");
    plist_err("Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30=\"");
    plist_err("Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"WzFd\"");
    /* an unterminated known param is an error */
    plist_err("Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30");
    plist_err("Payment id=\"a, realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\"");
}
END_TEST

START_TEST(challenge_parse_unicode_escapes)
{
    apr_array_header_t *l = plist(
        "Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\", "
        "description=\"caf\\u00e9 \\u2014 \\ud83d\\ude00 \\U00E9 \\x \\u12 \\u00zz\"");
    ck_assert_int_eq(l->nelts, 1);
    /* \uXXXX (either case of hex) decodes, surrogate pairs join, other \c is c */
    ck_assert_str_eq(CH(0).description,
                     "caf\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x98\x80 U00E9 x u12 u00zz");
    /* a lone surrogate escape becomes U+FFFD, never invalid UTF-8 */
    l = plist("Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\", "
              "description=\"\\ud800x\\udc00\\ud83d\"");
    ck_assert_str_eq(CH(0).description, "\xef\xbf\xbdx\xef\xbf\xbd\xef\xbf\xbd");
    /* format and parse round-trip non-ASCII */
    {
        mpp_challenge_t c = e1_challenge();
        const char *err;
        c.description = "\xc3\xa9\xe2\x98\x95\xf0\x9f\x98\x80\\\"";
        l = plist(mpp_challenge_format(tp, &c, &err));
        ck_assert_str_eq(CH(0).description, "\xc3\xa9\xe2\x98\x95\xf0\x9f\x98\x80\\\"");
    }
}
END_TEST

START_TEST(challenge_parse_backslash_flood)
{
    /* 12000 backslashes in an unterminated unknown param: linear, ignored */
    apr_size_t n = 12000;
    const char *pre = "Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\", x=\"";
    char *h = apr_palloc(tp, strlen(pre) + n + 1);
    apr_array_header_t *l;
    clock_t t0;
    double secs;

    memcpy(h, pre, strlen(pre));
    memset(h + strlen(pre), '\\', n);
    h[strlen(pre) + n] = '\0';
    ck_assert_uint_le(strlen(h), MPP_MAX_CHALLENGE_HDR);
    t0 = clock();
    for (int i = 0; i < 20; i++) {
        l = plist(h);
        ck_assert_int_eq(l->nelts, 1);
        ck_assert_str_eq(CH(0).id, "a");
        ck_assert_str_eq(CH(0).request, "e30");
    }
    /* an odd count (the last backslash escapes the end) and a flood of \" */
    h[strlen(h) - 1] = '\0';
    l = plist(h);
    ck_assert_int_eq(l->nelts, 1);
    for (apr_size_t i = 0; i < n; i += 2)
        memcpy(h + strlen(pre) + i, "\\\"", 2);
    h[strlen(pre) + n] = '\0';
    l = plist(h);
    ck_assert_int_eq(l->nelts, 1);
    secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    /* 22 linear parses of 12 KB take microseconds; a quadratic scan takes far more */
    ck_assert_msg(secs < 0.5, "parsing took %.3f s", secs);
}
END_TEST

START_TEST(challenge_parse_limits)
{
    char *h;
    apr_size_t n = MPP_MAX_CHALLENGE_HDR + 1;

    /* a valid challenge, padded by a long description to just within and
     * just over the limit */
    h = apr_palloc(tp, n + 1);
    memset(h, 'a', n);
    {
        const char *pre = "Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\", "
                          "description=\"";
        memcpy(h, pre, strlen(pre));
    }
    h[n - 2] = '"';
    h[n - 1] = '\0';
    ck_assert_uint_eq(strlen(h), MPP_MAX_CHALLENGE_HDR);
    ck_assert_int_eq(plist(h)->nelts, 1);
    h[n - 2] = 'a';
    h[n - 1] = '"';
    h[n] = '\0';
    plist_err(h);
    /* more params than the limit */
    h = "Payment id=\"a\", realm=\"r\", method=\"m\", intent=\"charge\", request=\"e30\"";
    for (int i = 0; i < MPP_MAX_PARAMS; i++)
        h = apr_psprintf(tp, "%s, p%d=1", h, i);
    plist_err(h);
}
END_TEST

Suite *suite_challenge(void)
{
    Suite *s = suite_create("challenge");
    TCase *tc = tcase("id");
    tcase_add_test(tc, challenge_id_vectors);
    tcase_add_test(tc, challenge_binding_input);
    tcase_add_test(tc, challenge_id_conformance_rows);
    tcase_add_test(tc, challenge_id_header_slot);
    tcase_add_test(tc, challenge_id_end_to_end);
    tcase_add_test(tc, challenge_id_sensitivity);
    suite_add_tcase(s, tc);
    tc = tcase("format");
    tcase_add_test(tc, challenge_format_e1);
    tcase_add_test(tc, challenge_format_order_and_escapes);
    tcase_add_test(tc, challenge_format_refuses_crlf);
    suite_add_tcase(s, tc);
    tc = tcase("parse");
    tcase_add_test(tc, challenge_parse_e1);
    tcase_add_test(tc, challenge_parse_two_in_one_value);
    tcase_add_test(tc, challenge_parse_other_schemes);
    tcase_add_test(tc, challenge_parse_quoted_payment_inside_values);
    tcase_add_test(tc, challenge_parse_duplicates_and_case);
    tcase_add_test(tc, challenge_parse_missing_or_bad);
    tcase_add_test(tc, challenge_parse_unicode_escapes);
    tcase_add_test(tc, challenge_parse_backslash_flood);
    tcase_add_test(tc, challenge_parse_limits);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_credential                                                      */

#define E1_AUTH "Payment eyJjaGFsbGVuZ2UiOnsiZGVzY3JpcHRpb24iOiJQYXkgXCJwcmVtaXVtXCIg4oCUIG5vdyIsImV4cGlyZXMiOiIyMDk5LTAxLTAxVDAwOjAwOjAwWiIsImlkIjoidERLczl0TUF0a3dRLUR3WExFejFvdXc5eUZyYXhySzJLMGQ1ZmJfZzVFWSIsImludGVudCI6ImNoYXJnZSIsIm1ldGhvZCI6Im1vY2siLCJyZWFsbSI6ImFwaS5leGFtcGxlLmNvbSIsInJlcXVlc3QiOiJleUpoYlc5MWJuUWlPaUl4TURBd0lpd2lZM1Z5Y21WdVkza2lPaUoxYzJRaUxDSnlaV05wY0dsbGJuUWlPaUpoWTJOMFh6RWlmUSJ9LCJwYXlsb2FkIjp7InRva2VuIjoiZ29vZCJ9fQ"

static mpp_cred_status_t cparse(const char *hdr, mpp_credential_t *c)
{
    const char *err = NULL;
    mpp_cred_status_t st = mpp_credential_parse(tp, hdr, c, &err);
    if (st != MPP_CRED_OK)
        ck_assert_ptr_nonnull(err);
    return st;
}

/* Status of `Payment <base64url(json)>`. */
static mpp_cred_status_t cparse_json(const char *json)
{
    mpp_credential_t c;
    return cparse(apr_pstrcat(tp, "Payment ", b64s(json), NULL), &c);
}

START_TEST(credential_parse_e1)
{
    mpp_credential_t c;
    const mpp_challenge_t *e = &c.challenge;

    ck_assert_int_eq(cparse(E1_AUTH, &c), MPP_CRED_OK);
    ck_assert_str_eq(e->id, E1_ID);
    ck_assert_str_eq(e->realm, "api.example.com");
    ck_assert_str_eq(e->method, "mock");
    ck_assert_str_eq(e->intent, "charge");
    ck_assert_str_eq(e->request, E1_REQ);
    ck_assert_str_eq(e->expires, "2099-01-01T00:00:00Z");
    ck_assert_str_eq(e->description, "Pay \"premium\" \xe2\x80\x94 now");
    ck_assert_ptr_null(e->digest);
    ck_assert_ptr_null(e->opaque);
    ck_assert_ptr_null(e->header);
    ck_assert_ptr_nonnull(e->request_obj);
    ck_assert_str_eq(mpp_jcs(tp, e->request_obj),
                     "{\"amount\":\"1000\",\"currency\":\"usd\",\"recipient\":\"acct_1\"}");
    ck_assert_ptr_nonnull(c.payload);
    ck_assert_str_eq(mpp_json_str(c.payload, "token"), "good");
    ck_assert_ptr_null(c.source);
    /* the echo still binds to the issued id */
    ck_assert_str_eq(id_for("test-secret-key-test-secret-key-32", e), E1_ID);
    /* scheme case, surrounding whitespace and other schemes do not matter */
    ck_assert_int_eq(cparse("  payment   eyJjaGFsbGVuZ2UiOnsiZGVzY3JpcHRpb24iOiJQYXkgXCJwcmVtaXVtXCIg4oCUIG5vdyIsImV4cGlyZXMiOiIyMDk5LTAxLTAxVDAwOjAwOjAwWiIsImlkIjoidERLczl0TUF0a3dRLUR3WExFejFvdXc5eUZyYXhySzJLMGQ1ZmJfZzVFWSIsImludGVudCI6ImNoYXJnZSIsIm1ldGhvZCI6Im1vY2siLCJyZWFsbSI6ImFwaS5leGFtcGxlLmNvbSIsInJlcXVlc3QiOiJleUpoYlc5MWJuUWlPaUl4TURBd0lpd2lZM1Z5Y21WdVkza2lPaUoxYzJRaUxDSnlaV05wY0dsbGJuUWlPaUpoWTJOMFh6RWlmUSJ9LCJwYXlsb2FkIjp7InRva2VuIjoiZ29vZCJ9fQ  ", &c), MPP_CRED_OK);
    ck_assert_int_eq(cparse("Bearer abc, " E1_AUTH, &c), MPP_CRED_OK);
    ck_assert_str_eq(c.challenge.id, E1_ID);
}
END_TEST

START_TEST(credential_format_reproduces_e1)
{
    /* the E1 credential is JCS, so formatting the parsed one gives it back */
    mpp_credential_t c;
    const char *err = NULL;
    char *h;
    ck_assert_int_eq(cparse(E1_AUTH, &c), MPP_CRED_OK);
    h = mpp_credential_format(tp, &c, &err);
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(h, E1_AUTH);
}
END_TEST

START_TEST(credential_none_and_multiple)
{
    mpp_credential_t c;
    ck_assert_int_eq(cparse("Bearer x", &c), MPP_CRED_NONE);
    ck_assert_int_eq(cparse("", &c), MPP_CRED_NONE);
    ck_assert_int_eq(cparse("Basic dXNlcjpwdw==, Bearer y", &c), MPP_CRED_NONE);
    ck_assert_int_eq(cparse("PaymentX abc", &c), MPP_CRED_NONE);
    ck_assert_int_eq(cparse("Payment a, Payment b", &c), MPP_CRED_MULTIPLE);
    ck_assert_int_eq(cparse(E1_AUTH ", " E1_AUTH, &c), MPP_CRED_MULTIPLE);
    ck_assert_int_eq(cparse(E1_AUTH ",payment e30", &c), MPP_CRED_MULTIPLE);
}
END_TEST

START_TEST(credential_malformed)
{
    mpp_credential_t c;
    const char *ok_ch = "\"challenge\":{\"id\":\"x\",\"realm\":\"r\",\"method\":\"m\",\"intent\":\"charge\","
                        "\"request\":\"e30\"}";

    /* the well-formed baseline */
    ck_assert_int_eq(cparse_json(apr_pstrcat(tp, "{", ok_ch, ",\"payload\":{}}", NULL)), MPP_CRED_OK);
    /* encoding: padding, standard alphabet, garbage, empty, junk after the token */
    ck_assert_int_eq(cparse("Payment e30=", &c), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse(apr_pstrcat(tp, E1_AUTH, "==", NULL), &c), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse("Payment e3+/", &c), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse("Payment !!!!", &c), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse("Payment", &c), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse("Payment   ", &c), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse("Payment e30 e30", &c), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse("Payment Z", &c), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse(apr_pstrcat(tp, "Payment ", b64s("{not json"), NULL), &c), MPP_CRED_MALFORMED);
    /* structure */
    ck_assert_int_eq(cparse_json("[1,2]"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("\"str\""), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"challenge\":\"x\",\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json(apr_pstrcat(tp, "{", ok_ch, "}", NULL)), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json(apr_pstrcat(tp, "{", ok_ch, ",\"payload\":\"p\"}", NULL)), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json(apr_pstrcat(tp, "{", ok_ch, ",\"payload\":null}", NULL)), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json(apr_pstrcat(tp, "{", ok_ch, ",\"payload\":{},\"source\":1}", NULL)),
                     MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json(apr_pstrcat(tp, "{", ok_ch, ",\"payload\":{},\"payload\":{}}", NULL)),
                     MPP_CRED_MALFORMED);
    /* echo fields: missing, empty id, wrong types, request not base64url JSON */
    ck_assert_int_eq(cparse_json("{\"challenge\":{\"realm\":\"r\",\"method\":\"m\",\"intent\":\"charge\","
                                 "\"request\":\"e30\"},\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"challenge\":{\"id\":\"\",\"realm\":\"r\",\"method\":\"m\",\"intent\":\"charge\","
                                 "\"request\":\"e30\"},\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"challenge\":{\"id\":\"x\",\"method\":\"m\",\"intent\":\"charge\","
                                 "\"request\":\"e30\"},\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"challenge\":{\"id\":1,\"realm\":\"r\",\"method\":\"m\",\"intent\":\"charge\","
                                 "\"request\":\"e30\"},\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"challenge\":{\"id\":\"x\",\"realm\":[],\"method\":\"m\",\"intent\":\"charge\","
                                 "\"request\":\"e30\"},\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"challenge\":{\"id\":\"x\",\"realm\":\"r\",\"method\":\"m\",\"intent\":\"charge\","
                                 "\"request\":{}},\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"challenge\":{\"id\":\"x\",\"realm\":\"r\",\"method\":\"m\",\"intent\":\"charge\","
                                 "\"request\":\"e30\",\"expires\":4070908800},\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"challenge\":{\"id\":\"x\",\"realm\":\"r\",\"method\":\"m\",\"intent\":\"charge\","
                                 "\"request\":\"e30\",\"digest\":true},\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"challenge\":{\"id\":\"x\",\"realm\":\"r\",\"method\":\"m\",\"intent\":\"charge\","
                                 "\"request\":\"e30\",\"opaque\":12},\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"challenge\":{\"id\":\"x\",\"realm\":\"r\",\"method\":\"m\",\"intent\":\"charge\","
                                 "\"request\":\"e30\",\"description\":7},\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"challenge\":{\"id\":\"x\",\"realm\":\"r\",\"method\":\"m\",\"intent\":\"charge\","
                                 "\"request\":\"not base64!\"},\"payload\":{}}"), MPP_CRED_MALFORMED);
    ck_assert_int_eq(cparse_json("{\"challenge\":{\"id\":\"x\",\"realm\":\"r\",\"method\":\"m\",\"intent\":\"charge\","
                                 "\"request\":\"WzFd\"},\"payload\":{}}"), MPP_CRED_MALFORMED);
}
END_TEST

START_TEST(credential_size_limit)
{
    /* the E1 credential followed by blanks up to and over the limit */
    mpp_credential_t c;
    char *h = apr_palloc(tp, MPP_MAX_AUTH_HEADER + 2);
    memset(h, ' ', MPP_MAX_AUTH_HEADER + 1);
    memcpy(h, E1_AUTH, strlen(E1_AUTH));
    h[MPP_MAX_AUTH_HEADER] = '\0';
    ck_assert_int_eq(cparse(h, &c), MPP_CRED_OK);
    h[MPP_MAX_AUTH_HEADER] = ' ';
    h[MPP_MAX_AUTH_HEADER + 1] = '\0';
    ck_assert_int_eq(cparse(h, &c), MPP_CRED_MALFORMED);
}
END_TEST

START_TEST(credential_large_accepted)
{
    /* a credential of several KB (a long payload) is accepted */
    mpp_credential_t c, d;
    const char *err = NULL;
    char *big = apr_palloc(tp, 6001), *h;
    memset(big, 's', 6000);
    big[6000] = '\0';
    memset(&c, 0, sizeof(c));
    c.challenge = e1_challenge();
    c.payload = mpp_json_pool_own(tp, json_object_new_object());
    json_object_object_add(c.payload, "signature", json_object_new_string(big));
    h = mpp_credential_format(tp, &c, &err);
    ck_assert_ptr_nonnull(h);
    ck_assert_uint_gt(strlen(h), 8000);
    ck_assert_int_eq(cparse(h, &d), MPP_CRED_OK);
    ck_assert(strcmp(mpp_json_str(d.payload, "signature"), big) == 0);
}
END_TEST

START_TEST(credential_format_parse_round_trip)
{
    mpp_credential_t c, d;
    const char *err = NULL;
    char *h;

    memset(&c, 0, sizeof(c));
    c.challenge = ch("api.example.com", "evm", "charge", NULL, "2099-01-01T00:00:00Z",
                     "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", "e30");
    c.challenge.id = "some-id";
    c.challenge.description = "d \xe2\x80\x94 \"q\"";
    /* the request given as an object only: the format encodes it */
    c.challenge.request_obj = J("{\"recipient\":\"0xdef\",\"amount\":\"100\"}");
    c.payload = J("{\"type\":\"hash\",\"hash\":\"0x01\"}");
    c.source = J("\"did:pkh:eip155:8453:0xf39F\"");
    h = mpp_credential_format(tp, &c, &err);
    ck_assert_ptr_nonnull(h);
    ck_assert(strncmp(h, "Payment ", 8) == 0);
    ck_assert_ptr_null(strchr(h + 8, '='));
    ck_assert_int_eq(cparse(h, &d), MPP_CRED_OK);
    ck_assert_str_eq(d.challenge.id, "some-id");
    ck_assert_str_eq(d.challenge.realm, "api.example.com");
    ck_assert_str_eq(d.challenge.method, "evm");
    ck_assert_str_eq(d.challenge.intent, "charge");
    ck_assert_str_eq(d.challenge.request, req_b64("{\"amount\":\"100\",\"recipient\":\"0xdef\"}"));
    ck_assert_str_eq(d.challenge.expires, "2099-01-01T00:00:00Z");
    ck_assert_str_eq(d.challenge.digest, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:");
    ck_assert_str_eq(d.challenge.opaque, "e30");
    ck_assert_str_eq(d.challenge.description, "d \xe2\x80\x94 \"q\"");
    ck_assert_str_eq(mpp_jcs(tp, d.payload), "{\"hash\":\"0x01\",\"type\":\"hash\"}");
    ck_assert_ptr_nonnull(d.source);
    ck_assert_str_eq(json_object_get_string(d.source), "did:pkh:eip155:8453:0xf39F");

    /* the request string, when set, is echoed verbatim */
    c.challenge.request = "e30";
    h = mpp_credential_format(tp, &c, &err);
    ck_assert_int_eq(cparse(h, &d), MPP_CRED_OK);
    ck_assert_str_eq(d.challenge.request, "e30");

    /* without a payload there is no credential */
    c.payload = NULL;
    err = NULL;
    ck_assert_ptr_null(mpp_credential_format(tp, &c, &err));
    ck_assert_ptr_nonnull(err);
}
END_TEST

Suite *suite_credential(void)
{
    Suite *s = suite_create("credential");
    TCase *tc = tcase("credential");
    tcase_add_test(tc, credential_parse_e1);
    tcase_add_test(tc, credential_format_reproduces_e1);
    tcase_add_test(tc, credential_none_and_multiple);
    tcase_add_test(tc, credential_malformed);
    tcase_add_test(tc, credential_size_limit);
    tcase_add_test(tc, credential_large_accepted);
    tcase_add_test(tc, credential_format_parse_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_receipt                                                         */

START_TEST(receipt_mppx_vector)
{
    const char *err = NULL;
    json_object *r = mpp_receipt_parse(tp, "eyJtZXRob2QiOiJtb2NrIiwicmVmZXJlbmNlIjoicmVmLTEyMyIsInN0YXR1cyI6"
                                           "InN1Y2Nlc3MiLCJ0aW1lc3RhbXAiOiIyMDI2LTAxLTAxVDAwOjAwOjAwLjAwMFoifQ", &err);
    ck_assert_msg(r != NULL, "%s", err ? err : "?");
    ck_assert_str_eq(mpp_json_str(r, "method"), "mock");
    ck_assert_str_eq(mpp_json_str(r, "reference"), "ref-123");
    ck_assert_str_eq(mpp_json_str(r, "status"), "success");
    ck_assert_str_eq(mpp_json_str(r, "timestamp"), "2026-01-01T00:00:00.000Z");
}
END_TEST

START_TEST(receipt_format_parse)
{
    const char *err = NULL;
    json_object *r = J("{\"status\":\"success\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"reference\":\"0xabc\","
                       "\"method\":\"evm\",\"challengeId\":\"id-1\",\"chainId\":8453}");
    char *h = mpp_receipt_format(tp, r, &err), *dec;
    json_object *back;
    apr_size_t n;

    ck_assert_ptr_nonnull(h);
    /* base64url of the JCS form */
    ck_assert_int_eq(b64dec(h, (const char **)&dec, &n), 0);
    ck_assert_str_eq(dec, "{\"chainId\":8453,\"challengeId\":\"id-1\",\"method\":\"evm\",\"reference\":\"0xabc\","
                          "\"status\":\"success\",\"timestamp\":\"2026-01-01T00:00:00Z\"}");
    back = mpp_receipt_parse(tp, h, &err);
    ck_assert_ptr_nonnull(back);
    ck_assert_str_eq(mpp_jcs(tp, back), dec);
    /* leading whitespace of a header value is tolerated */
    ck_assert_ptr_nonnull(mpp_receipt_parse(tp, apr_pstrcat(tp, "  ", h, NULL), &err));
}
END_TEST

START_TEST(receipt_default_object)
{
    mpp_payment_t pay;
    json_object *r;
    const char *err = NULL;

    memset(&pay, 0, sizeof(pay));
    pay.p = tp;
    pay.now = apr_time_from_sec(1767225600);
    pay.reference = "0xfeed";
    pay.challenge_id = "cid";
    r = mpp_json_pool_own(tp, mpp_receipt_default(&pay, "evm"));
    ck_assert_str_eq(mpp_jcs(tp, r), "{\"challengeId\":\"cid\",\"method\":\"evm\",\"reference\":\"0xfeed\","
                                     "\"status\":\"success\",\"timestamp\":\"2026-01-01T00:00:00Z\"}");
    ck_assert_ptr_nonnull(mpp_receipt_format(tp, r, &err));
}
END_TEST

static int receipt_rejected(const char *json)
{
    const char *err = NULL;
    int fmt_bad = mpp_receipt_format(tp, J(json), &err) == NULL;
    int parse_bad;
    if (fmt_bad)
        ck_assert_ptr_nonnull(err);
    err = NULL;
    parse_bad = mpp_receipt_parse(tp, b64s(json), &err) == NULL;
    if (parse_bad)
        ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(fmt_bad, parse_bad);
    return fmt_bad;
}

START_TEST(receipt_rejects)
{
    const char *err;
    ck_assert(!receipt_rejected("{\"status\":\"success\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"reference\":\"r\"}"));
    ck_assert(receipt_rejected("{\"status\":\"success\",\"timestamp\":\"2026-01-01T00:00:00Z\"}"));
    ck_assert(receipt_rejected("{\"status\":\"success\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"reference\":\"\"}"));
    ck_assert(receipt_rejected("{\"status\":\"success\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"reference\":5}"));
    ck_assert(receipt_rejected("{\"status\":\"success\",\"timestamp\":\"yesterday\",\"reference\":\"r\"}"));
    ck_assert(receipt_rejected("{\"status\":\"success\",\"timestamp\":\"2026-13-01T00:00:00Z\",\"reference\":\"r\"}"));
    ck_assert(receipt_rejected("{\"status\":\"success\",\"timestamp\":1767225600,\"reference\":\"r\"}"));
    ck_assert(receipt_rejected("{\"status\":\"success\",\"reference\":\"r\"}"));
    ck_assert(receipt_rejected("{\"timestamp\":\"2026-01-01T00:00:00Z\",\"reference\":\"r\"}"));
    ck_assert(receipt_rejected("{\"status\":\"success\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"reference\":\"r\","
                               "\"method\":1}"));
    ck_assert(receipt_rejected("[]"));
    err = NULL;
    ck_assert_ptr_null(mpp_receipt_parse(tp, "not base64!", &err));
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_null(mpp_receipt_format(tp, NULL, &err));
}
END_TEST

Suite *suite_receipt(void)
{
    Suite *s = suite_create("receipt");
    TCase *tc = tcase("receipt");
    tcase_add_test(tc, receipt_mppx_vector);
    tcase_add_test(tc, receipt_format_parse);
    tcase_add_test(tc, receipt_default_object);
    tcase_add_test(tc, receipt_rejects);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_problem                                                         */

START_TEST(problem_table)
{
    static const struct { mpp_problem_t t; const char *slug, *title; int status; } v[] = {
        { MPP_P_PAYMENT_REQUIRED, "payment-required", "Payment Required", 402 },
        { MPP_P_PAYMENT_INSUFFICIENT, "payment-insufficient", "Payment Insufficient", 402 },
        { MPP_P_PAYMENT_EXPIRED, "payment-expired", "Payment Expired", 402 },
        { MPP_P_VERIFICATION_FAILED, "verification-failed", "Verification Failed", 402 },
        { MPP_P_METHOD_UNSUPPORTED, "method-unsupported", "Method Unsupported", 400 },
        { MPP_P_MALFORMED_CREDENTIAL, "malformed-credential", "Malformed Credential", 402 },
        { MPP_P_INVALID_CHALLENGE, "invalid-challenge", "Invalid Challenge", 402 },
        { MPP_P_INVALID_PAYLOAD, "invalid-payload", "Invalid Payload", 402 },
        { MPP_P_BAD_REQUEST, "bad-request", "Bad Request", 400 },
    };
    for (unsigned i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        ck_assert_str_eq(mpp_problem_type(v[i].t),
                         apr_pstrcat(tp, "https://paymentauth.org/problems/", v[i].slug, NULL));
        ck_assert_str_eq(mpp_problem_slug(v[i].t), v[i].slug);
        ck_assert_str_eq(mpp_problem_title(v[i].t), v[i].title);
        ck_assert_int_eq(mpp_problem_status(v[i].t), v[i].status);
    }
    /* HTTP-level problems without a payment type */
    ck_assert_str_eq(mpp_problem_type(MPP_P_FORBIDDEN), "about:blank");
    ck_assert_int_eq(mpp_problem_status(MPP_P_FORBIDDEN), 403);
    ck_assert_str_eq(mpp_problem_type(MPP_P_UNAVAILABLE), "about:blank");
    ck_assert_int_eq(mpp_problem_status(MPP_P_UNAVAILABLE), 503);
    ck_assert_str_eq(mpp_problem_type(MPP_P_BAD_GATEWAY), "about:blank");
    ck_assert_int_eq(mpp_problem_status(MPP_P_BAD_GATEWAY), 502);
    ck_assert_str_eq(mpp_problem_type(MPP_P_INTERNAL), "about:blank");
    ck_assert_int_eq(mpp_problem_status(MPP_P_INTERNAL), 500);
    ck_assert_str_eq(mpp_problem_title(MPP_P_INTERNAL), "Internal Server Error");
    /* out-of-range values stay safe */
    ck_assert_int_eq(mpp_problem_status(MPP_P__COUNT), 500);
    ck_assert_str_eq(mpp_problem_type(MPP_P__COUNT), "about:blank");
}
END_TEST

START_TEST(problem_json_body)
{
    char *body = mpp_problem_json(tp, MPP_P_INVALID_CHALLENGE, "bad \"id\" \xe2\x80\x94 </script>", NULL,
                                  "tDKs9tMAtkwQ-DwXLEz1ouw9yFraxrK2K0d5fb_g5EY");
    json_object *o = J(body), *st;

    ck_assert_str_eq(mpp_json_str(o, "type"), "https://paymentauth.org/problems/invalid-challenge");
    ck_assert_str_eq(mpp_json_str(o, "title"), "Invalid Challenge");
    ck_assert(json_object_object_get_ex(o, "status", &st));
    ck_assert(json_object_is_type(st, json_type_int));
    ck_assert_int_eq(json_object_get_int(st), 402);
    ck_assert_str_eq(mpp_json_str(o, "detail"), "bad \"id\" \xe2\x80\x94 </script>");
    ck_assert_str_eq(mpp_json_str(o, "challengeId"), "tDKs9tMAtkwQ-DwXLEz1ouw9yFraxrK2K0d5fb_g5EY");
    ck_assert(!json_object_object_get_ex(o, "hint", NULL));

    o = J(mpp_problem_json(tp, MPP_P_PAYMENT_REQUIRED, NULL, "use a wallet", NULL));
    ck_assert_str_eq(mpp_json_str(o, "type"), "https://paymentauth.org/problems/payment-required");
    ck_assert_ptr_nonnull(mpp_json_str(o, "detail"));
    ck_assert_str_eq(mpp_json_str(o, "hint"), "use a wallet");
    ck_assert(!json_object_object_get_ex(o, "challengeId", NULL));

    o = J(mpp_problem_json(tp, MPP_P_METHOD_UNSUPPORTED, "no", NULL, NULL));
    ck_assert(json_object_object_get_ex(o, "status", &st));
    ck_assert_int_eq(json_object_get_int(st), 400);
    o = J(mpp_problem_json(tp, MPP_P_FORBIDDEN, "TLS required", NULL, NULL));
    ck_assert_str_eq(mpp_json_str(o, "type"), "about:blank");
    ck_assert(json_object_object_get_ex(o, "status", &st));
    ck_assert_int_eq(json_object_get_int(st), 403);
}
END_TEST

Suite *suite_problem(void)
{
    Suite *s = suite_create("problem");
    TCase *tc = tcase("problem");
    tcase_add_test(tc, problem_table);
    tcase_add_test(tc, problem_json_body);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_time                                                            */

#define T2026 1767225600 /* 2026-01-01T00:00:00Z */

static apr_time_t tparse(const char *s)
{
    apr_time_t t = 0;
    ck_assert_msg(mpp_time_parse(s, &t) == 0, "rejected %s", s);
    return t;
}

START_TEST(time_format)
{
    ck_assert_str_eq(mpp_time_format(tp, 0), "1970-01-01T00:00:00Z");
    ck_assert_str_eq(mpp_time_format(tp, apr_time_from_sec(T2026)), "2026-01-01T00:00:00Z");
    /* whole seconds: microseconds are dropped */
    ck_assert_str_eq(mpp_time_format(tp, apr_time_from_sec(1709208000) + 999999), "2024-02-29T12:00:00Z");
    ck_assert_str_eq(mpp_time_format(tp, apr_time_from_sec(4070908799LL)), "2098-12-31T23:59:59Z");
}
END_TEST

START_TEST(time_parse_valid)
{
    ck_assert_int_eq(tparse("2026-01-01T00:00:00Z"), apr_time_from_sec(T2026));
    ck_assert_int_eq(tparse("1970-01-01T00:00:00Z"), 0);
    ck_assert_int_eq(tparse("2099-01-01T00:00:00Z"), apr_time_from_sec(4070908800LL));
    /* fractions: milliseconds, microseconds, beyond (truncated) */
    ck_assert_int_eq(tparse("2026-01-01T00:00:00.123Z"), apr_time_from_sec(T2026) + 123000);
    ck_assert_int_eq(tparse("2026-01-01T00:00:00.000Z"), apr_time_from_sec(T2026));
    ck_assert_int_eq(tparse("2026-01-01T00:00:00.5Z"), apr_time_from_sec(T2026) + 500000);
    ck_assert_int_eq(tparse("2026-01-01T00:00:00.123456789Z"), apr_time_from_sec(T2026) + 123456);
    /* offsets shift to UTC */
    ck_assert_int_eq(tparse("2026-01-01T01:00:00+01:00"), apr_time_from_sec(T2026));
    ck_assert_int_eq(tparse("2025-12-31T19:00:00-05:00"), apr_time_from_sec(T2026));
    ck_assert_int_eq(tparse("2026-01-01T05:30:00+05:30"), apr_time_from_sec(T2026));
    ck_assert_int_eq(tparse("2026-01-01T00:00:00+00:00"), apr_time_from_sec(T2026));
    ck_assert_int_eq(tparse("2026-01-01T00:00:00-00:00"), apr_time_from_sec(T2026));
    ck_assert_int_eq(tparse("2026-01-01T01:00:00.250+01:00"), apr_time_from_sec(T2026) + 250000);
    /* leap years */
    ck_assert_int_eq(tparse("2024-02-29T12:00:00Z"), apr_time_from_sec(1709208000));
    tparse("2000-02-29T00:00:00Z");
    ck_assert_int_eq(tparse("2024-03-01T00:00:00Z") - tparse("2024-02-28T00:00:00Z"),
                     apr_time_from_sec(2 * 86400));
    ck_assert_int_eq(tparse("2025-03-01T00:00:00Z") - tparse("2025-02-28T00:00:00Z"),
                     apr_time_from_sec(86400));
    /* lowercase t and z */
    ck_assert_int_eq(tparse("2026-01-01t00:00:00z"), apr_time_from_sec(T2026));
    /* month ends */
    tparse("2026-04-30T23:59:59Z");
    tparse("2026-12-31T23:59:59Z");
}
END_TEST

START_TEST(time_parse_invalid)
{
    static const char *const bad[] = {
        "2025-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-32T00:00:00Z",
        "2026-04-31T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:61Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00.000",
        "2026-01-01T00:00:00.123456", "2026-01-01 00:00:00Z",
        "2026-01-01T00:00:00ZZ", "2026-01-01T00:00:00Z ", " 2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00+0100", "2026-01-01T00:00:00+01", "2026-01-01T00:00:00+24:00",
        "2026-01-01T00:00:00+01:60", "2026-01-01T00:00:00.Z", "2026-1-01T00:00:00Z",
        "26-01-01T00:00:00Z", "2026-01-01T0:00:00Z", "2026/01/01T00:00:00Z",
        "2026-01-01T00:00Z", "", "yesterday",
        "+2026-01-01T00:00:00Z", "2026-01-01T00:00:00UTC",
    };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apr_time_t t;
        ck_assert_msg(mpp_time_parse(bad[i], &t) == -1, "accepted %s", bad[i]);
    }
}
END_TEST

START_TEST(time_round_trip)
{
    for (apr_int64_t s = 0; s < 4102444800LL; s += 86400LL * 37 + 3671) {
        apr_time_t t = apr_time_from_sec(s);
        ck_assert_int_eq(tparse(mpp_time_format(tp, t)), t);
    }
}
END_TEST

Suite *suite_time(void)
{
    Suite *s = suite_create("time");
    TCase *tc = tcase("time");
    tcase_add_test(tc, time_format);
    tcase_add_test(tc, time_parse_valid);
    tcase_add_test(tc, time_parse_invalid);
    tcase_add_test(tc, time_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_digest                                                          */

#define HELLO_BODY "{\"hello\": \"world\"}"
#define HELLO_DIGEST "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"

static void sha(const char *s, unsigned char out[32])
{
    mpp_sha256((const unsigned char *)s, strlen(s), out);
}

START_TEST(digest_format)
{
    unsigned char h[32];
    sha(HELLO_BODY, h);
    ck_assert_str_eq(mpp_digest_format(tp, h), HELLO_DIGEST);
    sha("", h);
    ck_assert_str_eq(mpp_digest_format(tp, h), "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:");
    sha("{\"amount\":\"1000\"}", h);
    ck_assert_str_eq(mpp_digest_format(tp, h), "sha-256=:Bxp4xJtbVfsB9npD5AEWUnIk76Cuv8Au4ECDA+F0biY=:");
}
END_TEST

START_TEST(digest_matches)
{
    unsigned char h[32], other[32];
    sha(HELLO_BODY, h);
    sha("{\"hello\":\"world\"}", other);

    ck_assert_int_eq(mpp_digest_matches(tp, HELLO_DIGEST, h), 1);
    ck_assert_int_eq(mpp_digest_matches(tp, "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=", h), 1);
    ck_assert_int_eq(mpp_digest_matches(tp, "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE", h), 1);
    ck_assert_int_eq(mpp_digest_matches(tp, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE:", h), 1);
    /* another body */
    ck_assert_int_eq(mpp_digest_matches(tp, HELLO_DIGEST, other), 0);
    /* other algorithms and broken values */
    ck_assert_int_eq(mpp_digest_matches(tp, "sha-512=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", h), 0);
    ck_assert_int_eq(mpp_digest_matches(tp, "md5=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", h), 0);
    ck_assert_int_eq(mpp_digest_matches(tp, "sha-2566=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", h), 0);
    ck_assert_int_eq(mpp_digest_matches(tp, ":X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", h), 0);
    ck_assert_int_eq(mpp_digest_matches(tp, "X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=", h), 0);
    ck_assert_int_eq(mpp_digest_matches(tp, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBP=:", h), 0);
    ck_assert_int_eq(mpp_digest_matches(tp, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPEA=:", h), 0);
    ck_assert_int_eq(mpp_digest_matches(tp, "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=", h), 0);
    ck_assert_int_eq(mpp_digest_matches(tp, "sha-256=::", h), 0);
    ck_assert_int_eq(mpp_digest_matches(tp, "sha-256=", h), 0);
    ck_assert_int_eq(mpp_digest_matches(tp, "", h), 0);
}
END_TEST

Suite *suite_digest(void)
{
    Suite *s = suite_create("digest");
    TCase *tc = tcase("digest");
    tcase_add_test(tc, digest_format);
    tcase_add_test(tc, digest_matches);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_amount                                                          */

#define U256_MAX "115792089237316195423570985008687907853269984665640564039457584007913129639935"
#define U256     "115792089237316195423570985008687907853269984665640564039457584007913129639936"

START_TEST(amount_valid)
{
    static const char *const good[] = { "0", "1", "9", "10", "10000", "1000000", U256_MAX,
                                        "99999999999999999999999999999999999999999999999999999999999999999999999999999" };
    static const char *const bad[] = { "", "01", "00", "007", "-1", "+1", "-0", "1e3", "1E3", "1.0", "1.",
                                       ".5", " 1", "1 ", "0x10", "1_000", "１", U256,
                                       "200000000000000000000000000000000000000000000000000000000000000000000000000000",
                                       "1000000000000000000000000000000000000000000000000000000000000000000000000000000" };
    for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(mpp_amount_valid(good[i]) == 1, "rejected %s", good[i]);
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(mpp_amount_valid(bad[i]) == 0, "accepted %s", bad[i]);
}
END_TEST

START_TEST(amount_cmp)
{
    ck_assert_int_lt(mpp_amount_cmp("9", "10"), 0);
    ck_assert_int_gt(mpp_amount_cmp("10", "9"), 0);
    ck_assert_int_eq(mpp_amount_cmp("100", "100"), 0);
    ck_assert_int_gt(mpp_amount_cmp("101", "100"), 0);
    ck_assert_int_lt(mpp_amount_cmp("0", "1"), 0);
    ck_assert_int_lt(mpp_amount_cmp("99999", U256_MAX), 0);
    ck_assert_int_eq(mpp_amount_cmp(U256_MAX, U256_MAX), 0);
}
END_TEST

static const char *price(const char *p, int dec)
{
    char *out = NULL;
    const char *e = mpp_amount_from_price(tp, p, dec, &out);
    ck_assert_msg(e == NULL, "price %s/%d rejected: %s", p, dec, e);
    ck_assert_ptr_nonnull(out);
    return out;
}

static int price_bad(const char *p, int dec)
{
    char *out = NULL;
    return mpp_amount_from_price(tp, p, dec, &out) != NULL;
}

START_TEST(amount_from_price)
{
    ck_assert_str_eq(price("0.01", 6), "10000");
    ck_assert_str_eq(price("1", 0), "1");
    ck_assert_str_eq(price("1", 6), "1000000");
    ck_assert_str_eq(price("1.50", 1), "15");
    ck_assert_str_eq(price("0.000001", 6), "1");
    ck_assert_str_eq(price("0.0000010", 6), "1");
    ck_assert_str_eq(price("0", 6), "0");
    ck_assert_str_eq(price("0.0", 6), "0");
    ck_assert_str_eq(price("12.345", 18), "12345000000000000000");
    ck_assert_str_eq(price("1", 77), "100000000000000000000000000000000000000000000000000000000000000000000000000000");
    ck_assert_str_eq(price(U256_MAX, 0), U256_MAX);
    /* too precise, huge, or not a plain decimal */
    ck_assert(price_bad("0.0000001", 6));
    ck_assert(price_bad("1.5", 0));
    ck_assert(price_bad(U256, 0));
    ck_assert(price_bad("2", 77));
    ck_assert(price_bad("1", 78));
    ck_assert(price_bad("1", -1));
    ck_assert(price_bad("1000000000000000000000000000000000000000000000000000000000000000000000000000000000", 6));
    ck_assert(price_bad("-1", 6));
    ck_assert(price_bad("+1", 6));
    ck_assert(price_bad("1e3", 6));
    ck_assert(price_bad(".5", 6));
    ck_assert(price_bad("5.", 6));
    ck_assert(price_bad("", 6));
    ck_assert(price_bad(".", 6));
    ck_assert(price_bad("1.2.3", 6));
    ck_assert(price_bad("1,5", 6));
    ck_assert(price_bad(" 1", 6));
    ck_assert(price_bad("0x10", 6));
}
END_TEST

Suite *suite_amount(void)
{
    Suite *s = suite_create("amount");
    TCase *tc = tcase("amount");
    tcase_add_test(tc, amount_valid);
    tcase_add_test(tc, amount_cmp);
    tcase_add_test(tc, amount_from_price);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_addr                                                            */

START_TEST(addr_evm)
{
    unsigned char a[20], b[20];
    static const unsigned char want[20] = {
        0x74, 0x2d, 0x35, 0xcc, 0x66, 0x34, 0xc0, 0x53, 0x29, 0x25,
        0xa3, 0xb8, 0x44, 0xbc, 0x9e, 0x75, 0x95, 0xf8, 0xfe, 0x00 };

    ck_assert_int_eq(mpp_evm_address_parse("0x742d35Cc6634c0532925a3b844bC9e7595F8fE00", a), 0);
    ck_assert_mem_eq(a, want, 20);
    /* case does not matter (checksums are not trusted) */
    ck_assert_int_eq(mpp_evm_address_parse("0x742D35CC6634C0532925A3B844BC9E7595F8FE00", b), 0);
    ck_assert_mem_eq(b, want, 20);
    ck_assert_int_eq(mpp_evm_address_parse("0x742d35cc6634c0532925a3b844bc9e7595f8fe00", b), 0);
    ck_assert_mem_eq(b, want, 20);
    ck_assert_str_eq(mpp_evm_address_format(tp, a), "0x742d35cc6634c0532925a3b844bc9e7595f8fe00");
    /* wrong length, missing prefix, junk */
    ck_assert_int_eq(mpp_evm_address_parse("0x742d35Cc6634c0532925a3b844bC9e7595F8fE0", a), -1);
    ck_assert_int_eq(mpp_evm_address_parse("0x742d35Cc6634c0532925a3b844bC9e7595F8fE000", a), -1);
    ck_assert_int_eq(mpp_evm_address_parse("742d35Cc6634c0532925a3b844bC9e7595F8fE0000", a), -1);
    ck_assert_int_eq(mpp_evm_address_parse("0x742d35Cc6634c0532925a3b844bC9e7595F8fEgg", a), -1);
    ck_assert_int_eq(mpp_evm_address_parse("0x742d35Cc6634c0532925a3b844bC9e7595F8fE 0", a), -1);
    ck_assert_int_eq(mpp_evm_address_parse("1x742d35Cc6634c0532925a3b844bC9e7595F8fE00", a), -1);
    ck_assert_int_eq(mpp_evm_address_parse("0x", a), -1);
    ck_assert_int_eq(mpp_evm_address_parse("", a), -1);
}
END_TEST

START_TEST(addr_base58)
{
    unsigned char o[32], z[32] = { 0 };
    static const unsigned char usdc[32] = {
        0xc6, 0xfa, 0x7a, 0xf3, 0xbe, 0xdb, 0xad, 0x3a, 0x3d, 0x65, 0xf3, 0x6a, 0xab, 0xc9, 0x74, 0x31,
        0xb1, 0xbb, 0xe4, 0xc2, 0xd2, 0xf6, 0xe0, 0xe4, 0x7c, 0xa6, 0x02, 0x03, 0x45, 0x2f, 0x5d, 0x61 };
    static const unsigned char wsol[32] = {
        0x06, 0x9b, 0x88, 0x57, 0xfe, 0xab, 0x81, 0x84, 0xfb, 0x68, 0x7f, 0x63, 0x46, 0x18, 0xc0, 0x35,
        0xda, 0xc4, 0x39, 0xdc, 0x1a, 0xeb, 0x3b, 0x55, 0x98, 0xa0, 0xf0, 0x00, 0x00, 0x00, 0x00, 0x01 };
    unsigned char ones[32];

    ck_assert_int_eq(mpp_base58_decode32("11111111111111111111111111111111", o), 0);
    ck_assert_mem_eq(o, z, 32);
    ck_assert_int_eq(mpp_base58_decode32("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v", o), 0);
    ck_assert_mem_eq(o, usdc, 32);
    ck_assert_int_eq(mpp_base58_decode32("So11111111111111111111111111111111111111112", o), 0);
    ck_assert_mem_eq(o, wsol, 32);
    z[31] = 1;
    ck_assert_int_eq(mpp_base58_decode32("11111111111111111111111111111112", o), 0);
    ck_assert_mem_eq(o, z, 32);
    memset(ones, 0xff, 32);
    ck_assert_int_eq(mpp_base58_decode32("JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFG", o), 0);
    ck_assert_mem_eq(o, ones, 32);
    /* characters outside the alphabet */
    ck_assert_int_eq(mpp_base58_decode32("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt10", o), -1);
    ck_assert_int_eq(mpp_base58_decode32("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1O", o), -1);
    ck_assert_int_eq(mpp_base58_decode32("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1I", o), -1);
    ck_assert_int_eq(mpp_base58_decode32("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1l", o), -1);
    ck_assert_int_eq(mpp_base58_decode32("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1+", o), -1);
    ck_assert_int_eq(mpp_base58_decode32("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1 ", o), -1);
    /* not 32 bytes: too short, too long, too large a value, empty */
    ck_assert_int_eq(mpp_base58_decode32("1111111111111111111111111111111", o), -1);
    ck_assert_int_eq(mpp_base58_decode32("111111111111111111111111111111111", o), -1);
    ck_assert_int_eq(mpp_base58_decode32("EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGk", o), -1);
    ck_assert_int_eq(mpp_base58_decode32("JEKNVnkbo3jma5nREBBJCDoXFVeKkD56V3xKrvRmWxFH", o), -1);
    ck_assert_int_eq(mpp_base58_decode32("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", o), -1);
    ck_assert_int_eq(mpp_base58_decode32("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", o), -1);
    ck_assert_int_eq(mpp_base58_decode32("", o), -1);
    ck_assert_int_eq(mpp_base58_decode32("2", o), -1);
}
END_TEST

Suite *suite_addr(void)
{
    Suite *s = suite_create("addr");
    TCase *tc = tcase("addr");
    tcase_add_test(tc, addr_evm);
    tcase_add_test(tc, addr_base58);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_accept                                                          */

static const char *const AM[] = { "x", "y", "z" };
static const char *const AI[] = { "charge", "charge", "session" };

/* The ranking as a string of offer indices, or "-1". */
static const char *rank(const char *hdr, int n)
{
    int order[8], k;
    char *s = "";
    for (int i = 0; i < 8; i++)
        order[i] = -7;
    k = mpp_accept_rank(tp, hdr, AM, AI, n, order);
    if (k < 0)
        return "-1";
    ck_assert_int_le(k, n);
    for (int i = 0; i < k; i++)
        s = apr_psprintf(tp, "%s%d", s, order[i]);
    return s;
}

START_TEST(accept_q_zero_drops)
{
    ck_assert_str_eq(rank("x/charge;q=0, y/charge", 2), "1");
    ck_assert_str_eq(rank("x/charge;q=0.000, y/charge", 2), "1");
    ck_assert_str_eq(rank("x/charge, y/charge;q=0", 2), "0");
    ck_assert_str_eq(rank("x/charge;q=0.001, y/charge;q=0", 2), "0");
    /* nothing kept: the caller offers everything */
    ck_assert_str_eq(rank("x/charge;q=0, y/charge;q=0", 2), "-1");
    ck_assert_str_eq(rank("w/charge", 2), "-1");
    /* unmatched offers are dropped */
    ck_assert_str_eq(rank("y/charge", 3), "1");
}
END_TEST

START_TEST(accept_order_by_q)
{
    ck_assert_str_eq(rank("x/charge;q=0.5, y/charge", 2), "10");
    ck_assert_str_eq(rank("x/charge;q=0.2, y/charge;q=0.3, z/session;q=0.25", 3), "120");
    /* ties keep the server's order, whatever the header order */
    ck_assert_str_eq(rank("y/charge, x/charge", 2), "01");
    ck_assert_str_eq(rank("y/charge;q=0.9, x/charge;q=0.9", 2), "01");
    ck_assert_str_eq(rank("*/*", 3), "012");
    ck_assert_str_eq(rank(" x/charge ; q=0.5 ,y/charge;Q=1.000", 2), "10");
}
END_TEST

START_TEST(accept_specificity)
{
    /* the most specific matching range decides, whatever its q */
    ck_assert_str_eq(rank("x/charge;q=0, */*", 2), "1");
    ck_assert_str_eq(rank("*/*;q=0, x/charge", 2), "0");
    ck_assert_str_eq(rank("*/*;q=0.1, x/charge;q=0.9", 2), "01");
    ck_assert_str_eq(rank("*/*, x/charge;q=0.1", 2), "10");
    /* method beats intent */
    ck_assert_str_eq(rank("x/*;q=0.2, */charge", 2), "10");
    ck_assert_str_eq(rank("*/charge;q=0, x/*", 3), "0");
    ck_assert_str_eq(rank("*/session, */charge;q=0.5", 3), "201");
}
END_TEST

START_TEST(accept_malformed)
{
    static const char *const bad[] = { "x", "x/charge;q=2", "x/charge;q=1.5", "x/charge;q=abc",
                                       "x/charge;q=", "x/charge;level=1", "x y/charge", "/charge",
                                       "x/", "x/charge;q=0.1234", "x/charge, y", "", " , ",
                                       "x/charge;q=-1", "x/charge/more" };
    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(strcmp(rank(bad[i], 2), "-1") == 0, "ranked [%s]", bad[i]);
}
END_TEST

Suite *suite_accept(void)
{
    Suite *s = suite_create("accept");
    TCase *tc = tcase("accept");
    tcase_add_test(tc, accept_q_zero_drops);
    tcase_add_test(tc, accept_order_by_q);
    tcase_add_test(tc, accept_specificity);
    tcase_add_test(tc, accept_malformed);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_args                                                            */

#define WD(a, i) APR_ARRAY_IDX((a), (i), const char *)

START_TEST(args_quoting)
{
    apr_array_header_t *w;

    w = W("usdc network=base eip712-name=\"USD Coin\" eip712-version=2");
    ck_assert_int_eq(w->nelts, 4);
    ck_assert_str_eq(WD(w, 0), "usdc");
    ck_assert_str_eq(WD(w, 2), "eip712-name=USD Coin");
    ck_assert_str_eq(WD(w, 3), "eip712-version=2");

    w = W("  a \t b\r\n c  ");
    ck_assert_int_eq(w->nelts, 3);
    ck_assert_str_eq(WD(w, 2), "c");

    w = W("\"a b\"c'd e' 'x\\y' \"q\\\"uote\\\\d\" \"\\n\" \"\"");
    ck_assert_int_eq(w->nelts, 5);
    ck_assert_str_eq(WD(w, 0), "a bcd e");
    ck_assert_str_eq(WD(w, 1), "x\\y");          /* no escapes inside '...' */
    ck_assert_str_eq(WD(w, 2), "q\"uote\\d");
    ck_assert_str_eq(WD(w, 3), "\\n");           /* only \" and \\ are escapes */
    ck_assert_str_eq(WD(w, 4), "");

    w = W("");
    ck_assert_int_eq(w->nelts, 0);
    w = W("description='it\"s'");
    ck_assert_str_eq(WD(w, 0), "description=it\"s");
}
END_TEST

START_TEST(args_unterminated)
{
    const char *err = NULL;
    ck_assert_ptr_null(mpp_args_split(tp, "a eip712-name=\"USD Coin", &err));
    ck_assert_ptr_nonnull(err);
    err = NULL;
    ck_assert_ptr_null(mpp_args_split(tp, "a 'b", &err));
    ck_assert_ptr_nonnull(err);
    err = NULL;
    ck_assert_ptr_null(mpp_args_split(tp, "a \"b\\\"", &err));
    ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(args_kv)
{
    const char *k, *v;
    ck_assert_int_eq(mpp_args_kv(tp, "a=b=c", &k, &v), 0);
    ck_assert_str_eq(k, "a");
    ck_assert_str_eq(v, "b=c");
    ck_assert_int_eq(mpp_args_kv(tp, "k=", &k, &v), 0);
    ck_assert_str_eq(k, "k");
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(mpp_args_kv(tp, "=x", &k, &v), -1);
    ck_assert_int_eq(mpp_args_kv(tp, "plain", &k, &v), -1);
}
END_TEST

Suite *suite_args(void)
{
    Suite *s = suite_create("args");
    TCase *tc = tcase("args");
    tcase_add_test(tc, args_quoting);
    tcase_add_test(tc, args_unterminated);
    tcase_add_test(tc, args_kv);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_model                                                           */

#define USDC_BASE "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
#define PAYEE "0x742d35Cc6634c0532925a3b844bC9e7595F8fE00"
#define SOL_USDC "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
#define SOL_PAYEE "So11111111111111111111111111111111111111112"

/* The error of a parser, which must fail and name `needle`. */
#define ASSERT_ERR_NAMES(expr, needle) do {                                   \
        const char *e_ = (expr);                                              \
        ck_assert_msg(e_ != NULL, "%s succeeded", #expr);                     \
        ck_assert_msg(strstr(e_, (needle)) != NULL, "error '%s' lacks '%s'", e_, (needle)); \
    } while (0)

static const char *net(mpp_network_t *n, const char *line)
{
    return mpp_network_parse(tp, n, W(line));
}

static const char *asset(mpp_asset_t *a, const char *line)
{
    return mpp_asset_parse(tp, a, W(line));
}

static const char *offer(mpp_offer_t *o, const char *line)
{
    return mpp_offer_parse(tp, o, W(line));
}

START_TEST(model_network_parse)
{
    mpp_network_t n;

    ck_assert_ptr_null(net(&n, "base evm chain-id=8453 rpc=https://mainnet.base.org rpc=http://127.0.0.1:8545 "
                               "confirmations=3 timeout=10 relayer-key=/etc/mpp/relayer.key"));
    ck_assert_str_eq(n.name, "base");
    ck_assert_int_eq(n.kind, MPP_NET_EVM);
    ck_assert_ptr_eq(n.method, &mpp_method_evm);
    ck_assert_uint_eq(n.chain_id, 8453);
    ck_assert_int_eq(n.rpc_urls->nelts, 2);
    ck_assert_str_eq(WD(n.rpc_urls, 0), "https://mainnet.base.org");
    ck_assert_int_eq(n.confirmations, 3);
    ck_assert_int_eq(n.timeout, 10);
    ck_assert_str_eq(n.key_file, "/etc/mpp/relayer.key");

    ck_assert_ptr_null(net(&n, "sol solana cluster=devnet rpc=https://api.devnet.solana.com"));
    ck_assert_int_eq(n.kind, MPP_NET_SOLANA);
    ck_assert_ptr_eq(n.method, &mpp_method_solana);
    ck_assert_str_eq(n.cluster, "devnet");
    ck_assert_str_eq(n.commitment, "confirmed");
    ck_assert_int_eq(n.confirmations, 1);
    ck_assert_int_eq(n.timeout, 5);

    ck_assert_ptr_null(net(&n, "test testpay"));
    ck_assert_int_eq(n.kind, MPP_NET_OTHER);
    ck_assert_str_eq(n.type, "testpay");
}
END_TEST

START_TEST(model_network_errors)
{
    mpp_network_t n;
    ck_assert_ptr_nonnull(net(&n, "base"));
    ASSERT_ERR_NAMES(net(&n, "ba/se evm chain-id=1 rpc=https://x"), "ba/se");
    ASSERT_ERR_NAMES(net(&n, "base EVM chain-id=1 rpc=https://x"), "EVM");
    ASSERT_ERR_NAMES(net(&n, "base evm rpc=https://x"), "chain-id");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=abc rpc=https://x"), "chain-id=abc");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=0 rpc=https://x"), "chain-id");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=-1 rpc=https://x"), "chain-id");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=08453 rpc=https://x"), "chain-id");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=9007199254740992 rpc=https://x"), "chain-id");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=99999999999999999999999 rpc=https://x"), "chain-id");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=1"), "rpc");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=1 rpc=ftp://x"), "rpc=ftp://x");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=1 \"rpc=https://a b\""), "rpc");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=1 rpc=https://x confirmations=1001"), "confirmations");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=1 rpc=https://x timeout=0"), "timeout");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=1 rpc=https://x timeout=601"), "timeout");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=1 rpc=https://x relayer-key=rel.key"), "relayer-key");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=1 rpc=https://x colour=red"), "colour");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=1 rpc=https://x cluster=devnet"), "cluster");
    ASSERT_ERR_NAMES(net(&n, "base evm chain-id=1 rpc=https://x novalue"), "novalue");
    ASSERT_ERR_NAMES(net(&n, "sol solana rpc=https://x"), "cluster");
    ASSERT_ERR_NAMES(net(&n, "sol solana cluster=moon rpc=https://x"), "cluster=moon");
    ASSERT_ERR_NAMES(net(&n, "sol solana cluster=devnet rpc=https://x commitment=fast"), "commitment=fast");
    ASSERT_ERR_NAMES(net(&n, "sol solana cluster=devnet rpc=https://x fee-payer-key=k"), "fee-payer-key");
    ASSERT_ERR_NAMES(net(&n, "sol solana cluster=devnet rpc=https://x chain-id=1"), "chain-id");
}
END_TEST

START_TEST(model_asset_parse)
{
    mpp_asset_t a;

    ck_assert_ptr_null(asset(&a, "usdc network=base address=" USDC_BASE " decimals=6 "
                                 "eip712-name=\"USD Coin\" eip712-version=2"));
    ck_assert_str_eq(a.name, "usdc");
    ck_assert_str_eq(a.network_name, "base");
    ck_assert_str_eq(a.address, USDC_BASE);
    ck_assert_int_eq(a.decimals, 6);
    ck_assert_str_eq(a.eip712_name, "USD Coin");
    ck_assert_str_eq(a.eip712_version, "2");
    ck_assert_ptr_null(asset(&a, "susdc network=sol mint=" SOL_USDC " decimals=0"));
    ck_assert_str_eq(a.address, SOL_USDC);
    ck_assert_int_eq(a.decimals, 0);

    ASSERT_ERR_NAMES(asset(&a, "usdc network=base address=" USDC_BASE " decimals=37"), "decimals");
    ASSERT_ERR_NAMES(asset(&a, "usdc network=base address=" USDC_BASE " decimals=six"), "decimals=six");
    ASSERT_ERR_NAMES(asset(&a, "usdc network=base address=" USDC_BASE), "decimals");
    ASSERT_ERR_NAMES(asset(&a, "usdc address=" USDC_BASE " decimals=6"), "network");
    ASSERT_ERR_NAMES(asset(&a, "usdc network=base decimals=6"), "address");
    ASSERT_ERR_NAMES(asset(&a, "usdc network=base address=" USDC_BASE " decimals=6 colour=blue"), "colour");
    ASSERT_ERR_NAMES(asset(&a, "us\\dc network=base address=" USDC_BASE " decimals=6"), "us\\dc");
}
END_TEST

START_TEST(model_offer_parse)
{
    mpp_offer_t o;

    ck_assert_ptr_null(offer(&o, "basic asset=usdc price=0.01 recipient=" PAYEE " types=authorization,hash "
                                 "expires=60 description=\"Premium API\" tenant-price=0.01..1.00 "
                                 "tenant-recipient=on intent=charge"));
    ck_assert_str_eq(o.name, "basic");
    ck_assert_str_eq(o.intent, "charge");
    ck_assert_str_eq(o.asset_name, "usdc");
    ck_assert_str_eq(o.price, "0.01");
    ck_assert_ptr_null(o.amount);
    ck_assert_int_eq(o.types->nelts, 2);
    ck_assert_str_eq(WD(o.types, 1), "hash");
    ck_assert_int_eq(o.expires, 60);
    ck_assert_str_eq(o.description, "Premium API");
    ck_assert_str_eq(o.tenant_min, "0.01");
    ck_assert_str_eq(o.tenant_max, "1.00");
    ck_assert_int_eq(o.tenant_recipient, 1);
    ck_assert_ptr_null(offer(&o, "fixed asset=usdc amount=123 recipient=" PAYEE));
    ck_assert_str_eq(o.amount, "123");
    ck_assert_int_eq(o.expires, 300);
    ck_assert_ptr_null(o.types);

    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc amount=01 recipient=" PAYEE), "amount=01");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc amount=" U256 " recipient=" PAYEE), "amount");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " types=authorization,permit3"), "permit3");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " types=hash,hash"), "types");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " types=,"), "types");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " expires=5"), "expires=5");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " expires=86401"), "expires");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " tenant-price=1"), "tenant-price");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " tenant-recipient=maybe"), "tenant-recipient");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " intent=session"), "intent=session");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " \"description=a\tb\""), "description");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " colour=red"), "colour");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc price=1 amount=1 recipient=" PAYEE), "amount");
    ASSERT_ERR_NAMES(offer(&o, "b price=1 recipient=" PAYEE), "asset");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc recipient=" PAYEE), "price");
    ASSERT_ERR_NAMES(offer(&o, "b asset=usdc price=1"), "recipient");
    ASSERT_ERR_NAMES(offer(&o, "off asset=usdc price=1 recipient=" PAYEE), "off");
}
END_TEST

typedef struct {
    mpp_network_t base, sol;
    mpp_asset_t usdc, susdc;
    apr_hash_t *nets, *assets;
} world_t;

/* Networks and assets as a configuration would define them. */
static void world(world_t *w)
{
    ck_assert_ptr_null(net(&w->base, "base evm chain-id=8453 rpc=https://mainnet.base.org"));
    ck_assert_ptr_null(net(&w->sol, "sol solana cluster=mainnet-beta rpc=https://api.mainnet-beta.solana.com"));
    w->nets = apr_hash_make(tp);
    apr_hash_set(w->nets, "base", APR_HASH_KEY_STRING, &w->base);
    apr_hash_set(w->nets, "sol", APR_HASH_KEY_STRING, &w->sol);
    ck_assert_ptr_null(asset(&w->usdc, "usdc network=base address=" USDC_BASE " decimals=6 "
                                       "eip712-name=\"USD Coin\" eip712-version=2"));
    ck_assert_ptr_null(mpp_asset_resolve(tp, &w->usdc, w->nets));
    ck_assert_ptr_eq(w->usdc.network, &w->base);
    ck_assert_ptr_null(asset(&w->susdc, "susdc network=sol mint=" SOL_USDC " decimals=6"));
    ck_assert_ptr_null(mpp_asset_resolve(tp, &w->susdc, w->nets));
    w->assets = apr_hash_make(tp);
    apr_hash_set(w->assets, "usdc", APR_HASH_KEY_STRING, &w->usdc);
    apr_hash_set(w->assets, "susdc", APR_HASH_KEY_STRING, &w->susdc);
}

START_TEST(model_asset_resolve_errors)
{
    world_t w;
    mpp_asset_t a;

    world(&w);
    ck_assert_ptr_null(asset(&a, "x network=nowhere address=" USDC_BASE " decimals=6"));
    ASSERT_ERR_NAMES(mpp_asset_resolve(tp, &a, w.nets), "nowhere");
    ck_assert_ptr_null(asset(&a, "x network=base address=0x1234 decimals=6"));
    ASSERT_ERR_NAMES(mpp_asset_resolve(tp, &a, w.nets), "0x1234");
    /* a Solana mint on an EVM network and the reverse */
    ck_assert_ptr_null(asset(&a, "x network=base address=" SOL_USDC " decimals=6"));
    ASSERT_ERR_NAMES(mpp_asset_resolve(tp, &a, w.nets), SOL_USDC);
    ck_assert_ptr_null(asset(&a, "x network=sol mint=" USDC_BASE " decimals=6"));
    ASSERT_ERR_NAMES(mpp_asset_resolve(tp, &a, w.nets), USDC_BASE);
}
END_TEST

START_TEST(model_offer_resolve)
{
    world_t w;
    mpp_offer_t o;
    json_object *r;
    mpp_challenge_t c;

    world(&w);
    ck_assert_ptr_null(offer(&o, "basic asset=usdc price=0.01 recipient=" PAYEE " types=authorization"));
    ck_assert_ptr_null(mpp_offer_resolve(tp, &o, w.assets));
    ck_assert_ptr_eq(o.asset, &w.usdc);
    ck_assert_str_eq(o.amount, "10000");

    /* the request it charges is the E2 request (plus its externalId) */
    r = mpp_offer_request(tp, &o, NULL, NULL);
    json_object_object_add(r, "externalId", json_object_new_string("order-42"));
    ck_assert_str_eq(mpp_jcs(tp, r),
                     "{\"amount\":\"10000\",\"currency\":\"" USDC_BASE "\",\"externalId\":\"order-42\","
                     "\"methodDetails\":{\"chainId\":8453,\"credentialTypes\":[\"authorization\"],"
                     "\"decimals\":6},\"recipient\":\"" PAYEE "\"}");
    c = ch("api.example.com", "evm", "charge", mpp_jcs_b64url(tp, r), "2099-01-01T00:00:00Z", NULL, NULL);
    ck_assert_str_eq(id_for("test-secret-key-test-secret-key-32", &c),
                     "wyhGJvegEx9s6AZmB1C5PfOEvf6npWhq-flEBZU8OO4");

    /* overrides, and every credential type by default */
    ck_assert_ptr_null(offer(&o, "all asset=usdc amount=5 recipient=" PAYEE));
    ck_assert_ptr_null(mpp_offer_resolve(tp, &o, w.assets));
    ck_assert_str_eq(o.amount, "5");
    r = mpp_offer_request(tp, &o, "7", "0x0000000000000000000000000000000000000001");
    ck_assert_str_eq(mpp_jcs(tp, r),
                     "{\"amount\":\"7\",\"currency\":\"" USDC_BASE "\",\"methodDetails\":{\"chainId\":8453,"
                     "\"credentialTypes\":[\"authorization\",\"transaction\",\"hash\"],\"decimals\":6},"
                     "\"recipient\":\"0x0000000000000000000000000000000000000001\"}");

    /* solana */
    ck_assert_ptr_null(offer(&o, "s asset=susdc price=1.5 recipient=" SOL_PAYEE));
    ck_assert_ptr_null(mpp_offer_resolve(tp, &o, w.assets));
    ck_assert_str_eq(o.amount, "1500000");
    ck_assert_str_eq(mpp_jcs(tp, mpp_offer_request(tp, &o, NULL, NULL)),
                     "{\"amount\":\"1500000\",\"currency\":\"" SOL_USDC "\",\"methodDetails\":{\"decimals\":6,"
                     "\"network\":\"mainnet-beta\"},\"recipient\":\"" SOL_PAYEE "\"}");
    ck_assert_ptr_null(mpp_offer_check_address(tp, &o, SOL_USDC));
    ck_assert_ptr_nonnull(mpp_offer_check_address(tp, &o, PAYEE));
}
END_TEST

START_TEST(model_offer_resolve_errors)
{
    world_t w;
    mpp_offer_t o;

    world(&w);
    ck_assert_ptr_null(offer(&o, "b asset=dai price=1 recipient=" PAYEE));
    ASSERT_ERR_NAMES(mpp_offer_resolve(tp, &o, w.assets), "dai");
    ck_assert_ptr_null(offer(&o, "b asset=usdc price=0.0000001 recipient=" PAYEE));
    ASSERT_ERR_NAMES(mpp_offer_resolve(tp, &o, w.assets), "price=0.0000001");
    ck_assert_ptr_null(offer(&o, "b asset=usdc price=1e3 recipient=" PAYEE));
    ASSERT_ERR_NAMES(mpp_offer_resolve(tp, &o, w.assets), "price=1e3");
    ck_assert_ptr_null(offer(&o, "b asset=usdc price=1 recipient=0xnope"));
    ASSERT_ERR_NAMES(mpp_offer_resolve(tp, &o, w.assets), "0xnope");
    ck_assert_ptr_null(offer(&o, "b asset=susdc price=1 recipient=" PAYEE));
    ASSERT_ERR_NAMES(mpp_offer_resolve(tp, &o, w.assets), "recipient");
    ck_assert_ptr_null(offer(&o, "b asset=susdc price=1 recipient=" SOL_PAYEE " types=hash"));
    ASSERT_ERR_NAMES(mpp_offer_resolve(tp, &o, w.assets), "types");
    ck_assert_ptr_null(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " tenant-price=2..1"));
    ASSERT_ERR_NAMES(mpp_offer_resolve(tp, &o, w.assets), "2..1");
    ck_assert_ptr_null(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " tenant-price=x..1"));
    ASSERT_ERR_NAMES(mpp_offer_resolve(tp, &o, w.assets), "tenant-price");
    ck_assert_ptr_null(offer(&o, "b asset=usdc price=1 recipient=" PAYEE " tenant-price=0..0.0000001"));
    ASSERT_ERR_NAMES(mpp_offer_resolve(tp, &o, w.assets), "tenant-price");
}
END_TEST

START_TEST(model_tenant_range)
{
    world_t w;
    mpp_offer_t o;
    char *amt = NULL;

    world(&w);
    ck_assert_ptr_null(offer(&o, "t asset=usdc price=0.01 recipient=" PAYEE " tenant-price=0.01..1.00"));
    ck_assert_ptr_null(mpp_offer_resolve(tp, &o, w.assets));
    ck_assert_str_eq(o.tenant_min_units, "10000");
    ck_assert_str_eq(o.tenant_max_units, "1000000");

    ck_assert_ptr_null(mpp_offer_tenant_amount(tp, &o, "0.5", &amt));
    ck_assert_str_eq(amt, "500000");
    ck_assert_ptr_null(mpp_offer_tenant_amount(tp, &o, "0.01", &amt));
    ck_assert_str_eq(amt, "10000");
    ck_assert_ptr_null(mpp_offer_tenant_amount(tp, &o, "1", &amt));
    ck_assert_str_eq(amt, "1000000");
    ASSERT_ERR_NAMES(mpp_offer_tenant_amount(tp, &o, "1.000001", &amt), "1.000001");
    ASSERT_ERR_NAMES(mpp_offer_tenant_amount(tp, &o, "0.009999", &amt), "0.009999");
    ASSERT_ERR_NAMES(mpp_offer_tenant_amount(tp, &o, "1000", &amt), "1000");
    ASSERT_ERR_NAMES(mpp_offer_tenant_amount(tp, &o, "0.0000001", &amt), "0.0000001");
    ASSERT_ERR_NAMES(mpp_offer_tenant_amount(tp, &o, "-1", &amt), "-1");
    ck_assert_ptr_nonnull(mpp_offer_tenant_amount(tp, &o, "", &amt));

    /* an offer without a tenant range refuses tenant prices */
    ck_assert_ptr_null(offer(&o, "fixed asset=usdc price=0.01 recipient=" PAYEE));
    ck_assert_ptr_null(mpp_offer_resolve(tp, &o, w.assets));
    ASSERT_ERR_NAMES(mpp_offer_tenant_amount(tp, &o, "0.5", &amt), "fixed");
}
END_TEST

Suite *suite_model(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase("model");
    tcase_add_test(tc, model_network_parse);
    tcase_add_test(tc, model_network_errors);
    tcase_add_test(tc, model_asset_parse);
    tcase_add_test(tc, model_offer_parse);
    tcase_add_test(tc, model_asset_resolve_errors);
    tcase_add_test(tc, model_offer_resolve);
    tcase_add_test(tc, model_offer_resolve_errors);
    tcase_add_test(tc, model_tenant_range);
    suite_add_tcase(s, tc);
    return s;
}

/* ------------------------------------------------------------------ */
/* mpp_verify                                                          */

/* Server-verification rows, key "secret-key": a route on api.example.com
 * charging amount 100 through tempo/charge. */
#define VKEY "secret-key"
#define VREQ "{\"amount\":\"100\",\"currency\":\"0xabc\",\"recipient\":\"0xdef\"}"
#define VREQ101 "{\"amount\":\"101\",\"currency\":\"0xabc\",\"recipient\":\"0xdef\"}"
#define VEXP "2099-01-01T00:00:00Z"
#define ID_VALID "Ip25HCkqcMaW6FT_ziOG9BT58-7_KEwkzhdUwX8tmI8"
#define ID_OTHER_REALM "5bvdhCxnhMgsFeY9fTRAC3VmMt0Ld6DXzxEJJYy3xwA"
#define ID_AMOUNT_101 "7GP4Y_f3WLVmwN1x7chOMK1TfJrwoBRnmKm2k_YpuVM"
#define ID_NO_EXPIRES "73URalxGl0MMCrlT4Yx32M5SQduyaDXWvs2rINyPPFA"
#define ID_EXPIRED "FvOsbLHtxODU_85N-iRtmoHPXtWdslgkA-vT15rLMXo"

static const mpp_keys_t VKEYS = { (const unsigned char *)VKEY, 10, NULL, 0 };

/* An echo as a credential carries it: request as base64url text, decoded too. */
static mpp_challenge_t echo(const char *id, const char *realm, const char *request_b64,
                            const char *expires)
{
    const char *err;
    mpp_challenge_t c = ch(realm, "tempo", "charge", request_b64, expires, NULL, NULL);
    c.id = id;
    c.request_obj = mpp_json_from_b64url(tp, request_b64, MPP_MAX_JSON, MPP_MAX_JSON_DEPTH, &err);
    ck_assert_ptr_nonnull(c.request_obj);
    return c;
}

static mpp_expect_t route(void)
{
    mpp_expect_t x;
    memset(&x, 0, sizeof(x));
    x.realm = "api.example.com";
    x.method = "tempo";
    x.intent = "charge";
    x.request = req_b64(VREQ);
    return x;
}

static apr_time_t vnow(void)
{
    return apr_time_from_sec(T2026);
}

static mpp_problem_t verify(const mpp_keys_t *k, const mpp_challenge_t *e, const mpp_expect_t *x,
                            apr_time_t now, const char **detail)
{
    *detail = "unset";
    return mpp_verify_echo(tp, k, e, x, now, detail);
}

START_TEST(verify_valid)
{
    mpp_challenge_t e = echo(ID_VALID, "api.example.com", req_b64(VREQ), VEXP);
    mpp_expect_t x = route();
    const char *d;
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_OK);
    ck_assert_ptr_null(d);
    /* expiry equal to now is still valid */
    ck_assert_int_eq(verify(&VKEYS, &e, &x, apr_time_from_sec(4070908800LL), &d), MPP_OK);
}
END_TEST

START_TEST(verify_e1_credential)
{
    /* the mppx-produced credential against the route that issued it */
    const char *key = "test-secret-key-test-secret-key-32", *err, *d;
    mpp_keys_t k = { (const unsigned char *)key, strlen(key), NULL, 0 };
    mpp_credential_t c;
    mpp_expect_t x;

    ck_assert_int_eq(mpp_credential_parse(tp, E1_AUTH, &c, &err), MPP_CRED_OK);
    memset(&x, 0, sizeof(x));
    x.realm = "api.example.com";
    x.method = "mock";
    x.intent = "charge";
    x.request = req_b64("{\"amount\":\"1000\",\"currency\":\"usd\",\"recipient\":\"acct_1\"}");
    ck_assert_int_eq(verify(&k, &c.challenge, &x, vnow(), &d), MPP_OK);
    /* description is not bound: changing it alone is accepted */
    c.challenge.description = "something else";
    ck_assert_int_eq(verify(&k, &c.challenge, &x, vnow(), &d), MPP_OK);
}
END_TEST

START_TEST(verify_tampered)
{
    mpp_expect_t x = route();
    mpp_challenge_t e;
    const char *d;
    char *id = apr_pstrdup(tp, ID_VALID);

    /* id altered */
    id[0] = 'J';
    e = echo(id, "api.example.com", req_b64(VREQ), VEXP);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    ck_assert_ptr_nonnull(d);
    e = echo("", "api.example.com", req_b64(VREQ), VEXP);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    e = echo(ID_VALID "x", "api.example.com", req_b64(VREQ), VEXP);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    /* realm, request, expires, method, digest and opaque altered under the same id */
    e = echo(ID_VALID, "other.example.com", req_b64(VREQ), VEXP);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    e = echo(ID_VALID, "api.example.com", req_b64(VREQ101), VEXP);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    e = echo(ID_VALID, "api.example.com", req_b64(VREQ), "2099-01-02T00:00:00Z");
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    e = echo(ID_VALID, "api.example.com", req_b64(VREQ), VEXP);
    e.method = "stripe";
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    e = echo(ID_VALID, "api.example.com", req_b64(VREQ), VEXP);
    e.digest = "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:";
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    e = echo(ID_VALID, "api.example.com", req_b64(VREQ), VEXP);
    e.opaque = "e30";
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    /* another secret */
    {
        mpp_keys_t k = { (const unsigned char *)"secret-kez", 10, NULL, 0 };
        e = echo(ID_VALID, "api.example.com", req_b64(VREQ), VEXP);
        ck_assert_int_eq(verify(&k, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    }
}
END_TEST

START_TEST(verify_pinned_fields)
{
    /* validly HMACed under the same secret, but issued for another realm
     * or price: refused by the pinned-field check */
    mpp_expect_t x = route();
    mpp_challenge_t e;
    const char *d;

    e = echo(ID_OTHER_REALM, "other.example.com", req_b64(VREQ), VEXP);
    ck_assert_str_eq(id_for(VKEY, &e), ID_OTHER_REALM);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    ck_assert_ptr_nonnull(strstr(d, "realm"));

    e = echo(ID_AMOUNT_101, "api.example.com", req_b64(VREQ101), VEXP);
    ck_assert_str_eq(id_for(VKEY, &e), ID_AMOUNT_101);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    ck_assert_ptr_nonnull(strstr(d, "request"));

    /* method and intent are pinned as well */
    e = echo(NULL, "api.example.com", req_b64(VREQ), VEXP);
    e.intent = "session";
    e.id = id_for(VKEY, &e);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    ck_assert_ptr_nonnull(strstr(d, "intent"));
    e = echo(NULL, "api.example.com", req_b64(VREQ), VEXP);
    e.method = "stripe";
    e.id = id_for(VKEY, &e);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    ck_assert_ptr_nonnull(strstr(d, "method"));
}
END_TEST

START_TEST(verify_recanonicalises_request)
{
    /* a client that re-encoded the request (other key order) is still bound */
    mpp_expect_t x = route();
    const char *d;
    mpp_challenge_t e = echo(ID_VALID, "api.example.com",
                             b64s("{\"recipient\":\"0xdef\",\"currency\":\"0xabc\",\"amount\":\"100\"}"), VEXP);
    ck_assert_str_ne(e.request, x.request);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_OK);
}
END_TEST

START_TEST(verify_expiry)
{
    mpp_expect_t x = route();
    mpp_challenge_t e;
    const char *d;

    /* no expires, though the HMAC over the expires-less params is valid */
    e = echo(ID_NO_EXPIRES, "api.example.com", req_b64(VREQ), NULL);
    ck_assert_str_eq(id_for(VKEY, &e), ID_NO_EXPIRES);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    ck_assert_ptr_nonnull(strstr(d, "expires"));

    /* past */
    e = echo(ID_EXPIRED, "api.example.com", req_b64(VREQ), "2020-01-01T00:00:00Z");
    ck_assert_str_eq(id_for(VKEY, &e), ID_EXPIRED);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_PAYMENT_EXPIRED);
    ck_assert_ptr_nonnull(d);
    ck_assert_int_eq(mpp_problem_status(MPP_P_PAYMENT_EXPIRED), 402);

    /* one microsecond late */
    e = echo(ID_VALID, "api.example.com", req_b64(VREQ), VEXP);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, apr_time_from_sec(4070908800LL) + 1, &d), MPP_P_PAYMENT_EXPIRED);

    /* unparseable, validly bound */
    e = echo(NULL, "api.example.com", req_b64(VREQ), "tomorrow");
    e.id = id_for(VKEY, &e);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    ck_assert_ptr_nonnull(strstr(d, "expires"));
}
END_TEST

START_TEST(verify_previous_key)
{
    const char *cur = "a-new-secret-after-rotation-0000";
    mpp_keys_t rotated = { (const unsigned char *)cur, strlen(cur), (const unsigned char *)VKEY, 10 };
    mpp_keys_t only_new = { (const unsigned char *)cur, strlen(cur), NULL, 0 };
    mpp_keys_t other_prev = { (const unsigned char *)cur, strlen(cur), (const unsigned char *)"old-secret", 10 };
    mpp_expect_t x = route();
    mpp_challenge_t e = echo(ID_VALID, "api.example.com", req_b64(VREQ), VEXP), f;
    const char *d;

    ck_assert_int_eq(verify(&rotated, &e, &x, vnow(), &d), MPP_OK);
    ck_assert_int_eq(verify(&only_new, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    ck_assert_int_eq(verify(&other_prev, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    /* the current key works as well */
    f = echo(NULL, "api.example.com", req_b64(VREQ), VEXP);
    f.id = id_for(cur, &f);
    ck_assert_int_eq(verify(&rotated, &f, &x, vnow(), &d), MPP_OK);
    /* the previous key does not lift the other checks */
    e = echo(ID_EXPIRED, "api.example.com", req_b64(VREQ), "2020-01-01T00:00:00Z");
    ck_assert_int_eq(verify(&rotated, &e, &x, vnow(), &d), MPP_P_PAYMENT_EXPIRED);
}
END_TEST

START_TEST(verify_opaque_scope)
{
    mpp_expect_t x = route();
    mpp_challenge_t e;
    const char *d, *err;
    char *op = mpp_opaque_for_scope(tp, "GET /api/a"), *op2 = mpp_opaque_for_scope(tp, "GET /api/a");
    json_object *o;

    /* base64url of a flat {nonce, scope} object, random per call */
    ck_assert_ptr_nonnull(op);
    ck_assert_str_ne(op, op2);
    o = mpp_json_from_b64url(tp, op, 1024, 2, &err);
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(mpp_json_str(o, "scope"), "GET /api/a");
    ck_assert_ptr_nonnull(mpp_json_str(o, "nonce"));
    ck_assert_str_eq(mpp_jcs_b64url(tp, o), op);

    e = echo(NULL, "api.example.com", req_b64(VREQ), VEXP);
    e.opaque = op;
    e.id = id_for(VKEY, &e);
    x.scope = "GET /api/a";
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_OK);
    /* the same credential presented at another place */
    x.scope = "GET /api/b";
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    x.scope = "GET /api/a/";
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    /* a place without scope refuses an opaque; a scoped place needs one */
    x.scope = NULL;
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    e = echo(ID_VALID, "api.example.com", req_b64(VREQ), VEXP);
    x.scope = "GET /api/a";
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    /* an opaque with the scope but extra members, or not JSON, is refused */
    e = echo(NULL, "api.example.com", req_b64(VREQ), VEXP);
    e.opaque = req_b64("{\"nonce\":\"n\",\"scope\":\"GET /api/a\",\"x\":\"y\"}");
    e.id = id_for(VKEY, &e);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    e.opaque = "trace-123";
    e.id = id_for(VKEY, &e);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    e.opaque = req_b64("{\"nonce\":\"n\",\"scope\":\"GET /api/a\"}");
    e.id = id_for(VKEY, &e);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_OK);
}
END_TEST

START_TEST(verify_digest)
{
    mpp_expect_t x = route();
    mpp_challenge_t e;
    unsigned char body[32], other[32];
    const char *d;

    sha(HELLO_BODY, body);
    sha("{\"hello\": \"mallory\"}", other);
    e = echo(NULL, "api.example.com", req_b64(VREQ), VEXP);
    e.digest = mpp_digest_format(tp, body);
    e.id = id_for(VKEY, &e);

    x.body_sha256 = body;
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_OK);
    x.body_sha256 = other;
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    ck_assert_ptr_nonnull(strstr(d, "digest"));
    /* a digest but no body */
    x.body_sha256 = NULL;
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    /* a body but a challenge without digest */
    e = echo(ID_VALID, "api.example.com", req_b64(VREQ), VEXP);
    x.body_sha256 = body;
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_P_INVALID_CHALLENGE);
    /* the mppx unwrapped form binds and matches too */
    e = echo(NULL, "api.example.com", req_b64(VREQ), VEXP);
    e.digest = "sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=";
    e.id = id_for(VKEY, &e);
    ck_assert_int_eq(verify(&VKEYS, &e, &x, vnow(), &d), MPP_OK);
}
END_TEST

START_TEST(verify_pick)
{
    mpp_expect_t x[3];
    mpp_challenge_t e;

    x[0] = route();
    x[1] = route();
    x[1].request = req_b64(VREQ101);
    x[2] = route();
    x[2].method = "evm";

    /* the expectation whose request equals the echoed one */
    e = echo(ID_AMOUNT_101, "api.example.com", req_b64(VREQ101), VEXP);
    ck_assert_int_eq(mpp_verify_pick(tp, &e, x, 3), 1);
    /* after canonicalisation */
    e = echo("id", "api.example.com", b64s("{\"recipient\":\"0xdef\",\"currency\":\"0xabc\",\"amount\":\"101\"}"), VEXP);
    ck_assert_int_eq(mpp_verify_pick(tp, &e, x, 3), 1);
    e = echo(ID_VALID, "api.example.com", req_b64(VREQ), VEXP);
    ck_assert_int_eq(mpp_verify_pick(tp, &e, x, 3), 0);
    /* no request match: the first with that method and intent */
    e = echo("id", "api.example.com", req_b64("{\"amount\":\"5\"}"), VEXP);
    ck_assert_int_eq(mpp_verify_pick(tp, &e, x, 3), 0);
    e.method = "evm";
    ck_assert_int_eq(mpp_verify_pick(tp, &e, x, 3), 2);
    /* an unoffered method or intent */
    e.method = "stripe";
    ck_assert_int_eq(mpp_verify_pick(tp, &e, x, 3), -1);
    e.method = "tempo";
    e.intent = "session";
    ck_assert_int_eq(mpp_verify_pick(tp, &e, x, 3), -1);
    ck_assert_int_eq(mpp_verify_pick(tp, &e, x, 0), -1);
}
END_TEST

Suite *suite_verify(void)
{
    Suite *s = suite_create("verify");
    TCase *tc = tcase("verify");
    tcase_add_test(tc, verify_valid);
    tcase_add_test(tc, verify_e1_credential);
    tcase_add_test(tc, verify_tampered);
    tcase_add_test(tc, verify_pinned_fields);
    tcase_add_test(tc, verify_recanonicalises_request);
    tcase_add_test(tc, verify_expiry);
    tcase_add_test(tc, verify_previous_key);
    tcase_add_test(tc, verify_opaque_scope);
    tcase_add_test(tc, verify_digest);
    tcase_add_test(tc, verify_pick);
    suite_add_tcase(s, tc);
    return s;
}
