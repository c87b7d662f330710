/* mod_ce_ep_docs: the API's OpenAPI 3.1 document, GET /docs, and one
 * specialised for an instance, GET /instances[/{id}]/docs.
 *
 * The document is doc/openapi.json, built into the module (.incbin below:
 * no install path to find at run time). GET /docs is public: the document
 * describes the API and holds no tenant's data, and a client needs it
 * before it has any credential. An instance's document is its caller's
 * like every instance call (another tenant's instance is 404): it names the
 * instance and its element, and holds its paths and its element's
 * configuration keys, never a token or a configuration value. */
#include <pthread.h>
#include <string.h>
#include <httpd.h>
#include <apr_strings.h>
#include <http_protocol.h>
#include <http_request.h>
#include <openssl/evp.h>

#include "ce_json.h"
#include "mod_ce_endpoints.h"

/* doc/openapi.json, as the module was built with it (the Makefile makes
 * this file's objects depend on it). The assembler reads the file from the
 * directory the compiler runs in: the top of the tree. */
__asm__(".pushsection .rodata\n"
        ".balign 16\n"
        ".globl ce_openapi_doc\n"
        ".hidden ce_openapi_doc\n"
        "ce_openapi_doc:\n"
        ".incbin \"doc/openapi.json\"\n"
        ".globl ce_openapi_doc_end\n"
        ".hidden ce_openapi_doc_end\n"
        "ce_openapi_doc_end:\n"
        ".byte 0\n"
        ".popsection\n");
extern const char ce_openapi_doc[] __attribute__((visibility("hidden")));
extern const char ce_openapi_doc_end[] __attribute__((visibility("hidden")));

#define DOC_TYPE "application/vnd.oai.openapi+json;version=3.1"
#define INSTANCE_PARAM "#/components/parameters/instanceId"

/* The document's ETag: the first 128 bits of its SHA-256, made once. */
static char doc_etag[2 + 32 + 1];
static pthread_once_t doc_etag_once = PTHREAD_ONCE_INIT;

static void make_doc_etag(void)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0, i;

    if (EVP_Digest(ce_openapi_doc, (size_t)(ce_openapi_doc_end - ce_openapi_doc), md, &len,
                   EVP_sha256(), NULL) != 1 ||
        len < 16) {
        return; /* no ETag then */
    }
    doc_etag[0] = '"';
    for (i = 0; i < 16; i++) {
        apr_snprintf(doc_etag + 1 + 2 * i, 3, "%02x", md[i]);
    }
    doc_etag[33] = '"';
}

/* Sends a document with its Cache-Control: the API's may be kept by any
 * cache; an instance's, like every instance answer, by none. */
static int send_doc(ce_request_t *req, const char *body, apr_size_t len, const char *cache)
{
    request_rec *r = req->r;

    ap_set_content_type(r, DOC_TYPE);
    apr_table_setn(r->headers_out, "Cache-Control", cache);
    ap_set_content_length(r, len);
    if (!r->header_only) {
        ap_rwrite(body, (int)len, r);
    }
    return OK;
}

int ce_ep_docs_get(ce_request_t *req)
{
    request_rec *r = req->r;

    pthread_once(&doc_etag_once, make_doc_etag);
    if (doc_etag[0]) {
        apr_table_setn(r->headers_out, "ETag", doc_etag);
        if (ap_meets_conditions(r) == HTTP_NOT_MODIFIED) {
            r->status = HTTP_NOT_MODIFIED;
            return OK;
        }
    }
    return send_doc(req, ce_openapi_doc, (apr_size_t)(ce_openapi_doc_end - ce_openapi_doc),
                    "public, max-age=300");
}

/* The Configuration schema of e's instances: one property per entry a
 * tenant sets (the OAuth provider's entries are the operator's). */
static json_t *configuration_schema(const ce_element_t *e)
{
    json_t *props = json_object(), *schema;
    int i;

    for (i = 0; i < e->config->nelts; i++) {
        const ce_config_spec_t *spec = &APR_ARRAY_IDX(e->config, i, ce_config_spec_t);
        json_t *p;

        if (spec->provider) {
            continue;
        }
        p = json_pack("{s:[ssss],s:s,s:s,s:s,s:b,s:b}", "type", "string", "number", "boolean",
                      "null", "title", spec->name, "description", spec->description, "x-ce-type",
                      spec->type, "x-ce-required", spec->required, "x-ce-secret", spec->secret);
        if (p && spec->default_value) {
            json_object_set(p, "default", spec->default_value);
        }
        json_object_set_new(props, spec->key, p);
    }
    schema = json_pack("{s:s,s:s,s:o,s:{s:[ssss]}}", "type", "object", "description",
                       "The configuration of the instance's element: its entries by key (a secret "
                       "one that is set shows as ********); keys it does not define are kept too.",
                       "properties", props, "additionalProperties", "type", "string", "number",
                       "boolean", "null");
    return schema;
}

