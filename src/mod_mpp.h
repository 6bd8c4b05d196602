/* httpd glue of mod_mpp: configuration records and the hooks that
 * mod_mpp.c registers. Core protocol code lives in mpp_*.c. */
#ifndef MOD_MPP_H
#define MOD_MPP_H

#include "httpd.h"
#include "http_config.h"

#include "mpp_model.h"
#include "mpp_jwt.h"
#include "mpp_route.h"
#include "mpp_verify.h"

extern module AP_MODULE_DECLARE_DATA mpp_module;

#define MPP_METHOD_PROVIDER "mpp_method" /* ap_register_provider group, version "0" */
#define MPP_MAX_BODY (1024 * 1024)        /* request body bound by a digest */

typedef struct {
    const char *realm;            /* MPPRealm; NULL: the vhost's ServerName */
    const char *secret_file;      /* MPPSecretFile (for messages) */
    mpp_keys_t keys;              /* key set when MPPSecretFile was given */
    int keys_set;
    int allow_plain_http;         /* MPPAllowPlainHTTP; -1 unset */
    apr_hash_t *networks;         /* name -> mpp_network_t*, vhost over main */
    apr_hash_t *assets;           /* name -> mpp_asset_t* */
    apr_hash_t *offers;           /* name -> mpp_offer_t* */
    apr_hash_t *own;              /* objects defined in this server (resolve once) */
    int discovery;                /* MPPDiscovery; -1 unset */
    apr_hash_t *jwt_keys;         /* MPPJWTKey name -> mpp_jwt_keyset_t */
    struct mpp_discovery_t *disc; /* documents built at startup */
} mpp_srv_cfg_t;

/* One MPPRoute of a proxied service. */
typedef struct {
    mpp_route_pat_t pat;
    int free;
    apr_array_header_t *offers;   /* offer names */
    int settle_after;             /* -1: the location's MPPSettle */
    const char *description;
} mpp_route_t;

typedef struct {
    int charge_set;               /* MPPCharge seen here */
    apr_array_header_t *offers;   /* offer names; empty after "MPPCharge off" */
    const char *price;            /* MPPPrice (decimal, tenant range) */
    const char *recipient;        /* MPPRecipient */
    const char *where;            /* directory or location, for messages */
    /* a proxied service (MPPService and its MPPRoute lines) */
    const char *service;          /* id */
    const char *service_title;
    const char *service_desc;
    apr_array_header_t *categories;
    const char *base;             /* the <Location> path without a trailing slash */
    apr_array_header_t *routes;   /* mpp_route_t, first match wins */
    const char *upstream_header;  /* injected credential header and value */
    const char *upstream_value;
    int settle_after;             /* MPPSettle; -1 unset */
    /* entitlements */
    const char *ent_key;          /* MPPEntitlement: accepted key set */
    const char *ent_scope;        /* per-call | per-article | per-session */
    const char *ent_cookie;       /* cookie that may carry the token */
    int grant_secs;               /* MPPGrant session=; 0 none */
    const char *grant_key;        /* key set that signs grants */
    int grant_cookie;             /* -1 unset */
    /* Vlexivo compatibility and limits */
    int vlexivo;                  /* MPPCompat vlexivo; -1 unset */
    const char *unlock_url;       /* where the unlock handler lives */
    const char *publisher;
    int rate_limit;               /* MPPRateLimit per minute and client; -1 unset, 0 off */
    int shadow;                   /* MPPMode shadow: 1, enforce: 0, -1 unset */
} mpp_dir_cfg_t;

/* store settings (global); used by the shared store */
typedef struct {
    const char *type;             /* "shm" */
    apr_size_t size;
    const char *dir;
} mpp_store_cfg_t;

extern mpp_store_cfg_t mpp_store_cfg;
extern const command_rec mpp_cmds[];

void *mpp_create_srv_cfg(apr_pool_t *p, server_rec *s);
void *mpp_merge_srv_cfg(apr_pool_t *p, void *base, void *add);
void *mpp_create_dir_cfg(apr_pool_t *p, char *dir);
void *mpp_merge_dir_cfg(apr_pool_t *p, void *base, void *add);

/* secrets */
const char *mpp_secret_load(apr_pool_t *p, const char *path, const unsigned char **key,
                            apr_size_t *keylen);
const char *mpp_key_file_check(apr_pool_t *p, const char *path);
/* A token file (e.g. an upstream API key): its content, one trailing newline removed. */
const char *mpp_token_file_load(apr_pool_t *p, const char *path, const char **value);
/* An EVM private key file (0x + 64 hex) and its address. */
const char *mpp_evm_key_load(apr_pool_t *p, const char *path, unsigned char key[32],
                             unsigned char addr[20]);
/* The key set for a server: its own, else a random key retained across restarts. */
const mpp_keys_t *mpp_server_keys(server_rec *s);
int mpp_secret_post_config(apr_pool_t *pconf, server_rec *s);

/* hooks */
int mpp_pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp);
int mpp_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);
int mpp_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s);
int mpp_gate_access(request_rec *r);
/* Require payment <offer...>: OK when this request carries an entitlement or
 * a credential that passes the cheap checks (the payment itself is taken in
 * mpp_gate_fixups, once every Require said yes), else the status the gate
 * prepared (402 with challenges, or another problem). */
