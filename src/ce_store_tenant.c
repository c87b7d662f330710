/* ce_store_tenant: organizations and users — signup, adding users,
 * rotating secrets, listing, and authentication by secret digests. */
#include <string.h>
#include <apr_strings.h>

#include "ce_store_int.h"

#define USER_COLUMNS CE_STORE_USER_COLUMNS

const ce_store_statement_t ce_store_tenant_statements[] = {
    {"ce_insert_organization", "INSERT INTO ce_organization (name, secret_digest, created_date) "
                               "VALUES (%s, %s, %s) RETURNING id"},
    {"ce_select_organization", "SELECT id FROM ce_organization WHERE id = %lld"},
    {"ce_select_organizations", "SELECT id, name, created_date FROM ce_organization ORDER BY id"},
    {"ce_update_organization_secret",
     "UPDATE ce_organization SET secret_digest = %s WHERE id = %lld"},
    {"ce_insert_user", "INSERT INTO ce_user (organization_id, email_address, first_name, "
                       "last_name, secret_digest, created_date) "
                       "VALUES (%lld, %s, %s, %s, %s, %s) RETURNING id"},
    {"ce_update_user_secret", "UPDATE ce_user SET secret_digest = %s WHERE id = %lld"},
    {"ce_select_user_by_secrets",
     "SELECT " USER_COLUMNS " FROM ce_user u JOIN ce_organization o ON o.id = u.organization_id "
     "WHERE u.secret_digest = %s AND o.secret_digest = %s"},
    {NULL, NULL}};

