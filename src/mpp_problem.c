#include "mpp_problem.h"
#include "mpp_json.h"

#include <apr_strings.h>

#define BASE "https://paymentauth.org/problems/"

static const struct { const char *slug, *title; int status; } P[MPP_P__COUNT] = {
    [MPP_OK] = { NULL, "OK", 200 },
    [MPP_P_PAYMENT_REQUIRED] = { "payment-required", "Payment Required", 402 },
    [MPP_P_PAYMENT_INSUFFICIENT] = { "payment-insufficient", "Payment Insufficient", 402 },
    [MPP_P_PAYMENT_EXPIRED] = { "payment-expired", "Payment Expired", 402 },
    [MPP_P_VERIFICATION_FAILED] = { "verification-failed", "Verification Failed", 402 },
    [MPP_P_METHOD_UNSUPPORTED] = { "method-unsupported", "Method Unsupported", 400 },
    [MPP_P_MALFORMED_CREDENTIAL] = { "malformed-credential", "Malformed Credential", 402 },
    [MPP_P_INVALID_CHALLENGE] = { "invalid-challenge", "Invalid Challenge", 402 },
    [MPP_P_INVALID_PAYLOAD] = { "invalid-payload", "Invalid Payload", 402 },
    [MPP_P_BAD_REQUEST] = { "bad-request", "Bad Request", 400 },
    [MPP_P_FORBIDDEN] = { NULL, "Forbidden", 403 },
    [MPP_P_UNAVAILABLE] = { NULL, "Service Unavailable", 503 },
    [MPP_P_BAD_GATEWAY] = { NULL, "Bad Gateway", 502 },
    [MPP_P_TOO_LARGE] = { NULL, "Content Too Large", 413 },
    [MPP_P_NOT_FOUND] = { NULL, "Not Found", 404 },
    [MPP_P_TOO_MANY] = { NULL, "Too Many Requests", 429 },
    [MPP_P_INTERNAL] = { NULL, "Internal Server Error", 500 },
};

static const char *const TYPES[MPP_P__COUNT] = {
    [MPP_P_PAYMENT_REQUIRED] = BASE "payment-required",
    [MPP_P_PAYMENT_INSUFFICIENT] = BASE "payment-insufficient",
    [MPP_P_PAYMENT_EXPIRED] = BASE "payment-expired",
    [MPP_P_VERIFICATION_FAILED] = BASE "verification-failed",
    [MPP_P_METHOD_UNSUPPORTED] = BASE "method-unsupported",
    [MPP_P_MALFORMED_CREDENTIAL] = BASE "malformed-credential",
    [MPP_P_INVALID_CHALLENGE] = BASE "invalid-challenge",
    [MPP_P_INVALID_PAYLOAD] = BASE "invalid-payload",
    [MPP_P_BAD_REQUEST] = BASE "bad-request",
};

const char *mpp_problem_type(mpp_problem_t t)
{
    return (t > 0 && t < MPP_P__COUNT && TYPES[t]) ? TYPES[t] : "about:blank";
}

const char *mpp_problem_slug(mpp_problem_t t)
{
    return (t >= 0 && t < MPP_P__COUNT && P[t].slug) ? P[t].slug : "none";
}

const char *mpp_problem_title(mpp_problem_t t)
{
    return (t >= 0 && t < MPP_P__COUNT) ? P[t].title : "Internal Server Error";
}

int mpp_problem_status(mpp_problem_t t)
{
    return (t >= 0 && t < MPP_P__COUNT) ? P[t].status : 500;
}

char *mpp_problem_json(apr_pool_t *p, mpp_problem_t t, const char *detail,
                       const char *hint, const char *challenge_id)
{
    /* JCS, written directly: the members in their sorted order */
    return apr_pstrcat(p, "{",
                       challenge_id ? "\"challengeId\":" : "", challenge_id ? mpp_json_quote(p, challenge_id) : "",
                       challenge_id ? "," : "",
                       "\"detail\":", mpp_json_quote(p, detail ? detail : mpp_problem_title(t)), ",",
                       hint ? "\"hint\":" : "", hint ? mpp_json_quote(p, hint) : "", hint ? "," : "",
                       "\"status\":", apr_itoa(p, mpp_problem_status(t)), ",",
                       "\"title\":", mpp_json_quote(p, mpp_problem_title(t)), ",",
                       "\"type\":", mpp_json_quote(p, mpp_problem_type(t)), "}", NULL);
}
