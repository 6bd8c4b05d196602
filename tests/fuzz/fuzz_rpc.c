/* A chain node's JSON-RPC answers, through the real client (mpp_rpc_call:
 * libcurl, the size cap, the strict JSON reader, id, error and result
 * handling) and then through what the evm method and the unlock handler do
 * with a result: receipts (status, Transfer logs, blockNumber) and
 * quantities (gas, gas price, nonce, block number).
 *
 * A loopback HTTP server thread serves the input as the answer body. The
 * input may hold two bodies separated by a NUL byte (JSON has none): the
 * first endpoint serves the first, the second endpoint the second, so the
 * fall-over to the next endpoint is reached. "@ID" in a body becomes the
 * request's id (the client checks it, and it changes with every call).
 * Invariants: OK has a result (or JSON null), an error reply has a message,
 * receipts classify the same with a payer as at most without one. */
#include "fuzz.h"

#include <apr_strings.h>
#include <arpa/inet.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mpp_addr.h"
#include "mpp_evm.h"
#include "mpp_json.h"
#include "mpp_rpc.h"
#include "mpp_u256.h"

static int lfd = -1;
static mpp_rpc_t rpc;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
/* the server's own copies: the client may give up (size cap, timeout)
 * while the server still writes, after libFuzzer reused the input */
static uint8_t *bodies[2];
static size_t body_len[2];
static int served;

static int send_all(int c, const char *b, size_t n)
{
    while (n) {
        ssize_t k = send(c, b, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads one request (head and Content-Length body); the request id, or -1. */
static long long read_request(int c)
{
    char buf[16384];
    size_t n = 0;
    long long id = -1;
    for (;;) {
        ssize_t k;
        char *end = memmem(buf, n, "\r\n\r\n", 4), *cl, *idp;
        if (end) {
            size_t head = (size_t)(end - buf) + 4, want = 0;
            buf[head - 1] = '\0';
            cl = strcasestr(buf, "\r\ncontent-length:");
            if (cl) want = (size_t)strtoul(cl + 17, NULL, 10);
            if (n >= head + want || n == sizeof(buf) - 1) {
                buf[n] = '\0';
                if ((idp = strstr(buf + head, "\"id\":"))) id = strtoll(idp + 5, NULL, 10);
                return id;
            }
            buf[head - 1] = '\n';
        }
        if (n == sizeof(buf) - 1) return -1;
        k = recv(c, buf + n, sizeof(buf) - 1 - n, 0);
        if (k <= 0) return -1;
        n += (size_t)k;
    }
}

static void *serve(void *arg)
{
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        long long id;
        uint8_t *b;
        size_t bl, k;
        char *out, idtxt[32];
        size_t o = 0;
        if (c < 0) continue;
        id = read_request(c);
        pthread_mutex_lock(&mu);
        k = served < 1 ? 0 : 1;
        bl = body_len[k];
        b = malloc(bl ? bl : 1);
        if (bl) memcpy(b, bodies[k], bl);
        served++;
        pthread_mutex_unlock(&mu);
        snprintf(idtxt, sizeof(idtxt), "%lld", id);
        /* every "@ID" (3 bytes) becomes at most 20 digits */
        out = malloc(bl * 7 + 1);
        for (size_t i = 0; i < bl;) {
            if (i + 3 <= bl && !memcmp(b + i, "@ID", 3)) {
                memcpy(out + o, idtxt, strlen(idtxt));
                o += strlen(idtxt);
                i += 3;
            }
            else out[o++] = (char)b[i++];
        }
        {
            char h[128];
            int hn = snprintf(h, sizeof(h), "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              "Content-Length: %zu\r\nConnection: close\r\n\r\n", o);
            if (!send_all(c, h, (size_t)hn)) send_all(c, out, o);
        }
        free(out);
        free(b);
        close(c);
    }
    return arg;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    pthread_t t;
    apr_pool_t *p;
    const char *url;

    fuzz_init();
    p = fuzz_forever();
    /* a proxy from the environment must not see these calls */
    unsetenv("http_proxy");
    unsetenv("HTTP_PROXY");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
    if (mpp_rpc_global_init()) abort();
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a))
        || listen(lfd, 16) || getsockname(lfd, (struct sockaddr *)&a, &al))
        abort();
    url = apr_psprintf(p, "http://127.0.0.1:%d/", ntohs(a.sin_port));
    rpc.urls = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(rpc.urls, const char *) = url;
    APR_ARRAY_PUSH(rpc.urls, const char *) = url;
    rpc.timeout_ms = 5000;
    rpc.connect_timeout_ms = 2000;
    rpc.max_response = 1 << 20;
    if (pthread_create(&t, NULL, serve, NULL)) abort();
    pthread_detach(t);
    return 0;
}

