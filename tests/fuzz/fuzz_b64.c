/* Strict base64url decoding and both encoders. Invariants: a text decodes
 * only if it is the one canonical encoding of its bytes (encode(decode(t))
 * == t), any bytes survive encode then decode, output sizes are exact, and
 * the standard alphabet differs from base64url only in its two characters
 * and the padding. */
#include "fuzz.h"

#include "mpp_b64.h"
#include "mpp_utf8.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const char *text = fuzz_str(p, data, size);
    unsigned char *out = NULL;
    apr_size_t outlen = 0;

    /* the input as a base64url text */
    if (mpp_b64url_decode(p, text, size, &out, &outlen) == 0) {
        const char *again = mpp_b64url_encode(p, out, outlen);
        FUZZ_ASSERT(size % 4 != 1, "accepted a length of 1 mod 4");
        FUZZ_ASSERT(outlen == size * 3 / 4, "decoded %zu chars to %zu bytes", size, (size_t)outlen);
        FUZZ_ASSERT(out[outlen] == '\0', "decoded bytes are not NUL-terminated");
        FUZZ_ASSERT(strlen(again) == size && !memcmp(again, data, size),
                    "decoded text is not canonical: %s -> %s", text, again);
    }

    /* the input as bytes */
    {
        const char *enc = mpp_b64url_encode(p, data, size), *std = mpp_b64std_encode(p, data, size);
        size_t elen = strlen(enc), slen = strlen(std);
        FUZZ_ASSERT(elen == (size * 4 + 2) / 3, "encoded %zu bytes to %zu chars", size, elen);
        FUZZ_ASSERT(slen == (size + 2) / 3 * 4, "std-encoded %zu bytes to %zu chars", size, slen);
        FUZZ_ASSERT(mpp_b64url_decode(p, enc, elen, &out, &outlen) == 0, "own encoding refused: %s", enc);
        FUZZ_ASSERT(outlen == size && (!size || !memcmp(out, data, size)), "round trip changed the bytes");
        for (size_t i = 0; i < slen; i++) {
            char u = i < elen ? enc[i] : '=';
            if (u == '-') u = '+';
            else if (u == '_') u = '/';
            FUZZ_ASSERT(std[i] == u, "standard and url alphabets disagree at %zu", i);
        }
    }

    /* UTF-8 writer and checker agree on every code point the input names */
    if (size >= 3) {
        unsigned cp = ((unsigned)data[0] << 16 | (unsigned)data[1] << 8 | data[2]) % 0x110000;
        char buf[4];
        apr_size_t o = 0;
        mpp_utf8_put(buf, &o, cp);
        FUZZ_ASSERT(o >= 1 && o <= 4, "code point %x took %zu bytes", cp, (size_t)o);
        FUZZ_ASSERT(mpp_utf8_valid((const unsigned char *)buf, o) == !(cp >= 0xd800 && cp <= 0xdfff),
                    "utf8_valid disagrees with utf8_put on U+%04X", cp);
    }
    fuzz_end();
    return 0;
}
