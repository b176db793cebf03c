#include "flow/jump.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bt/client_script.h"

static bool looks_like_sys_id(const char *s)
{
    if (strlen(s) != ITSM_SYS_ID_LEN)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static tb_err find_ci(itsm *t, const char *ci, itsm_record **out)
{
    *out = NULL;
    if (looks_like_sys_id(ci)) {
        tb_err e = itsm_get(t, "cmdb_ci", ci, out);
        if (e != TB_ERR_NOT_FOUND)
            return e;
    }
    itsm_kv kv = {"name", ci};
    itsm_record **v = NULL;
    size_t n = 0;
    tb_err e = itsm_query(t, "cmdb_ci", &kv, 1, 1, 1, 0, &v, &n);
    if (!e && n)
        *out = v[0];
    else
        itsm_records_free(v, n);
    if (!e && n)
        free(v);
    return e ? e : n ? TB_OK : TB_ERR_NOT_FOUND;
}

tb_err jump_build(itsm *t, const char *site, const char *task, const char *ci, const char *method, jump_link *out,
                  char *err, size_t errsz)
{
    memset(out, 0, sizeof *out);
    if ((!task || !*task) && (!ci || !*ci)) {
        snprintf(err, errsz, "give a task, a configuration item, or both");
        return TB_ERR_INVALID;
    }
    if ((task && strlen(task) > 64) || (ci && strlen(ci) > 255)) {
        snprintf(err, errsz, "task or configuration item name too long");
        return TB_ERR_INVALID;
    }
    tb_err e;
    const char *ci_ref = ci && *ci ? ci : NULL;
    if (task && *task) {
        itsm_record *r = NULL;
        e = itsm_find_task(t, task, NULL, &r);
        if (e) {
            snprintf(err, errsz, e == TB_ERR_NOT_FOUND ? "no task %s" : "cannot read task %s: %s", task,
                     tb_strerror(e));
            return e;
        }
        snprintf(out->task_table, sizeof out->task_table, "%s", r->table);
        snprintf(out->task_sys_id, sizeof out->task_sys_id, "%s", r->sys_id);
        const char *num = itsm_record_get(r, "number");
        snprintf(out->task_number, sizeof out->task_number, "%s", num ? num : "");
        const char *tci = itsm_record_get(r, "cmdb_ci");
        char tci_copy[ITSM_SYS_ID_LEN + 1] = "";
        if (tci)
            snprintf(tci_copy, sizeof tci_copy, "%s", tci);
        itsm_record_free(r);
        if (!ci_ref) {
            if (!tci_copy[0]) {
                snprintf(err, errsz, "%s has no configuration item: name one to jump to", out->task_number);
                return TB_ERR_INVALID;
            }
            itsm_record *c = NULL;
            e = itsm_get(t, "cmdb_ci", tci_copy, &c);
            if (e) {
                snprintf(err, errsz, "%s's configuration item cannot be read: %s", out->task_number, tb_strerror(e));
                return e;
            }
            const char *name = itsm_record_get(c, "name");
            snprintf(out->ci_name, sizeof out->ci_name, "%s", name ? name : "");
            snprintf(out->ci_sys_id, sizeof out->ci_sys_id, "%s", c->sys_id);
            itsm_record_free(c);
        }
    }
    if (ci_ref) {
        itsm_record *c = NULL;
        e = find_ci(t, ci_ref, &c);
        if (e) {
            snprintf(err, errsz, e == TB_ERR_NOT_FOUND ? "no configuration item %s" : "cannot read %s: %s", ci_ref,
                     tb_strerror(e));
            return e;
        }
        const char *name = itsm_record_get(c, "name");
        snprintf(out->ci_name, sizeof out->ci_name, "%s", name ? name : "");
        snprintf(out->ci_sys_id, sizeof out->ci_sys_id, "%s", c->sys_id);
        itsm_record_free(c);
    }
    if (!out->ci_name[0]) {
        snprintf(err, errsz, "the configuration item has no name to search for");
        return TB_ERR_INVALID;
    }
    bt_jump_item_session s = {.search_string = out->ci_name, .jump_method = method};
    if (out->task_sys_id[0])
        s.custom[s.ncustom].name = "snow_task_id", s.custom[s.ncustom++].value = out->task_sys_id;
    s.custom[s.ncustom].name = "snow_cmdb_ci_id", s.custom[s.ncustom++].value = out->ci_sys_id;
    tb_buf url, brcs;
    tb_buf_init(&url, 16 * 1024);
    tb_buf_init(&brcs, 16 * 1024);
    e = bt_jump_item_script(site, &s, &url, &brcs, err, errsz);
    if (e) {
        tb_buf_free(&url);
        tb_buf_free(&brcs);
        return e;
    }
    out->url = tb_buf_take(&url);
    out->brcs = tb_buf_take(&brcs);
    bt_brcs_file_name(site, out->file_name, sizeof out->file_name);
    if (!out->url || !out->brcs) {
        jump_link_free(out);
        return TB_ERR_NOMEM;
    }
    return TB_OK;
}

void jump_link_free(jump_link *l)
{
    free(l->url);
    free(l->brcs);
    l->url = l->brcs = NULL;
}

char *jump_link_json(const jump_link *l)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "url", l->url, "brcs", l->brcs, "file_name", l->file_name,
                          "search_string", l->ci_name);
    if (!o)
        return NULL;
    if (l->task_sys_id[0])
        json_object_set_new(o, "task", json_pack("{s:s, s:s, s:s}", "table", l->task_table, "number", l->task_number,
                                                 "sys_id", l->task_sys_id));
    json_object_set_new(o, "ci", json_pack("{s:s, s:s}", "name", l->ci_name, "sys_id", l->ci_sys_id));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