/* item, a path item of /instances/{id}..., without the {id} parameter. */
static json_t *without_instance_param(const json_t *item)
{
    json_t *out = json_copy((json_t *)item), *kept = json_array(), *param;
    size_t i;

    json_array_foreach(json_object_get(item, "parameters"), i, param)
    {
        const char *to = json_string_value(json_object_get(param, "$ref"));

        if (!to || strcmp(to, INSTANCE_PARAM) != 0) {
            json_array_append(kept, param);
        }
    }
    if (json_array_size(kept)) {
        json_object_set_new(out, "parameters", kept);
    } else {
        json_object_del(out, "parameters");
        json_decref(kept);
    }
    return out;
}

/* doc's paths of one instance, "/instances/{id}..." with the id filled in. */
static void instance_paths(json_t *doc, apr_pool_t *p, apr_int64_t id)
{
    json_t *paths = json_object(), *item;
    const char *path;
    const char *prefix = "/instances/{id}";

    json_object_foreach(json_object_get(doc, "paths"), path, item)
    {
        if (strncmp(path, prefix, strlen(prefix)) == 0) {
            json_object_set_new(
                paths,
                apr_psprintf(p, "/instances/%" APR_INT64_T_FMT "%s", id, path + strlen(prefix)),
                without_instance_param(item));
        }
    }
    json_object_set_new(doc, "paths", paths);
}

/* The API's document, specialised for inst. */
static json_t *instance_doc(apr_pool_t *p, const ce_instance_t *inst)
{
    const ce_element_t *e = inst->element;
    json_t *doc = NULL, *info, *schemas;
    const char *err = NULL;

    if (ce_json_parse(&doc, p, ce_openapi_doc, (apr_size_t)(ce_openapi_doc_end - ce_openapi_doc),
                      &err) != APR_SUCCESS) {
        return NULL;
    }
    info = json_object_get(doc, "info");
    json_object_set_new(info, "title",
                        json_string(apr_psprintf(p, "%s instance %" APR_INT64_T_FMT " (%s)",
                                                 e->name, inst->id, e->key)));
    json_object_set_new(
        info, "summary",
        json_string(apr_psprintf(p,
                                 "The calls on instance %" APR_INT64_T_FMT
                                 " of %s, and its configuration entries as a schema.",
                                 inst->id, e->name)));
    json_object_set_new(doc, "x-ce-instance",
                        json_pack("{s:I,s:s?,s:{s:I,s:s,s:s}}", "id", (json_int_t)inst->id, "name",
                                  inst->name, "element", "id", (json_int_t)e->id, "key", e->key,
                                  "name", e->name));
    instance_paths(doc, p, inst->id);
    schemas = json_object_get(json_object_get(doc, "components"), "schemas");
    json_object_set_new(schemas, "Configuration", configuration_schema(e));
    return doc;
}

int ce_ep_instances_docs(ce_request_t *req)
{
    apr_pool_t *p = req->r->pool;
    ce_instance_t *inst = NULL;
    const char *err = NULL, *body;
    json_t *doc;
    apr_status_t rv = ce_request_media_type(req);

    if (rv == APR_SUCCESS) {
        rv = ce_store_instance_read(&inst, &req->conn->db, p, req->catalog, req->user,
                                    req->instance_id, CE_STORE_READ_FULL, &err);
    }
    if (rv == APR_SUCCESS &&
        (!inst->element || (req->scope && inst->element_id != req->scope->id))) {
        rv = APR_NOTFOUND; /* scoped to another element (or one the catalog lost) */
    }
    if (rv == APR_NOTFOUND) {
        req->err = apr_psprintf(p, "Instance %" APR_INT64_T_FMT " not found", req->instance_id);
    } else if (rv != APR_SUCCESS) {
        req->err = err; /* logged, never sent */
    }
    if (rv != APR_SUCCESS) {
        return ce_request_fail(req, rv);
    }
    ce_dbd_release(req->conn); /* what follows needs no database */
    if (!(doc = instance_doc(p, inst)) || !(body = ce_json_dump(p, doc))) {
        return ce_request_fail(req, APR_ENOMEM);
    }
    return send_doc(req, body, strlen(body), "no-store");
}
