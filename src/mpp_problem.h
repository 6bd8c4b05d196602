/* RFC 9457 problem details with the Payment scheme's problem types. */
#ifndef MPP_PROBLEM_H
#define MPP_PROBLEM_H

#include <apr_pools.h>

typedef enum {
    MPP_OK = 0,
    MPP_P_PAYMENT_REQUIRED,
    MPP_P_PAYMENT_INSUFFICIENT,
    MPP_P_PAYMENT_EXPIRED,
    MPP_P_VERIFICATION_FAILED,
    MPP_P_METHOD_UNSUPPORTED,
    MPP_P_MALFORMED_CREDENTIAL,
    MPP_P_INVALID_CHALLENGE,
    MPP_P_INVALID_PAYLOAD,
    MPP_P_BAD_REQUEST,
    MPP_P_FORBIDDEN,           /* about:blank, 403 (e.g. TLS required) */
    MPP_P_UNAVAILABLE,         /* about:blank, 503 */
    MPP_P_BAD_GATEWAY,         /* about:blank, 502 */
    MPP_P_TOO_LARGE,           /* about:blank, 413 */
    MPP_P_NOT_FOUND,           /* about:blank, 404 */
    MPP_P_TOO_MANY,            /* about:blank, 429 */
    MPP_P_INTERNAL,            /* about:blank, 500 */
    MPP_P__COUNT
} mpp_problem_t;

const char *mpp_problem_type(mpp_problem_t t);   /* full URI */
const char *mpp_problem_slug(mpp_problem_t t);   /* e.g. "invalid-challenge" */
const char *mpp_problem_title(mpp_problem_t t);
int mpp_problem_status(mpp_problem_t t);

/* The JSON body; hint and challenge_id may be NULL. */
char *mpp_problem_json(apr_pool_t *p, mpp_problem_t t, const char *detail,
                       const char *hint, const char *challenge_id);

#endif
