/* ce_render: JSON written straight into a buffer (see ce_render.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>

#include "ce_render.h"

int ce_render_checking = 0;

void ce_render_init(ce_render_t *w, apr_pool_t *p, apr_size_t hint)
{
    w->p = p;
    w->len = 0;
    w->cap = hint < 64 ? 64 : hint;
    w->data = apr_palloc(p, w->cap);
}

/* Room for n more bytes and a NUL. */
static void reserve(ce_render_t *w, apr_size_t n)
{
    char *bigger;
    apr_size_t cap = w->cap;

    if (w->len + n + 1 <= cap) {
        return;
    }
    while (w->len + n + 1 > cap) {
        cap *= 2;
    }
    bigger = apr_palloc(w->p, cap);
    memcpy(bigger, w->data, w->len);
    w->data = bigger;
    w->cap = cap;
}

void ce_render_raw(ce_render_t *w, const char *s, apr_size_t n)
{
    reserve(w, n);
    memcpy(w->data + w->len, s, n);
    w->len += n;
}

/* What a byte below 0x80 becomes in a JSON string: 0 as is, 'u' as
 * \u00XX, else the letter after a backslash. */
static const char ESCAPE[128] = {
    ['\0'] = 'u', [0x01] = 'u', [0x02] = 'u', [0x03] = 'u',  [0x04] = 'u', [0x05] = 'u',
    [0x06] = 'u', [0x07] = 'u', ['\b'] = 'b', ['\t'] = 't',  ['\n'] = 'n', [0x0b] = 'u',
    ['\f'] = 'f', ['\r'] = 'r', [0x0e] = 'u', [0x0f] = 'u',  [0x10] = 'u', [0x11] = 'u',
    [0x12] = 'u', [0x13] = 'u', [0x14] = 'u', [0x15] = 'u',  [0x16] = 'u', [0x17] = 'u',
    [0x18] = 'u', [0x19] = 'u', [0x1a] = 'u', [0x1b] = 'u',  [0x1c] = 'u', [0x1d] = 'u',
    [0x1e] = 'u', [0x1f] = 'u', ['"'] = '"',  ['\\'] = '\\',
};

/* Length of the UTF-8 sequence at s (s[0] >= 0x80), or 0 when it is not
 * one jansson accepts: no overlong forms, no surrogates, nothing past
 * U+10FFFF. */
static apr_size_t utf8_sequence(const unsigned char *s)
{
    apr_size_t n, i;
    unsigned int cp;

    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        n = 2, cp = s[0] & 0x1F;
    } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        n = 3, cp = s[0] & 0x0F;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        n = 4, cp = s[0] & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0; /* the NUL at the end stops here too */
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp > 0x10FFFF) {
        return 0;
    }
    return n;
}

void ce_render_string(ce_render_t *w, const char *s)
{
    const unsigned char *u = (const unsigned char *)s, *run;
    apr_size_t start = w->len, n;
    char esc[7];

    if (!s) {
        ce_render_lit(w, "null");
        return;
    }
    ce_render_lit(w, "\"");
    while (*u) {
        for (run = u; *u && (*u >= 0x80 || !ESCAPE[*u]); u += n) {
            n = *u < 0x80 ? 1 : utf8_sequence(u);
            if (!n) {
                w->len = start; /* not UTF-8: what jansson's json_string() refuses */
                ce_render_lit(w, "null");
                return;
            }
        }
        ce_render_raw(w, (const char *)run, (apr_size_t)(u - run));
        if (*u) {
            if (ESCAPE[*u] == 'u') {
                snprintf(esc, sizeof(esc), "\\u%04X", *u);
                ce_render_raw(w, esc, 6);
            } else {
                esc[0] = '\\';
                esc[1] = ESCAPE[*u];
                ce_render_raw(w, esc, 2);
            }
            u++;
        }
    }
    ce_render_lit(w, "\"");
}

void ce_render_int(ce_render_t *w, apr_int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%" APR_INT64_T_FMT, v);

    ce_render_raw(w, buf, (apr_size_t)n);
}

void ce_render_bool(ce_render_t *w, int b)
{
    if (b) {
        ce_render_lit(w, "true");
    } else {
        ce_render_lit(w, "false");
    }
}

/* What jansson writes for v (a real: its own shortest-round-trip rules). */
static void by_jansson(ce_render_t *w, const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    if (s) {
        ce_render_raw(w, s, strlen(s));
        free(s);
    } else {
        ce_render_lit(w, "null");
    }
}

void ce_render_json(ce_render_t *w, const json_t *v)
{
    const char *key;
    json_t *item;
    apr_size_t i;

    switch (v ? json_typeof(v) : JSON_NULL) {
        case JSON_OBJECT:
            ce_render_lit(w, "{");
            i = 0;
            json_object_foreach((json_t *)v, key, item)
            {
                if (i++) {
                    ce_render_lit(w, ",");
                }
                ce_render_string(w, key);
                ce_render_lit(w, ":");
                ce_render_json(w, item);
            }
            ce_render_lit(w, "}");
            return;
        case JSON_ARRAY:
            ce_render_lit(w, "[");
            for (i = 0; i < json_array_size(v); i++) {
                if (i) {
                    ce_render_lit(w, ",");
                }
                ce_render_json(w, json_array_get(v, i));
            }
            ce_render_lit(w, "]");
            return;
        case JSON_STRING:
            ce_render_string(w, json_string_value(v));
            return;
        case JSON_INTEGER:
            ce_render_int(w, json_integer_value(v));
            return;
        case JSON_TRUE:
        case JSON_FALSE:
            ce_render_bool(w, json_is_true(v));
            return;
        case JSON_REAL:
            by_jansson(w, v);
            return;
        case JSON_NULL:
        default:
            ce_render_lit(w, "null");
            return;
    }
}

const char *ce_render_text(ce_render_t *w)
{
    reserve(w, 0);
    w->data[w->len] = '\0';
    return w->data;
}
