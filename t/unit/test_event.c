/* Unit tests of ce_event: which event a change is, an event's JSON, the
 * webhook signature, the retry backoff. */
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "unit.h"
#include "ce_catalog.h"
#include "ce_event.h"
#include "ce_json.h"

static const char catalog_text[] =
    "{\"elements\": [{\"id\": 16, \"key\": \"amazons3\", \"name\": \"Amazon S3\","
    " \"configuration\": [{\"key\": \"aws.secret\", \"name\": \"Secret\", \"type\": "
    "\"PASSWORD\"}]}]}";
static ce_user_t owner = {7, 3, "a@acme.test", "First", "Last"};

static ce_instance_t *instance(void)
{
    ce_instance_t *inst = apr_pcalloc(pool, sizeof(*inst));
    ce_catalog_t *cat = NULL;
    const char *err = NULL;

    ck_assert_int_eq(ce_catalog_parse(&cat, pool, catalog_text, strlen(catalog_text), &err),
                     APR_SUCCESS);
    inst->id = 42;
    inst->organization_id = 3;
    inst->user = &owner;
    inst->element_id = 16;
    inst->element = ce_catalog_by_id(cat, 16);
    inst->name = "x";
    inst->token = "the-instance-token";
    inst->tags = ce_json_bind(pool, json_array());
    inst->configuration = ce_json_bind(
        pool, json_pack("{s:s, s:s}", "bucket.name", "photos", "aws.secret", "s3cr3t-value"));
    inst->created_date = inst->updated_date = "2026-12-03T09:00:00.000Z";
    inst->external_authentication = "none";
    inst->oauth_status = "";
    return inst;
}

static ce_instance_t *copy(const ce_instance_t *was)
{
    ce_instance_t *now = apr_pmemdup(pool, was, sizeof(*was));

    now->configuration = ce_json_bind(pool, json_deep_copy(was->configuration));
    return now;
}

START_TEST(event_of_change)
{
    ce_instance_t *was = instance(), *now = copy(was);

    ck_assert_int_eq(ce_event_of_change(NULL, was), CE_EVENT_CREATED);
    ck_assert_int_eq(ce_event_of_change(was, NULL), CE_EVENT_DELETED);
    ck_assert_int_eq(ce_event_of_change(was, now), CE_EVENT_UPDATED); /* written unchanged */
    json_object_set_new(now->configuration, "oauth.user.token", json_string("fresh"));
    now->oauth_due = 123;
    ck_assert_int_eq(ce_event_of_change(was, now), CE_EVENT_NONE); /* a routine refresh */
    json_object_set_new(now->configuration, "bucket.name", json_string("other"));
    ck_assert_int_eq(ce_event_of_change(was, now), CE_EVENT_UPDATED);
    now->oauth_failures = 1;
    ck_assert_int_eq(ce_event_of_change(was, now), CE_EVENT_REFRESH_FAILED);
    ck_assert_int_eq(ce_event_of_change(now, was), CE_EVENT_REFRESH_RECOVERED);
    now->oauth_failures = 0;
    now->oauth_status = "The provider refused the refresh token: invalid_grant";
    ck_assert_int_eq(ce_event_of_change(was, now), CE_EVENT_REFRESH_FAILED);
    ck_assert_int_eq(ce_event_of_change(now, was), CE_EVENT_REFRESH_RECOVERED);
    now->reauthenticated = 1;
    ck_assert_int_eq(ce_event_of_change(was, now), CE_EVENT_REAUTHENTICATED);
    now->disabled = 1;
    ck_assert_int_eq(ce_event_of_change(was, now), CE_EVENT_DISABLED);
    ck_assert_int_eq(ce_event_of_change(now, was), CE_EVENT_ENABLED);
    ck_assert_ptr_null(ce_event_type_name(CE_EVENT_NONE));
    ck_assert_ptr_null(ce_event_type_name(CE_EVENT_TYPES));
    ck_assert_str_eq(ce_event_type_name(CE_EVENT_REFRESH_RECOVERED), "REFRESH_RECOVERED");
}
END_TEST

START_TEST(event_json)
{
    ce_instance_t *inst = instance();
    json_t *j = ce_event_json(pool, "id-1", CE_EVENT_UPDATED, "2026-12-03T10:00:00.000Z", inst);
    json_t *shown = json_object_get(j, "instance");
    const char *text = ce_json_dump(pool, j);

    ck_assert_str_eq(unit_keys_of(j), "eventId,instanceId,elementKey,eventType,eventDate,instance");
    ck_assert_str_eq(json_string_value(json_object_get(j, "eventType")), "UPDATED");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "instanceId")), 42);
    ck_assert_str_eq(json_string_value(json_object_get(j, "elementKey")), "amazons3");
    ck_assert_ptr_null(json_object_get(shown, "token"));
    ck_assert_ptr_null(strstr(text, "the-instance-token"));
    ck_assert_ptr_null(strstr(text, "s3cr3t-value"));
    ck_assert_str_eq(unit_keys_of(json_object_get(shown, "element")), "id,key,name");
    ck_assert_ptr_null(ce_event_json(pool, "id-1", CE_EVENT_NONE, "d", inst));
    /* the text stored and sent: the tree's bytes, written straight */
    ck_assert_str_eq(
        ce_event_text(pool, "id-\"1\"", CE_EVENT_UPDATED, "2026-12-03T10:00:00.000Z", inst),
        ce_json_dump(pool, ce_event_json(pool, "id-\"1\"", CE_EVENT_UPDATED,
                                         "2026-12-03T10:00:00.000Z", inst)));
    ck_assert_ptr_null(ce_event_text(pool, "id-1", CE_EVENT_NONE, "d", inst));
}
END_TEST

