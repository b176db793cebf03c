/* Session keys (protocol doc §2.1) and the custom fields defined on the
 * simulated appliance (§2.2: "Custom fields must first be defined"). Callers
 * hold G.mu unless a function says otherwise. */
#include "btsim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fields the vendor guides have the administrator create (seed 000:
 * snow_task_id, snow_cmdb_ci_id; seed 003: snow_case_id and the auto-create
 * fields). */
static const char *DEFAULT_FIELDS[] = {
    "snow_task_id", "snow_cmdb_ci_id", "snow_case_id", "customer_email",
    "customer_username", "custom_field_1", "custom_field_2", "custom_field_3",
};

/* [I] the appliance's rule for code names is not documented; BeyondTrust
 * code names in every guide are lower-case words joined by underscores. */
bool custom_field_name_valid(const char *name)
{
    size_t n = 0;
    for (const char *p = name; *p; p++, n++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return false;
    return n >= 1 && n <= BT_CODE_NAME_MAX;
}

tb_err custom_fields_init(const char *csv)
{
    kvs_free(&G.custom_fields);
    if (!csv) {
        for (size_t i = 0; i < sizeof DEFAULT_FIELDS / sizeof *DEFAULT_FIELDS; i++)
            kvs_add(&G.custom_fields, DEFAULT_FIELDS[i], "");
        return TB_OK;
    }
    char *list = bt_strdup(csv), *save = NULL;
    tb_err rc = TB_OK;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!custom_field_name_valid(tok) || G.custom_fields.n >= BT_MAX_CUSTOM_FIELDS) {
            rc = TB_ERR_INVALID;
            break;
        }
        kvs_set(&G.custom_fields, tok, "");
    }
    free(list);
    return rc;
}

const char *custom_fields_undefined(const bt_kvs *custom)
{
    for (size_t i = 0; i < custom->n; i++)
        if (!kvs_get(&G.custom_fields, custom->items[i].k))
            return custom->items[i].k;
    return NULL;
}

/* Seed 003 (troubleshooting) quotes both messages for a key generated with a
 * code name the appliance does not know; which versions say which is not
 * documented, so --custom-field-error picks one [I]. */
char *custom_field_error(const char *name)
{
    if (G.cfg.custom_error_code_name)
        return bt_strdup("Invalid custom field code name");
    return bt_strdupf("Error validating parameter '%s': The session attribute is invalid", name);
}

void collect_session_custom(const bt_kvs *params, bt_kvs *custom, const char **ext)
{
    for (size_t i = 0; i < params->n; i++) {
        const char *k = params->items[i].k;
        if (strncmp(k, "session.custom.", 15) != 0)
            continue;
        if (strcmp(k + 15, "external_key") == 0)
            *ext = params->items[i].v;
        else
            kvs_set(custom, k + 15, params->items[i].v);
    }
}

/* [V] §2.2: each value ≤ 1024 characters, all of them with the external key
 * together ≤ 10 KB. Values must be UTF-8, or the report could not carry them. */
const char *custom_values_check(const bt_kvs *custom, const char *external_key)
{
    size_t total = 0;
    for (size_t i = 0; i <= custom->n; i++) {
        const char *k = i < custom->n ? custom->items[i].k : "external_key";
        const char *v = i < custom->n ? custom->items[i].v : external_key;
        if (!v)
            continue;
        if (!*k)
            return "Invalid custom attribute code name";
        long chars = bt_utf8_len(v);
        if (chars < 0)
            return "Custom attribute value is not valid UTF-8";
        if (chars > 1024)
            return "Custom attribute value exceeds 1024 characters";
        total += strlen(v);
    }
    if (total > 10240)
        return "Custom attributes exceed the 10 KB total limit";
    return NULL;
}

bt_key *key_add(const char *queue_id, const char *rep_username, const char *external_key,
                bt_kvs *custom, long ttl)
{
    char sk[8];
    for (;;) {
        snprintf(sk, sizeof sk, "%07u", bt_randn(10000000));
        bool dup = false;
        for (size_t i = 0; i < G.nkeys && !dup; i++)
            dup = strcmp(G.keys[i].short_key, sk) == 0;
        if (!dup)
            break;
    }
    if (G.nkeys == G.capkeys) {
        G.capkeys = G.capkeys ? G.capkeys * 2 : 16;
        G.keys = realloc(G.keys, G.capkeys * sizeof *G.keys);
        if (!G.keys)
            abort();
    }
    bt_key *k = &G.keys[G.nkeys++];
    memset(k, 0, sizeof *k);
    memcpy(k->short_key, sk, sizeof sk);
    k->queue_id = bt_strdup(queue_id);
    k->rep_username = bt_strdup(rep_username);
    k->external_key = bt_strdup(external_key ? external_key : "");
    k->custom = *custom;
    memset(custom, 0, sizeof *custom);
    k->created = (int64_t)bt_now();
    k->expires = k->created + ttl;
    return k;
}

bt_key *key_lookup(const char *short_key, bt_key_state *st)
{
    *st = BT_KEY_UNKNOWN;
    for (size_t i = 0; short_key && i < G.nkeys; i++) {
        if (strcmp(G.keys[i].short_key, short_key) == 0) {
            *st = G.keys[i].expires <= (int64_t)bt_now() ? BT_KEY_EXPIRED : BT_KEY_OK;
            return &G.keys[i];
        }
    }
    return NULL;
}

/* [I] the key URL's shape is not documented; --key-url-template sets it. */
char *key_url(const char *host, const char *short_key)
{
    tb_buf b;
    tb_buf_init(&b, 0);
    for (const char *p = G.cfg.key_url_template; *p;) {
        if (strncmp(p, "{host}", 6) == 0) {
            tb_buf_appends(&b, host);
            p += 6;
        } else if (strncmp(p, "{key}", 5) == 0) {
            tb_buf_appends(&b, short_key);
            p += 5;
        } else {
            tb_buf_append(&b, p++, 1);
        }
    }
    return tb_buf_take(&b);
}
