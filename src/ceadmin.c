/* ceadmin: administration CLI for mod_ceinstances.
 *
 * Creates organizations and users and rotates their secrets, on the same
 * database (and through the same ce_store schema and statements) as the
 * module. Each command prints exactly one JSON object on stdout; a secret is
 * printed once, when it is made, and only its digest is stored.
 *
 * Exit status: 0 done, 1 failure (message on stderr), 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <unistd.h>
#include <sys/stat.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_dbd.h>

#include "ce_store.h"
#include "ce_json.h"
#include "ce_num.h"
#include "ce_version.h"

#define EXIT_USAGE 2

static const char usage_text[] =
    "Usage: ceadmin --db DRIVER:PARAMS --key KEYFILE COMMAND [OPTIONS]\n"
    "       ceadmin keygen PATH [--rotate OLD [--stage STAGED]]\n"
    "       ceadmin keygen PATH --prune OLD\n"
    "       ceadmin help | --help | --version\n"
    "\n"
    "  DRIVER is sqlite3 or pgsql; PARAMS are the apr_dbd connection parameters\n"
    "  (sqlite3: a file path; pgsql: \"host=... dbname=... user=...\").\n"
    "  KEYFILE is the server's CEInstancesKeyFile (default: $CE_KEY_FILE).\n"
    "  The schema is created on first use.\n"
    "\n"
    "Commands:\n"
    "  signup --org NAME --email EMAIL [--first FIRST] [--last LAST]\n"
    "      new organization and its first user, with their secrets\n"
    "  user-add --org-id N --email EMAIL [--first FIRST] [--last LAST]\n"
    "      new user (with a secret) in organization N\n"
    "  rotate-user --user-id N    new secret for user N (the old one stops working)\n"
    "  rotate-org --org-id N      new secret for organization N\n"
    "  list-orgs                  all organizations\n"
    "  keygen PATH [--rotate OLD [--stage STAGED]] writes a new key file (mode\n"
    "      0600); with --rotate: a fresh encryption key, OLD's keys kept for\n"
    "      reading and its digest key; --stage also writes STAGED, OLD's\n"
    "      encryption key still sealing, PATH's opening too (for many nodes)\n"
    "  keygen PATH --prune OLD    OLD without its read keys (after verify)\n"
    "  instance-config --instance-id N\n"
    "      instance N's stored configuration, secrets in clear\n"
    "  rekey [--batch N]\n"
    "      re-seals every secret sealed with another key under KEYFILE's\n"
    "      encryption key, N rows (100) per transaction, while servers serve\n"
    "  verify                     opens every sealed value; lists those that\n"
    "      do not open, counts by key; exit 1 if one does not\n"
    "  oauth-refresh --instance-id N --catalog FILE [--outbound-allow CIDR,...]\n"
    "      [--timeout SECONDS]  a new access token for OAuth instance N now,\n"
    "      from its element's provider in FILE (the servers' CEInstancesCatalog),\n"
    "      taking the servers' refresh lease; prints when it expires, no token\n"
    "  help, --help, -h           this text;  --version: ceadmin's version\n"
    "\n"
    "Each command prints one JSON object. Secrets are shown once, never stored.\n";

/* Parsed command line: the command and its --name value options. */
typedef struct {
    const char *db;
    const char *key;
    const char *command;
    const char *arg; /* the one argument after the command (keygen PATH) */
    apr_table_t *opts;
} cli_t;

typedef struct {
    const char *name;
    const char *const *allowed; /* option names, NULL-terminated */
    int (*run)(ce_db_t *db, apr_pool_t *p, const cli_t *cli);
    int without_db; /* runs without --db (db is NULL) */
    int creates;    /* may create the database (signup); the others need one */
} command_t;

static int usage_error(const char *msg)
{
    fprintf(stderr, "ceadmin: %s\nRun 'ceadmin --help' for usage.\n", msg);
    return EXIT_USAGE;
}