/* A fresh secret and the digest that is stored in its place. */
static apr_status_t new_secret(const char **psecret, const char **pdigest, const ce_db_t *db,
                               apr_pool_t *p, const char **perr)
{
    *pdigest = NULL;
    if (ce_crypto_token(psecret, p, CE_TOKEN_BYTES) == APR_SUCCESS) {
        *pdigest = ce_crypto_keyed_digest(p, db->keys, *psecret);
    }
    if (!*pdigest) {
        *perr = "Could not generate a secret";
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

static apr_status_t insert_organization(ce_organization_t **porg, const char **psecret, ce_db_t *db,
                                        apr_pool_t *p, const char *name, const char **perr)
{
    ce_organization_t *org = apr_pcalloc(p, sizeof(*org));
    const char *digest;
    apr_status_t rv = new_secret(psecret, &digest, db, p, perr);
    const void *args[3];

    org->name = apr_pstrdup(p, ce_store_or_empty(name));
    org->created_date = ce_instance_now(p);
    args[0] = org->name;
    args[1] = digest;
    args[2] = org->created_date;
    if (rv == APR_SUCCESS) {
        rv = ce_store_insert(&org->id, db, p, "ce_insert_organization", args, perr);
    }
    *porg = rv == APR_SUCCESS ? org : NULL;
    return rv;
}

static apr_status_t insert_user(ce_user_t **puser, const char **psecret, ce_db_t *db, apr_pool_t *p,
                                apr_int64_t org_id, const char *email, const char *first_name,
                                const char *last_name, const char **perr)
{
    ce_user_t *user = apr_pcalloc(p, sizeof(*user));
    const char *digest;
    apr_status_t rv = new_secret(psecret, &digest, db, p, perr);
    const void *args[6];

    user->organization_id = org_id;
    user->email_address = apr_pstrdup(p, ce_store_or_empty(email));
    user->first_name = apr_pstrdup(p, ce_store_or_empty(first_name));
    user->last_name = apr_pstrdup(p, ce_store_or_empty(last_name));
    args[0] = &user->organization_id;
    args[1] = user->email_address;
    args[2] = user->first_name;
    args[3] = user->last_name;
    args[4] = digest;
    args[5] = ce_instance_now(p);
    if (rv == APR_SUCCESS) {
        rv = ce_store_insert(&user->id, db, p, "ce_insert_user", args, perr);
    }
    *puser = rv == APR_SUCCESS ? user : NULL;
    return rv;
}

apr_status_t ce_store_signup(ce_organization_t **porg, ce_user_t **puser, const char **porg_secret,
                             const char **puser_secret, ce_db_t *db, apr_pool_t *p,
                             const char *org_name, const char *email, const char *first_name,
                             const char *last_name, const char **perr)
{
    apr_dbd_transaction_t *tx;
    apr_status_t rv;

    *porg = NULL;
    *puser = NULL;
    if ((rv = ce_store_tx_start(&tx, db, p, perr)) != APR_SUCCESS) {
        return rv;
    }
    rv = insert_organization(porg, porg_secret, db, p, org_name, perr);
    if (rv == APR_SUCCESS) {
        rv = insert_user(puser, puser_secret, db, p, (*porg)->id, email, first_name, last_name,
                         perr);
    }
    rv = ce_store_tx_end(tx, db, p, rv, perr);
    if (rv != APR_SUCCESS) {
        *porg = NULL;
        *puser = NULL;
        *porg_secret = *puser_secret = NULL;
    }
    return rv;
}

apr_status_t ce_store_user_add(ce_user_t **puser, const char **puser_secret, ce_db_t *db,
                               apr_pool_t *p, apr_int64_t org_id, const char *email,
                               const char *first_name, const char *last_name, const char **perr)
{
    const char **row;
    const void *args[1] = {&org_id};
    apr_status_t rv = ce_store_fetch_one(&row, db, p, "ce_select_organization", args, perr);

    *puser = NULL;
    if (rv == APR_NOTFOUND) {
        *perr = apr_psprintf(p, "No organization with id %" APR_INT64_T_FMT, org_id);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    return insert_user(puser, puser_secret, db, p, org_id, email, first_name, last_name, perr);
}

/* Replaces the secret digest of row id through statement label. */
static apr_status_t rotate(const char **psecret, ce_db_t *db, apr_pool_t *p, const char *label,
                           const char *what, apr_int64_t id, const char **perr)
{
    const char *secret, *digest;
    const void *args[2];
    int nrows;
    apr_status_t rv = new_secret(&secret, &digest, db, p, perr);

    *psecret = NULL;
    args[0] = digest;
    args[1] = &id;
    if (rv == APR_SUCCESS) {
        rv = ce_store_run(&nrows, db, p, label, args, perr);
    }
    if (rv == APR_SUCCESS && nrows == 0) {
        *perr = apr_psprintf(p, "No %s with id %" APR_INT64_T_FMT, what, id);
        rv = APR_NOTFOUND;
    }
    if (rv == APR_SUCCESS) {
        *psecret = secret;
    }
    return rv;
}

apr_status_t ce_store_user_rotate(const char **psecret, ce_db_t *db, apr_pool_t *p,
                                  apr_int64_t user_id, const char **perr)
{
    return rotate(psecret, db, p, "ce_update_user_secret", "user", user_id, perr);
}

apr_status_t ce_store_organization_rotate(const char **psecret, ce_db_t *db, apr_pool_t *p,
                                          apr_int64_t org_id, const char **perr)
{
    return rotate(psecret, db, p, "ce_update_organization_secret", "organization", org_id, perr);
}

apr_status_t ce_store_organization_list(apr_array_header_t **porgs, ce_db_t *db, apr_pool_t *p,
                                        const char **perr)
{
    apr_array_header_t *rows;
    const void *args[1] = {NULL};
    apr_status_t rv = ce_store_fetch(&rows, db, p, "ce_select_organizations", args, perr);
    int i;

    *porgs = apr_array_make(p, rows->nelts, sizeof(ce_organization_t *));
    for (i = 0; rv == APR_SUCCESS && i < rows->nelts; i++) {
        const char **row = APR_ARRAY_IDX(rows, i, const char **);
        ce_organization_t *org = apr_pcalloc(p, sizeof(*org));

        org->id = apr_atoi64(row[0]);
        org->name = ce_store_or_empty(row[1]);
        org->created_date = ce_store_or_empty(row[2]);
        APR_ARRAY_PUSH(*porgs, ce_organization_t *) = org;
    }
    return rv;
}

apr_status_t ce_store_authenticate(ce_user_t **puser, ce_db_t *db, apr_pool_t *p,
                                   const char *user_secret, const char *org_secret,
                                   const char **perr)
{
    const char **row;
    const void *args[2];
    apr_status_t rv;

    *puser = NULL;
    if (!user_secret || !org_secret) {
        return APR_NOTFOUND;
    }
    args[0] = ce_crypto_keyed_digest(p, db->keys, user_secret);
    args[1] = ce_crypto_keyed_digest(p, db->keys, org_secret);
    if ((rv = ce_store_fetch_one(&row, db, p, "ce_select_user_by_secrets", args, perr)) !=
        APR_SUCCESS) {
        return rv;
    }
    *puser = ce_store_user_from_row(p, row);
    return APR_SUCCESS;
}

ce_user_t *ce_store_user_from_row(apr_pool_t *p, const char **row)
{
    ce_user_t *user = apr_pcalloc(p, sizeof(*user));

    user->id = apr_atoi64(row[0]);
    user->organization_id = apr_atoi64(row[1]);
    user->email_address = ce_store_or_empty(row[2]);
    user->first_name = ce_store_or_empty(row[3]);
    user->last_name = ce_store_or_empty(row[4]);
    return user;
}
