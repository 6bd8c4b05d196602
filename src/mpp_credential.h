/* The `Authorization: Payment <base64url JSON>` credential. */
#ifndef MPP_CREDENTIAL_H
#define MPP_CREDENTIAL_H

#include "mpp_challenge.h"

typedef struct {
    mpp_challenge_t challenge; /* the echo; challenge.request is the base64url string */
    json_object *payload;      /* method-specific proof (an object) */
    json_object *source;       /* optional payer identity (string or object) */
} mpp_credential_t;

typedef enum {
    MPP_CRED_OK = 0,
    MPP_CRED_NONE,      /* no Payment element in the header */
    MPP_CRED_MULTIPLE,  /* more than one Payment credential */
    MPP_CRED_MALFORMED  /* bad base64url, JSON or structure */
} mpp_cred_status_t;

/* Parse an Authorization header value (several comma-joined credentials are
 * how httpd presents repeated headers). */
mpp_cred_status_t mpp_credential_parse(apr_pool_t *p, const char *hdr,
                                       mpp_credential_t *out, const char **err);

/* Decode the base64url token alone (no scheme). */
mpp_cred_status_t mpp_credential_decode(apr_pool_t *p, const char *token, apr_size_t len,
                                        mpp_credential_t *out, const char **err);

/* `Payment <base64url(JCS(credential))>`; the echoed request must be set
 * either as the base64url string or as request_obj. */
char *mpp_credential_format(apr_pool_t *p, const mpp_credential_t *c, const char **err);

#endif