static int failure(const char *what, apr_status_t rv, const char *err)
{
    char buf[256];

    if (!what) {
        fprintf(stderr, "ceadmin: %s\n", err ? err : apr_strerror(rv, buf, sizeof(buf)));
    } else {
        fprintf(stderr, "ceadmin: %s: %s\n", what, err ? err : apr_strerror(rv, buf, sizeof(buf)));
    }
    return EXIT_FAILURE;
}

/* Prints j as one compact line on stdout. */
static int print_json(apr_pool_t *p, const json_t *j)
{
    const char *text = ce_json_dump(p, j);

    if (!text || printf("%s\n", text) < 0 || fflush(stdout) != 0) {
        fprintf(stderr, "ceadmin: could not write the result\n");
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

/* Option name as a positive integer (ce_num's grammar), or 0. The
 * parser has already rejected anything else for the "*-id" options. */
static apr_int64_t id_option(const cli_t *cli, const char *name)
{
    apr_int64_t id;

    if (ce_num_parse(&id, apr_table_get(cli->opts, name), 1, APR_INT64_MAX) != APR_SUCCESS) {
        return 0;
    }
    return id;
}

static json_t *user_json(apr_pool_t *p, const ce_user_t *user, const char *secret)
{
    return ce_json_bind(p,
                        json_pack("{s:I, s:s, s:s, s:s, s:s}", "id", (json_int_t)user->id,
                                  "emailAddress", user->email_address, "firstName",
                                  user->first_name, "lastName", user->last_name, "secret", secret));
}

static int cmd_signup(ce_db_t *db, apr_pool_t *p, const cli_t *cli)
{
    ce_organization_t *org;
    ce_user_t *user;
    const char *org_secret, *user_secret, *err = NULL;
    apr_status_t rv;

    rv = ce_store_signup(&org, &user, &org_secret, &user_secret, db, p,
                         apr_table_get(cli->opts, "org"), apr_table_get(cli->opts, "email"),
                         apr_table_get(cli->opts, "first"), apr_table_get(cli->opts, "last"), &err);
    if (rv != APR_SUCCESS) {
        return failure("signup failed", rv, err);
    }
    return print_json(
        p, ce_json_bind(p, json_pack("{s:{s:I, s:s, s:s}, s:O}", "organization", "id",
                                     (json_int_t)org->id, "name", org->name, "secret", org_secret,
                                     "user", user_json(p, user, user_secret))));
}

static int cmd_user_add(ce_db_t *db, apr_pool_t *p, const cli_t *cli)
{
    apr_int64_t org_id = id_option(cli, "org-id");
    ce_user_t *user;
    const char *secret, *err = NULL;
    apr_status_t rv;

    rv = ce_store_user_add(&user, &secret, db, p, org_id, apr_table_get(cli->opts, "email"),
                           apr_table_get(cli->opts, "first"), apr_table_get(cli->opts, "last"),
                           &err);
    if (rv != APR_SUCCESS) {
        return failure("user-add failed", rv, err);
    }
    return print_json(p, ce_json_bind(p, json_pack("{s:O}", "user", user_json(p, user, secret))));
}

/* rotate-user / rotate-org: key is "user" or "organization". */
static int rotate(ce_db_t *db, apr_pool_t *p, const cli_t *cli, const char *option, const char *key)
{
    apr_int64_t id = id_option(cli, option);
    const char *secret, *err = NULL;
    apr_status_t rv;

    if (strcmp(key, "user") == 0) {
        rv = ce_store_user_rotate(&secret, db, p, id, &err);
    } else {
        rv = ce_store_organization_rotate(&secret, db, p, id, &err);
    }
    if (rv != APR_SUCCESS) {
        return failure(apr_psprintf(p, "rotating the %s secret failed", key), rv, err);
    }
    return print_json(p, ce_json_bind(p, json_pack("{s:{s:I, s:s}}", key, "id", (json_int_t)id,
                                                   "secret", secret)));
}

static int cmd_rotate_user(ce_db_t *db, apr_pool_t *p, const cli_t *cli)
{
    return rotate(db, p, cli, "user-id", "user");
}

static int cmd_rotate_org(ce_db_t *db, apr_pool_t *p, const cli_t *cli)
{
    return rotate(db, p, cli, "org-id", "organization");
}

static int cmd_list_orgs(ce_db_t *db, apr_pool_t *p, const cli_t *cli)
{
    apr_array_header_t *orgs;
    json_t *list = ce_json_array(p);
    const char *err = NULL;
    apr_status_t rv = ce_store_organization_list(&orgs, db, p, &err);
    int i;

    if (rv != APR_SUCCESS) {
        return failure("list-orgs failed", rv, err);
    }
    for (i = 0; i < orgs->nelts; i++) {
        const ce_organization_t *org = APR_ARRAY_IDX(orgs, i, const ce_organization_t *);

        json_array_append_new(list, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)org->id, "name",
                                              org->name, "createdDate", org->created_date));
    }
    return print_json(p, ce_json_bind(p, json_pack("{s:O}", "organizations", list)));
}