/* A body made before its instance had an id (a create's event), filled
 * from the row's id on every read: exactly the bytes of a body rendered
 * with the id; a body whose ids are right already, or of another shape,
 * as it was. */
START_TEST(event_fill_id)
{
    ce_instance_t *inst = instance();
    const char *with, *without, *out;
    apr_size_t len, digit;

    inst->name = "n \"id\":0, \"instanceId\":0 \\";
    with = ce_event_text(pool, "e-1", CE_EVENT_CREATED, "2026-12-03T10:00:00.000Z", inst);
    inst->id = 0;
    without = ce_event_text(pool, "e-1", CE_EVENT_CREATED, "2026-12-03T10:00:00.000Z", inst);
    ck_assert_ptr_nonnull(strstr(without, "\"instanceId\":0,"));
    out = ce_event_fill_id(pool, without, strlen(without), 42, &len);
    ck_assert_str_eq(out, with);
    ck_assert_uint_eq(len, strlen(with));
    ck_assert_ptr_eq(ce_event_fill_id(pool, with, strlen(with), 42, &len), with);
    /* another id than the one there (a body of before this change) */
    out = ce_event_fill_id(pool, with, strlen(with), 1234567890123LL, &len);
    ck_assert_ptr_nonnull(strstr(out, "\"instanceId\":1234567890123,\"elementKey\""));
    ck_assert_ptr_nonnull(strstr(out, "\"instance\":{\"id\":1234567890123,\"name\""));
    ck_assert_uint_eq(len, strlen(out));
    ck_assert_ptr_nonnull(ce_json_bind(pool, json_loadb(out, len, 0, NULL)));
    /* not an event body: as it was */
    ck_assert_str_eq(ce_event_fill_id(pool, "{\"instanceId\":0}", 16, 42, &len),
                     "{\"instanceId\":0}");
    ck_assert_uint_eq(len, 16);
    /* cut short before the instance's id: as it was, nothing read past
     * its end (each cut its own allocation, for valgrind/ASan) */
    digit = (apr_size_t)(strstr(without, "\"instance\":{\"id\":") - without) + 17;
    for (len = 0; len < digit; len++) {
        apr_size_t n;
        char *cut = apr_pstrmemdup(pool, without, len);

        ck_assert_ptr_eq(ce_event_fill_id(pool, cut, len, 42, &n), cut);
    }
}
END_TEST

START_TEST(event_wanted)
{
    ce_instance_t *inst = instance();
    const char *url = "x";

    ck_assert_int_eq(ce_event_wanted(inst, &url), 0);
    ck_assert_ptr_null(url);
    json_object_set_new(inst->configuration, CE_EVENT_ENABLED_KEY, json_string("true"));
    ck_assert_int_eq(ce_event_wanted(inst, &url), 0); /* no URL */
    json_object_set_new(inst->configuration, CE_EVENT_CALLBACK_KEY, json_string(""));
    ck_assert_int_eq(ce_event_wanted(inst, &url), 0);
    json_object_set_new(inst->configuration, CE_EVENT_CALLBACK_KEY, json_string("https://h/x"));
    ck_assert_int_eq(ce_event_wanted(inst, &url), 1);
    ck_assert_str_eq(url, "https://h/x");
    json_object_set_new(inst->configuration, CE_EVENT_ENABLED_KEY, json_false());
    ck_assert_int_eq(ce_event_wanted(inst, &url), 0);
    json_object_set_new(inst->configuration, CE_EVENT_ENABLED_KEY, json_true());
    ck_assert_int_eq(ce_event_wanted(inst, &url), 1);
}
END_TEST

START_TEST(event_signature)
{
    unsigned char mac[32];
    unsigned int n = 0;
    char b64[64];

    /* RFC 4231 test case 2: key "Jefe" */
    ck_assert_str_eq(ce_event_signature(pool, "Jefe", "what do ya want for nothing?", 28),
                     "sha256=W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), "k", 1, (const unsigned char *)"{}", 2, mac, &n));
    EVP_EncodeBlock((unsigned char *)b64, mac, (int)n);
    ck_assert_str_eq(ce_event_signature(pool, "k", "{}", 2),
                     apr_pstrcat(pool, "sha256=", b64, NULL));
}
END_TEST

START_TEST(event_backoff)
{
    apr_interval_time_t base = apr_time_from_sec(60), total = 0;
    int i;

    ck_assert_int_eq(ce_event_backoff(1, base, 0.5), base);
    ck_assert_int_eq(ce_event_backoff(2, base, 0.5), 3 * base);
    ck_assert_int_eq(ce_event_backoff(30, base, 0.5), apr_time_from_sec(24 * 3600));
    ck_assert_int_eq(ce_event_backoff(1, base, 0.0), base - base / 5);
    ck_assert(ce_event_backoff(1, base, 0.99) > base + base / 6);
    for (i = 1; i <= 9; i++) {
        total += ce_event_backoff(i, base, 0.5);
    }
    /* nine retries take about three days (Cloud Elements: ~73 h) */
    ck_assert(total > apr_time_from_sec(60 * 3600) && total < apr_time_from_sec(80 * 3600));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, unit_setup, unit_teardown);
    tcase_add_test(tc, event_of_change);
    tcase_add_test(tc, event_json);
    tcase_add_test(tc, event_fill_id);
    tcase_add_test(tc, event_wanted);
    tcase_add_test(tc, event_signature);
    tcase_add_test(tc, event_backoff);
    suite_add_tcase(s, tc);
    return unit_run(s);
}
