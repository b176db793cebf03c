#include "flow/thread_handles.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct thread_handles {
    char *db_path;
    pthread_key_t key;
};

struct per_thread {
    itsm *tickets;
    tb_store *reader;
};

static void per_thread_free(void *p)
{
    struct per_thread *t = p;
    if (!t)
        return;
    itsm_close(t->tickets);
    store_close(t->reader);
    free(t);
}

tb_err thread_handles_new(const char *db_path, thread_handles **out)
{
    thread_handles *h = calloc(1, sizeof *h);
    if (!h || !(h->db_path = strdup(db_path)) || pthread_key_create(&h->key, per_thread_free)) {
        if (h)
            free(h->db_path);
        free(h);
        return TB_ERR_NOMEM;
    }
    *out = h;
    return TB_OK;
}

void thread_handles_free(thread_handles *h)
{
    if (!h)
        return;
    per_thread_free(pthread_getspecific(h->key));
    pthread_key_delete(h->key);
    free(h->db_path);
    free(h);
}

static struct per_thread *mine(thread_handles *h, tb_err *e)
{
    struct per_thread *t = pthread_getspecific(h->key);
    if (!t) {
        if (!(t = calloc(1, sizeof *t)) || pthread_setspecific(h->key, t)) {
            free(t);
            *e = TB_ERR_NOMEM;
            return NULL;
        }
    }
    return t;
}

itsm *thread_tickets(thread_handles *h, tb_err *e)
{
    *e = TB_OK;
    struct per_thread *t = mine(h, e);
    if (t && !t->tickets)
        *e = itsm_embedded_open(h->db_path, &t->tickets);
    return t ? t->tickets : NULL;
}

tb_store *thread_reader(thread_handles *h, tb_err *e)
{
    *e = TB_OK;
    struct per_thread *t = mine(h, e);
    if (t && !t->reader)
        *e = store_open(h->db_path, STORE_READ_ONLY, &t->reader);
    return t ? t->reader : NULL;
}