/* instance-config --instance-id N: the stored configuration, secrets in
 * clear (the administrator holds the key file anyway). */
static int cmd_instance_config(ce_db_t *db, apr_pool_t *p, const cli_t *cli)
{
    ce_instance_t *inst;
    const char *err = NULL;
    apr_status_t rv =
        ce_store_instance_admin_get(&inst, db, p, NULL, id_option(cli, "instance-id"), &err);

    if (rv == APR_NOTFOUND) {
        return failure(NULL, rv,
                       apr_psprintf(p, "no instance with id %" APR_INT64_T_FMT,
                                    id_option(cli, "instance-id")));
    }
    if (rv != APR_SUCCESS) {
        return failure("cannot read the instance", rv, err);
    }
    return print_json(
        p, ce_json_bind(p, json_pack("{s:{s:I, s:O}}", "instance", "id", (json_int_t)inst->id,
                                     "configuration", inst->configuration)));
}

/* oauth-refresh --instance-id N --catalog FILE [--outbound-allow CIDR,...]
 * [--timeout SECONDS]: a new access token for instance N now, through the
 * core's one way to a fresh token (ce_store_oauth_fresh: the servers'
 * lease, so it is one refresh of all); prints when it expires, never a
 * token. The guard is the servers' (CEInstancesOutboundAllow's networks). */
static int cmd_oauth_refresh(ce_db_t *db, apr_pool_t *p, const cli_t *cli)
{
    const char *allow = apr_table_get(cli->opts, "outbound-allow");
    const char *secs = apr_table_get(cli->opts, "timeout"), *err = NULL;
    apr_array_header_t *nets = apr_array_make(p, 4, sizeof(const char *));
    apr_int64_t timeout = 10, id = id_option(cli, "instance-id");
    ce_catalog_t *cat;
    ce_outbound_t *guard;
    ce_fresh_token_t fresh;
    char *net, *last;
    apr_status_t rv;

    if (secs && ce_num_parse(&timeout, secs, 1, 300) != APR_SUCCESS) {
        return usage_error("--timeout must be a number of seconds from 1 to 300");
    }
    for (net = allow ? apr_strtok(apr_pstrdup(p, allow), ",", &last) : NULL; net;
         net = apr_strtok(NULL, ",", &last)) {
        APR_ARRAY_PUSH(nets, const char *) = net;
    }
    if ((rv = ce_outbound_make(&guard, p, nets, &err)) != APR_SUCCESS) {
        return failure("--outbound-allow", rv, err);
    }
    if ((rv = ce_catalog_load(&cat, p, apr_table_get(cli->opts, "catalog"), &err)) != APR_SUCCESS) {
        return failure("cannot read the catalog", rv, err);
    }
    if ((rv = ce_http_curl_global_init(&err)) != APR_SUCCESS) {
        return failure("cannot start libcurl", rv, err);
    }
    rv = ce_store_oauth_fresh(&fresh, db, ce_http_curl_make(p, guard, apr_time_from_sec(timeout)),
                              p, cat, NULL, id, -1,
                              CE_STORE_OAUTH_LEASE(apr_time_from_sec(timeout)), &err);
    if (rv == APR_NOTFOUND) {
        return failure(NULL, rv, apr_psprintf(p, "no instance with id %" APR_INT64_T_FMT, id));
    }
    if (rv != APR_SUCCESS) {
        return failure("the access token was not refreshed", rv, err);
    }
    return print_json(p, ce_json_bind(p, json_pack("{s:{s:I, s:b, s:I}}", "instance", "id",
                                                   (json_int_t)id, "refreshed", fresh.refreshed,
                                                   "expiresAt", (json_int_t)fresh.expires)));
}