int mpp_gate_require(request_rec *r, apr_array_header_t *offers);
int mpp_gate_fixups(request_rec *r);
/* What depends on an offer alone (its request, its x402 entry), once. */
void mpp_gate_precompute(apr_pool_t *p, server_rec *s);
void mpp_authz_register(apr_pool_t *p);
int mpp_options_handler(request_rec *r);
void mpp_insert_filters(request_rec *r);
void mpp_insert_error_filters(request_rec *r);
void mpp_register_filters(void);

/* the shared store (NULL in a process where it could not be attached) */
#define MPP_STORE_MUTEX "mpp-store"
#define MPP_SETTLE_MUTEX "mpp-settle"
struct mpp_store_t *mpp_the_store(void);
const char *mpp_store_dir(void);
void mpp_store_pre_config(apr_pool_t *pconf);
int mpp_store_check(apr_pool_t *p, server_rec *s);
int mpp_store_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);
void mpp_store_child_init(apr_pool_t *pchild, server_rec *s);
void mpp_child_init(apr_pool_t *pchild, server_rec *s);
/* serialises the relayer's nonces across workers (mutex type mpp-settle) */
int mpp_settle_lock(void);
void mpp_settle_unlock(void);

/* proxied services and discovery */
const char *mpp_set_service(cmd_parms *cmd, void *d, const char *args);
const char *mpp_set_route(cmd_parms *cmd, void *d, const char *args);
const char *mpp_set_upstream_bearer(cmd_parms *cmd, void *d, const char *args);
const char *mpp_set_upstream_header(cmd_parms *cmd, void *d, const char *name, const char *file);
const char *mpp_set_settle(cmd_parms *cmd, void *d, const char *v);
/* The route a request under a service takes: 0 with *route (NULL: none
 * matches) or an HTTP status for a path that must not be matched at all. */
int mpp_service_route(request_rec *r, mpp_dir_cfg_t *d, const mpp_route_t **route, const char **why);
int mpp_discovery_build(apr_pool_t *p, server_rec *s);
int mpp_discovery_handler(request_rec *r, int lookup);
int mpp_fixups(request_rec *r);

/* entitlements (JWT) */
const char *mpp_set_jwt_key(cmd_parms *cmd, void *d, const char *args);
const char *mpp_set_entitlement(cmd_parms *cmd, void *d, const char *args);
const char *mpp_set_grant(cmd_parms *cmd, void *d, const char *args);
/* OK when the request carries a valid entitlement for this place (rid is
 * the place's resource id), DECLINED to go on with payment. */
int mpp_entitled(request_rec *r, mpp_dir_cfg_t *d, const char *realm, const char *rid);
/* The key set that signs grants: the one named, or the only one defined. */
const mpp_jwt_keyset_t *mpp_grant_keyset(apr_pool_t *p, mpp_srv_cfg_t *c, const char *name);
/* A grant token (or NULL) for a payment just accepted at this place. */
const char *mpp_grant(request_rec *r, mpp_dir_cfg_t *d, const char *realm, const char *rid,
                      const char *payer, const char *amount);

/* Vlexivo: the challenge body beside the MPP one, and the unlock handler */
const char *mpp_set_compat(cmd_parms *cmd, void *d, const char *args);
const char *mpp_set_rate_limit(cmd_parms *cmd, void *d, const char *v);
/* The "challenge" member for a 402 at this place (JSON text), or NULL. */
const char *mpp_vlexivo_challenge(request_rec *r, mpp_dir_cfg_t *d, const char *rid, const char *request_b64,
                                  const char *scope_type);
int mpp_unlock_handler(request_rec *r);
/* Over this place's MPPRateLimit? (counts the request) */
int mpp_rate_limited(request_rec *r, mpp_dir_cfg_t *d);

/* browsers: the HTML paywall page sent with a 402 when the client prefers
 * text/html (every MPP header is still there) */
typedef struct {
    const mpp_offer_t *offer;     /* network, asset, description */
    const char *amount;           /* base units charged here (tenant price applied) */
    const char *recipient;        /* who is paid here */
} mpp_paywall_offer_t;
/* Does the client prefer text/html over JSON (Accept)? */
int mpp_paywall_wanted(request_rec *r);
/* The page (UTF-8 HTML, every value escaped) for these offers. */
const char *mpp_paywall_html(request_rec *r, const char *realm, const mpp_paywall_offer_t *offers,
                             int n, const char *detail);

/* Error-log message numbers: stable, unique, greppable (MPP01234). */
#define MPPLOGNO(n) "MPP" #n ": "

/* What the gate did with a request: LogFormat environment variables
 * (MPP_STATUS, MPP_METHOD, ...) and the counters mod_status shows. */
typedef enum {
    MPP_OUT_FREE, MPP_OUT_PAID, MPP_OUT_ENTITLED, MPP_OUT_CHALLENGED, MPP_OUT_REJECTED, MPP_OUT__COUNT
} mpp_outcome_t;
/* problem: the problem type answered (rejected, challenged), else ignored;
 * offer: the offer paid or named by the credential, or NULL. */
void mpp_outcome(request_rec *r, mpp_outcome_t o, int problem, const mpp_offer_t *offer);
/* settlements under way in this server (all processes) */
void mpp_stats_settling(int delta);
int mpp_stats_post_config(apr_pool_t *pconf, server_rec *s);
void mpp_stats_register(void);

/* request body: SHA-256 of a body of at most MPP_MAX_BODY bytes, kept and
 * replayed to the handler. Returns OK (has_body 0 or 1) or an HTTP status. */
int mpp_body_digest(request_rec *r, unsigned char sha256[32], int *has_body);
void mpp_body_register(void);

#endif
