/* mod_ce_authn: the API's one authentication function (see
 * mod_ce_authn.h). */
#include <httpd.h>
#include <apr_strings.h>
#include <http_log.h>

#include "ce_auth.h"
#include "mod_ce_authn.h"
#include "mod_ce_guard.h"

APLOG_USE_MODULE(ceinstances);

/* The user lookup, as ce_dbd_first runs it. */
typedef struct {
    const ce_credentials_t *creds;
    apr_pool_t *p;
    ce_user_t *user;
} user_lookup_t;

static apr_status_t lookup_user(ce_db_t *db, apr_pool_t *scratch, void *baton, const char **perr)
{
    user_lookup_t *u = baton;

    return ce_store_authenticate(&u->user, db, u->p, u->creds->user_secret,
                                 u->creds->organization_secret, perr);
}

/* The parsed credentials' user (u->user); APR_EACCES (and *perr) as below. */
static apr_status_t find_user(user_lookup_t *u, ce_dbd_conn_t *conn, const char **perr)
{
    apr_status_t rv = ce_dbd_first(conn, lookup_user, u, perr);

    if (rv == APR_NOTFOUND) {
        *perr = "Invalid Organization or User secret, or not authorized";
        return APR_EACCES;
    }
    return rv; /* a failure's *perr: the database's message, or CE_DBD_UNAVAILABLE */
}

/* What the Element token's lookup said, as ce_authn_check returns it. */
static apr_status_t token_outcome(apr_status_t rv, const char **perr)
{
    if (rv == APR_NOTFOUND) {
        *perr = "Invalid Element token";
        return APR_EACCES;
    }
    if (rv == CE_STORE_EDISABLED) {
        /* Known, but not to be used: Cloud Elements answers 403. */
        *perr = "The instance of this Element token is disabled";
        return CE_EFORBIDDEN;
    }
    return rv; /* a database failure, not a bad token */
}

apr_status_t ce_authn_check(ce_authn_t *out, ce_dbd_conn_t *conn, apr_pool_t *p,
                            const char *authorization, const char **perr)
{
    ce_credentials_t creds;
    user_lookup_t u = {&creds, p, NULL};
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    if (ce_auth_parse(&creds, p, authorization, perr) != APR_SUCCESS) {
        return APR_EACCES;
    }
    if ((rv = find_user(&u, conn, perr)) != APR_SUCCESS) {
        return rv;
    }
    if (creds.element_token &&
        (rv = token_outcome(ce_store_instance_by_token(&out->instance_id, &conn->db, p, u.user,
                                                       creds.element_token, perr),
                            perr)) != APR_SUCCESS) {
        return rv;
    }
    out->user = u.user;
    return APR_SUCCESS;
}

/* The instance of all three credentials, as ce_dbd_first runs it. */
typedef struct {
    const ce_credentials_t *creds;
    apr_pool_t *p;
    const ce_catalog_t *cat;
    ce_instance_t *inst;
    const char *digests[CE_STORE_CREDENTIAL_DIGESTS];
} instance_lookup_t;

static apr_status_t lookup_instance(ce_db_t *db, apr_pool_t *scratch, void *baton,
                                    const char **perr)
{
    instance_lookup_t *l = baton;

    return ce_store_instance_of_credentials(&l->inst, db, l->p, l->cat, l->creds->user_secret,
                                            l->creds->organization_secret, l->creds->element_token,
                                            l->digests, perr);
}

/* A remembered instance's check, as ce_dbd_first runs it. */
typedef struct {
    const ce_instance_t *inst;
    const char *digests[CE_AUTHCACHE_DIGESTS];
    apr_int64_t revision;
    int disabled;
} revision_check_t;

static apr_status_t check_revision(ce_db_t *db, apr_pool_t *scratch, void *baton, const char **perr)
{
    revision_check_t *c = baton;

    return ce_store_instance_revision(&c->revision, &c->disabled, db, scratch, c->inst->id,
                                      c->digests, perr);
}

/* The instance cache remembers for key, when the database says it has not
 * changed since (its outcome as ce_authn_check_instance returns it).
 * APR_NOTFOUND when there is none such (a changed one is forgotten). */
static apr_status_t remembered(ce_instance_t **pinst, ce_dbd_conn_t *conn, apr_pool_t *p,
                               ce_authcache_t *cache, const unsigned char *key, const char **perr)
{
    revision_check_t c;
    ce_instance_t *inst;
    apr_status_t rv;

    memset(&c, 0, sizeof(c));
    if (!ce_authcache_get(cache, key, p, &inst, c.digests)) {
        return APR_NOTFOUND;
    }
    c.inst = inst;
    rv = ce_dbd_first(conn, check_revision, &c, perr);
    if (rv == APR_SUCCESS && c.revision == inst->revision) {
        if (conn->r && APLOGrtrace1(conn->r)) {
            ap_log_rerror(
                APLOG_MARK, APLOG_TRACE1, 0, conn->r,
                "CE00054: instance %" APR_INT64_T_FMT
                " remembered for this Element token, unchanged (revision %" APR_INT64_T_FMT ")",
                inst->id, inst->revision);
        }
        inst->disabled = c.disabled;
        *pinst = inst;
        return token_outcome(inst->disabled ? CE_STORE_EDISABLED : APR_SUCCESS, perr);
    }
    if (rv == APR_SUCCESS || rv == APR_NOTFOUND) {
        ce_authcache_forget(cache, key);
        return APR_NOTFOUND;
    }
    return rv; /* the database failed: no answer either way */
}