static const unsigned char TOKEN[20] = { 0x5f, 0xbd, 0xb2, 0x31, 0x56, 0x78, 0xaf, 0xec, 0xb3, 0x67,
                                         0xf0, 0x32, 0xd9, 0x3f, 0x64, 0x2f, 0x64, 0x18, 0x0a, 0xa3 };
static const unsigned char RCPT[20] = { 0x3c, 0x44, 0xcd, 0xdd, 0xb6, 0xa9, 0x00, 0xfa, 0x2b, 0x58,
                                        0x5d, 0xd2, 0x99, 0xe0, 0x3d, 0x12, 0xfa, 0x42, 0x93, 0xbc };
static const unsigned char FROM[20] = { 0x15, 0xd3, 0x4a, 0xaf, 0x54, 0x26, 0x7d, 0xb7, 0xd7, 0xc3,
                                        0x67, 0x83, 0x9a, 0xaf, 0x71, 0xa0, 0x0a, 0x2c, 0x6a, 0x65 };

/* What await_receipt and the unlock handler read of a result. */
static void use_result(apr_pool_t *p, json_object *r)
{
    unsigned char q[32], amount[32];
    apr_uint64_t u;
    if (!r) return;
    if (json_object_is_type(r, json_type_string)) {
        if (!mpp_u256_from_quantity(json_object_get_string(r), q)) {
            char *back = mpp_u256_to_quantity(p, q);
            FUZZ_ASSERT(!strcasecmp(back, json_object_get_string(r)), "quantity %s reads back as %s",
                        json_object_get_string(r), back);
            mpp_u256_to_u64(q, &u);
        }
        return;
    }
    if (!json_object_is_type(r, json_type_object)) return;
    mpp_json_str(r, "status");
    mpp_evm_receipt_sender_is(r, FROM);
    if (mpp_json_str(r, "blockNumber") && !mpp_u256_from_quantity(mpp_json_str(r, "blockNumber"), q))
        mpp_u256_to_u64(q, &u);
    mpp_u256_from_u64(10000, amount);
    {
        mpp_evm_transfer_t any = mpp_evm_receipt_transfer(r, TOKEN, RCPT, NULL, amount);
        mpp_evm_transfer_t from = mpp_evm_receipt_transfer(r, TOKEN, RCPT, FROM, amount);
        /* naming the payer can only narrow what counts */
        FUZZ_ASSERT(from <= any, "a payer made a receipt pay more (%d > %d)", (int)from, (int)any);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_begin();
    const uint8_t *nul = size ? memchr(data, 0, size) : NULL;
    json_object *result = NULL;
    long code = 0;
    const char *err = NULL;
    mpp_rpc_rc_t rc;

    pthread_mutex_lock(&mu);
    body_len[0] = nul ? (size_t)(nul - data) : size;
    body_len[1] = nul ? size - body_len[0] - 1 : size;
    for (int i = 0; i < 2; i++) {
        free(bodies[i]);
        bodies[i] = malloc(body_len[i] ? body_len[i] : 1);
        if (body_len[i]) memcpy(bodies[i], i && nul ? nul + 1 : data, body_len[i]);
    }
    served = 0;
    pthread_mutex_unlock(&mu);

    rc = mpp_rpc_call(p, &rpc, "eth_getTransactionReceipt",
                      json_object_new_array(), &result, &code, &err);
    switch (rc) {
    case MPP_RPC_OK:
        use_result(p, result);
        break;
    case MPP_RPC_ERROR_REPLY:
        FUZZ_ASSERT(err != NULL, "an error reply without a message");
        break;
    case MPP_RPC_UNREACHABLE:
        FUZZ_ASSERT(err != NULL, "unreachable without a reason");
        break;
    default:
        FUZZ_ASSERT(0, "unknown return code %d", (int)rc);
    }
    fuzz_end();
    return 0;
}
