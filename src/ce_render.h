/* ce_render: JSON written straight into a growing buffer, byte for byte
 * what jansson's json_dumps(JSON_COMPACT | JSON_ENCODE_ANY) writes for the
 * same values.
 *
 * Core unit: no httpd headers. The API's answers about instances are the
 * hot path of every read (a list page is twenty of them): building a
 * jansson tree only to serialize it cost more than everything else a GET
 * does. The renderers of the shapes themselves live next to the jansson
 * builders that define them (ce_instance_json.c); this unit is the writer
 * they share. jansson stays the parser and the reference writer: a value
 * this writer does not do by itself (a real number) is handed to it.
 *
 * Strings: '"' and '\\' escaped, \b \f \n \r \t by name, other bytes below
 * 0x20 as \u00XX (upper-case hex, as jansson), everything else (UTF-8
 * included) as is. A string that is not valid UTF-8 is written as null:
 * jansson's json_string() refuses it, and the reference writes null then.
 */
#ifndef CE_RENDER_H
#define CE_RENDER_H

#include <apr_pools.h>
#include <jansson.h>

typedef struct {
    apr_pool_t *p;
    char *data; /* NUL-terminated after ce_render_text */
    apr_size_t len, cap;
} ce_render_t;

/* An empty buffer in p, with room for hint bytes to start with. */
void ce_render_init(ce_render_t *w, apr_pool_t *p, apr_size_t hint);

/* Appends n bytes as they are (JSON text already made: punctuation, a
 * pre-rendered value). */
void ce_render_raw(ce_render_t *w, const char *s, apr_size_t n);

/* Appends a literal (a string constant of JSON text). */
#define ce_render_lit(w, s) ce_render_raw((w), (s), sizeof(s) - 1)

/* Appends s as a JSON string, or null when s is NULL or not UTF-8. */
void ce_render_string(ce_render_t *w, const char *s);

/* Appends an integer. */
void ce_render_int(ce_render_t *w, apr_int64_t v);

/* Appends true or false. */
void ce_render_bool(ce_render_t *w, int b);

/* Appends any JSON value (NULL as null): objects in their order,
 * arrays, strings, integers, booleans and null by this writer, a real
 * by jansson. */
void ce_render_json(ce_render_t *w, const json_t *v);

/* Set (post_config, from CEInstancesRenderCheck On): every fast path also
 * builds its reference tree and refuses to answer when the bytes differ
 * (a test setting). */
extern int ce_render_checking;

/* The text so far, NUL-terminated (stays valid until the pool goes; more
 * appends may move it). */
const char *ce_render_text(ce_render_t *w);

#endif