/* keygen PATH [--rotate OLD [--stage STAGED] | --prune OLD] */
static int cmd_keygen(ce_db_t *db, apr_pool_t *p, const cli_t *cli)
{
    const char *old = apr_table_get(cli->opts, "rotate"), *err = NULL;
    const char *prune = apr_table_get(cli->opts, "prune");
    const char *stage = apr_table_get(cli->opts, "stage");
    ce_keys_t *from = NULL, *next = NULL, *staged = NULL;
    apr_status_t rv;

    if (!cli->arg) {
        return usage_error("keygen needs the PATH of the new key file");
    }
    if ((old && prune) || (stage && !old)) {
        return usage_error("keygen takes --rotate OLD [--stage STAGED], or --prune OLD");
    }
    if ((old || prune) &&
        (rv = ce_crypto_keys_load(&from, p, old ? old : prune, &err)) != APR_SUCCESS) {
        return failure("cannot read the old key file", rv, err);
    }
    if (prune) {
        ce_crypto_keys_prune(&next, from, p);
        rv = ce_crypto_keys_save(cli->arg, next, p, &err);
    } else if (from) {
        if ((rv = ce_crypto_keys_rotate(&next, from, p)) != APR_SUCCESS) {
            return failure("cannot make a key", rv, "the random generator failed");
        }
        ce_crypto_keys_stage(&staged, from, next, p);
        rv = stage ? ce_crypto_keys_save(stage, staged, p, &err) : APR_SUCCESS;
        rv = rv == APR_SUCCESS ? ce_crypto_keys_save(cli->arg, next, p, &err) : rv;
    } else if ((rv = ce_crypto_keys_write(cli->arg, NULL, p, &err)) == APR_SUCCESS) {
        rv = ce_crypto_keys_load(&next, p, cli->arg, &err); /* for its key id */
    }
    if (rv != APR_SUCCESS) {
        return failure("cannot write the key file", rv, err);
    }
    return print_json(p, ce_json_bind(p, json_pack("{s:{s:s, s:b, s:s?, s:s?}}", "keyFile", "path",
                                                   cli->arg, "keepsDigestKey", from != NULL, "key",
                                                   next ? next->kid : NULL, "staged", stage)));
}

/* The report of a rekey or verify, as JSON. */
static json_t *report_json(const ce_store_rekey_report_t *r, const ce_keys_t *keys, apr_pool_t *p)
{
    json_t *by_key = json_object(), *bad = json_array();
    apr_hash_index_t *hi;
    int i;

    for (hi = apr_hash_first(p, r->by_key); hi; hi = apr_hash_next(hi)) {
        const char *kid = apr_hash_this_key(hi);

        json_object_set_new(by_key, *kid ? kid : "before-key-ids",
                            json_integer(*(const apr_int64_t *)apr_hash_this_val(hi)));
    }
    for (i = 0; i < r->unreadable->nelts; i++) {
        json_array_append_new(bad, json_string(APR_ARRAY_IDX(r->unreadable, i, const char *)));
    }
    return json_pack("{s:s, s:I, s:o, s:o}", "currentKey", keys->kid, "values",
                     (json_int_t)r->values, "byKey", by_key, "unreadable", bad);
}