apr_status_t ce_authn_check_instance(ce_instance_t **pinst, ce_dbd_conn_t *conn, apr_pool_t *p,
                                     const ce_catalog_t *cat, ce_authcache_t *cache,
                                     const void *scope, const char *authorization,
                                     const char **perr)
{
    ce_credentials_t creds;
    user_lookup_t u = {&creds, p, NULL};
    instance_lookup_t l;
    unsigned char key[CE_AUTHCACHE_KEY_LEN];
    apr_status_t rv;

    *pinst = NULL;
    if (ce_auth_parse(&creds, p, authorization, perr) != APR_SUCCESS) {
        return APR_EACCES;
    }
    if (!creds.element_token) {
        *perr = "An Element token is needed here: Authorization: User <secret>, "
                "Organization <secret>, Element <token>";
        return APR_EACCES;
    }
    if (cache && ce_authcache_key(key, cache, scope, creds.user_secret, creds.organization_secret,
                                  creds.element_token) != APR_SUCCESS) {
        cache = NULL;
    }
    if (cache && (rv = remembered(pinst, conn, p, cache, key, perr)) != APR_NOTFOUND) {
        return rv;
    }
    /* One statement when all three match; which one does not, the two steps
     * tell (a refusal's cost only). */
    memset(&l, 0, sizeof(l));
    l.creds = &creds;
    l.p = p;
    l.cat = cat;
    if ((rv = ce_dbd_first(conn, lookup_instance, &l, perr)) != APR_NOTFOUND) {
        *pinst = l.inst;
        if (cache && l.inst && (rv == APR_SUCCESS || rv == CE_STORE_EDISABLED)) {
            ce_authcache_put(cache, key, l.inst, l.digests);
        }
        return token_outcome(rv, perr);
    }
    if ((rv = find_user(&u, conn, perr)) != APR_SUCCESS) {
        return rv;
    }
    return token_outcome(
        ce_store_instance_get_by_token(pinst, &conn->db, p, cat, u.user, creds.element_token, perr),
        perr);
}

void ce_authn_name_instance(request_rec *r, apr_int64_t id)
{
    /* As Cloud Elements does; err_headers_out: on errors too. */
    apr_table_setn(r->err_headers_out, "Elements-Element-Instance-Id",
                   apr_psprintf(r->pool, "%" APR_INT64_T_FMT, id));
}

/* ce_authn_request_reading's statement, as ce_dbd_first runs it. */
typedef struct {
    ce_request_t *req;
    const ce_credentials_t *creds;
    unsigned how;
    ce_instance_t *inst;
} read_as_t;

static apr_status_t read_as(ce_db_t *db, apr_pool_t *scratch, void *baton, const char **perr)
{
    read_as_t *a = baton;

    return ce_store_instance_read_as(&a->inst, db, a->req->r->pool, a->req->catalog,
                                     a->creds->user_secret, a->creds->organization_secret,
                                     a->req->instance_id, a->how, perr);
}

/* req's caller known: the access log's name for it (never a secret). */
static void caller_known(ce_request_t *req, const ce_user_t *user, apr_int64_t instance_id)
{
    req->user = user;
    req->token_instance_id = instance_id;
    req->r->user = apr_psprintf(req->r->pool, "%" APR_INT64_T_FMT, user->id);
    if (instance_id) {
        ce_authn_name_instance(req->r, instance_id);
    }
}

apr_status_t ce_authn_request_reading(ce_request_t *req, unsigned how, ce_instance_t **pinst)
{
    ce_credentials_t creds;
    read_as_t a = {req, &creds, how, NULL};
    const char *err = NULL;
    apr_status_t rv;

    *pinst = NULL;
    if (req->instance_id &&
        ce_auth_parse(&creds, req->r->pool, ce_guard_authorization(req->r), &err) == APR_SUCCESS &&
        !creds.element_token) {
        rv = ce_dbd_first(req->conn, read_as, &a, &req->err);
        if (rv == APR_SUCCESS) {
            caller_known(req, a.inst->user, 0);
            *pinst = a.inst;
            return APR_SUCCESS;
        }
        if (rv != APR_NOTFOUND) {
            return rv; /* a database failure (req->err), or a value that does not open */
        }
        req->err = NULL;
    }
    return ce_authn_request(req); /* 401, or the caller: then the instance is not theirs */
}

apr_status_t ce_authn_request(ce_request_t *req)
{
    request_rec *r = req->r;
    ce_authn_t who;
    apr_status_t rv;

    rv = ce_authn_check(&who, req->conn, r->pool, ce_guard_authorization(r), &req->err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    caller_known(req, who.user, who.instance_id);
    return APR_SUCCESS;
}
