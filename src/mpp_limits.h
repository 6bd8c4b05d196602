/* Size limits on untrusted input, in one place. */
#ifndef MPP_LIMITS_H
#define MPP_LIMITS_H

#define MPP_MAX_AUTH_HEADER   16384  /* Authorization value; the spec asks for >= 4 KB */
#define MPP_MAX_CHALLENGE_HDR 16384  /* one WWW-Authenticate value we parse */
#define MPP_MAX_JSON          12288  /* decoded credential or request JSON */
#define MPP_MAX_JSON_DEPTH    16
#define MPP_MAX_PARAMS        32     /* auth-params in one challenge */
#define MPP_HMAC_KEY_MIN      32     /* bytes of challenge-binding secret */

#endif