/* rekey [--batch N]: re-seals, online, under the key file's encryption key */
static int cmd_rekey(ce_db_t *db, apr_pool_t *p, const cli_t *cli)
{
    const char *err = NULL, *b = apr_table_get(cli->opts, "batch");
    ce_store_rekey_report_t *r;
    apr_int64_t batch = 100;
    apr_status_t rv;
    json_t *out;

    if (b && ce_num_parse(&batch, b, 1, 100000) != APR_SUCCESS) {
        return usage_error("--batch must be a number of rows from 1 to 100000");
    }
    if ((rv = ce_store_rekey(&r, db, p, (int)batch, &err)) != APR_SUCCESS) {
        return failure("rekey stopped (what it re-sealed so far stays, and opens)", rv, err);
    }
    out = report_json(r, db->keys, p);
    json_object_set_new(out, "resealed", json_integer(r->resealed));
    json_object_set_new(out, "passes", json_integer(r->passes));
    print_json(p, ce_json_bind(p, json_pack("{s:o}", "rekey", out)));
    return r->unreadable->nelts ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* verify: opens every sealed value; exit 1 if one does not */
static int cmd_verify(ce_db_t *db, apr_pool_t *p, const cli_t *cli)
{
    const char *err = NULL;
    ce_store_rekey_report_t *r;
    apr_status_t rv;

    if ((rv = ce_store_verify(&r, db, p, &err)) != APR_SUCCESS) {
        return failure("verify failed", rv, err);
    }
    print_json(p, ce_json_bind(p, json_pack("{s:o}", "verify", report_json(r, db->keys, p))));
    return r->unreadable->nelts ? EXIT_FAILURE : EXIT_SUCCESS;
}

static const char *const signup_opts[] = {"org", "email", "first", "last", NULL};
static const char *const user_add_opts[] = {"org-id", "email", "first", "last", NULL};
static const char *const user_id_opts[] = {"user-id", NULL};
static const char *const org_id_opts[] = {"org-id", NULL};
static const char *const no_opts[] = {NULL};
static const char *const keygen_opts[] = {"rotate", "stage", "prune", NULL};
static const char *const instance_opts[] = {"instance-id", NULL};
static const char *const rekey_opts[] = {"batch", NULL};
static const char *const refresh_opts[] = {"instance-id", "catalog", "outbound-allow", "timeout",
                                           NULL};

static const command_t commands[] = {
    {"signup", signup_opts, cmd_signup, 0, 1},
    {"user-add", user_add_opts, cmd_user_add, 0, 0},
    {"rotate-user", user_id_opts, cmd_rotate_user, 0, 0},
    {"rotate-org", org_id_opts, cmd_rotate_org, 0, 0},
    {"list-orgs", no_opts, cmd_list_orgs, 0, 0},
    {"keygen", keygen_opts, cmd_keygen, 1, 0},
    {"instance-config", instance_opts, cmd_instance_config, 0, 0},
    {"rekey", rekey_opts, cmd_rekey, 0, 0},
    {"verify", no_opts, cmd_verify, 0, 0},
    {"oauth-refresh", refresh_opts, cmd_oauth_refresh, 0, 0},
};

/* Options each command cannot do without (all must be non-empty). */
static const char *const required[][3] = {
    {"signup", "org", "email"},
    {"user-add", "org-id", "email"},
    {"rotate-user", "user-id", NULL},
    {"rotate-org", "org-id", NULL},
    {"instance-config", "instance-id", NULL},
    {"oauth-refresh", "instance-id", "catalog"},
};

static const command_t *find_command(const char *name)
{
    apr_size_t i;

    for (i = 0; name && i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

/* Splits argv into --db, the command and its "--name value" options
 * ("--name=value" too). Returns NULL or a usage error message. */
static const char *parse_args(cli_t *cli, apr_pool_t *p, int argc, const char *const *argv)
{
    int i;

    cli->opts = apr_table_make(p, 8);
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq, *name, *value;

        if (strncmp(arg, "--", 2) != 0) {
            if (cli->command && (cli->arg || strcmp(cli->command, "keygen") != 0)) {
                return apr_psprintf(p, "unexpected argument '%s'", arg);
            }
            *(cli->command ? &cli->arg : &cli->command) = arg;
            continue;
        }
        eq = strchr(arg, '=');
        name = eq ? apr_pstrmemdup(p, arg + 2, eq - arg - 2) : arg + 2;
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            return apr_psprintf(p, "option --%s needs a value", name);
        }
        if (strcmp(name, "db") == 0 || strcmp(name, "key") == 0) {
            const char **slot = strcmp(name, "db") == 0 ? &cli->db : &cli->key;

            if (*slot) {
                return apr_psprintf(p, "option --%s given twice", name);
            }
            *slot = value;
        } else if (apr_table_get(cli->opts, name) != NULL) {
            return apr_psprintf(p, "option --%s given twice", name);
        } else {
            apr_table_setn(cli->opts, name, value);
        }
    }
    return NULL;
}

static int allowed(const command_t *cmd, const char *name)
{
    const char *const *o;

    for (o = cmd->allowed; *o; o++) {
        if (strcmp(*o, name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Checks cli against cmd: known options only, required ones non-empty. */
static const char *check_options(const cli_t *cli, const command_t *cmd, apr_pool_t *p)
{
    const apr_array_header_t *arr = apr_table_elts(cli->opts);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    apr_size_t i;
    int j;

    for (j = 0; j < arr->nelts; j++) {
        apr_size_t len = strlen(e[j].key);

        if (!allowed(cmd, e[j].key)) {
            return apr_psprintf(p, "%s does not take --%s", cmd->name, e[j].key);
        }
        if (len > 3 && strcmp(e[j].key + len - 3, "-id") == 0 && !id_option(cli, e[j].key)) {
            return apr_psprintf(p, "--%s must be a positive integer", e[j].key);
        }
    }
    for (i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        if (strcmp(required[i][0], cmd->name) != 0) {
            continue;
        }
        for (j = 1; j < 3 && required[i][j]; j++) {
            const char *v = apr_table_get(cli->opts, required[i][j]);

            if (!v || !*v) {
                return apr_psprintf(p, "%s needs --%s", cmd->name, required[i][j]);
            }
        }
    }
    return NULL;
}

/* Before an SQLite file is opened: a command that only reads or changes
 * must not create a database (a mistyped path would answer as an empty
 * one), and root must not leave files httpd cannot write. Run as root,
 * ceadmin becomes the owner of the database (or of its directory, for a
 * new one) when that is not root, so the database and its -wal/-shm files
 * stay that user's; the key file has been read by then. */
static int sqlite_file_check(apr_pool_t *p, const char *path, int creates)
{
    struct stat st;
    char *dir = apr_pstrdup(p, path), *slash = strrchr(dir, '/');

    if (stat(path, &st) != 0) {
        if (!creates) {
            return failure(NULL, APR_ENOENT,
                           apr_psprintf(p, "no database at %s (only signup creates one)", path));
        }
        if (!slash) {
            dir = ".";
        } else {
            slash[slash == dir ? 1 : 0] = '\0'; /* "/db" lives in "/" */
        }
        if (stat(dir, &st) != 0) {
            return failure(
                NULL, APR_ENOENT,
                apr_psprintf(p, "cannot create a database in %s: no such directory", dir));
        }
    }
    if (geteuid() != 0 || st.st_uid == 0) {
        return EXIT_SUCCESS;
    }
    if (setgroups(0, NULL) != 0 || setgid(st.st_gid) != 0 || setuid(st.st_uid) != 0) {
        return failure(NULL, APR_EGENERAL,
                       apr_psprintf(p,
                                    "running as root, cannot become the owner (uid %ld) of "
                                    "%s: run ceadmin as that user",
                                    (long)st.st_uid, path));
    }
    return EXIT_SUCCESS;
}

/* Opens spec ("DRIVER:PARAMS") and prepares the store on it, with the keys
 * of key_path. */
static int open_db(ce_db_t *db, apr_pool_t *p, const char *spec, const char *key_path, int creates)
{
    const char *colon = strchr(spec, ':'), *err = NULL, *name;
    ce_keys_t *keys;
    apr_status_t rv;

    if (!colon || colon == spec) {
        return usage_error("--db must be DRIVER:PARAMS, e.g. sqlite3:/var/lib/ce/ce.db");
    }
    if ((rv = ce_crypto_keys_load(&keys, p, key_path, &err)) != APR_SUCCESS) {
        return failure(NULL, rv, err); /* err names the file and why */
    }
    name = apr_pstrmemdup(p, spec, colon - spec);
    memset(db, 0, sizeof(*db));
    db->pool = p;
    db->prepared = apr_hash_make(p);
    db->keys = keys;
    if ((rv = apr_dbd_init(p)) != APR_SUCCESS ||
        (rv = apr_dbd_get_driver(p, name, &db->driver)) != APR_SUCCESS) {
        return failure(apr_psprintf(p, "database driver %s unavailable", name), rv, NULL);
    }
    if (strcmp(name, "sqlite3") == 0 && sqlite_file_check(p, colon + 1, creates) != EXIT_SUCCESS) {
        return EXIT_FAILURE;
    }
    if ((rv = apr_dbd_open_ex(db->driver, p, colon + 1, &db->handle, &err)) != APR_SUCCESS) {
        return failure("cannot open the database", rv, err);
    }
    if ((rv = ce_store_init(db, &err)) != APR_SUCCESS) {
        ce_store_close(db);
        db->handle = NULL;
        return failure("cannot prepare the database", rv, err);
    }
    return EXIT_SUCCESS;
}

/* --help or -h anywhere, or the command help: 'h'; --version anywhere:
 * 'v'; else 0. Before parsing: neither takes a value. */
static int wants_info(int argc, const char *const *argv)
{
    int i;

    if (argc == 2 && strcmp(argv[1], "help") == 0) {
        return 'h';
    }
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            return 'h';
        }
        if (strcmp(argv[i], "--version") == 0) {
            return 'v';
        }
    }
    return 0;
}

/* Parses, opens, runs one command. */
static int ceadmin(apr_pool_t *p, int argc, const char *const *argv)
{
    cli_t cli = {NULL, NULL, NULL, NULL, NULL};
    const command_t *cmd;
    const char *msg;
    ce_db_t db;
    int status;

    if ((msg = parse_args(&cli, p, argc, argv)) != NULL) {
        return usage_error(msg);
    }
    if (!(cmd = find_command(cli.command))) {
        fprintf(stderr, "ceadmin: %s\n\n%s",
                cli.command ? apr_psprintf(p, "unknown command '%s'", cli.command)
                            : "no command given",
                usage_text);
        return EXIT_USAGE;
    }
    if (strcmp(cmd->name, "rekey") == 0 &&
        (apr_table_get(cli.opts, "old") || apr_table_get(cli.opts, "new"))) {
        return usage_error("rekey re-seals under --key's encryption key and takes no --old or "
                           "--new: make the new key file with keygen NEW --rotate OLD, give it "
                           "to the servers, then run rekey --key NEW (README: Secrets at rest)");
    }
    if ((msg = check_options(&cli, cmd, p)) != NULL) {
        return usage_error(msg);
    }
    if (cmd->without_db) {
        return cmd->run(NULL, p, &cli);
    }
    if (!cli.db) {
        return usage_error("--db DRIVER:PARAMS is required");
    }
    if (!cli.key && !(cli.key = getenv("CE_KEY_FILE"))) {
        return usage_error("--key KEYFILE is required (or CE_KEY_FILE)");
    }
    if ((status = open_db(&db, p, cli.db, cli.key, cmd->creates)) != EXIT_SUCCESS) {
        return status;
    }
    status = cmd->run(&db, p, &cli);
    ce_store_close(&db);
    return status;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    int status;

    switch (wants_info(argc, argv)) {
        case 'h':
            return fputs(usage_text, stdout) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        case 'v':
            return printf("ceadmin %s\n", CE_VERSION) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
    }
    if (apr_app_initialize(&argc, &argv, NULL) != APR_SUCCESS ||
        apr_pool_create(&p, NULL) != APR_SUCCESS) {
        fprintf(stderr, "ceadmin: cannot initialize APR\n");
        return EXIT_FAILURE;
    }
    status = ceadmin(p, argc, argv);
    apr_pool_destroy(p);
    apr_terminate();
    return status;
}
