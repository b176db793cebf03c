#include "flow/thread_handles.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

struct thread_handles {
    tb_config cfg;
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

tb_err thread_handles_new(const tb_config *cfg, thread_handles **out)
{
    thread_handles *h = calloc(1, sizeof *h);
    if (!h || pthread_key_create(&h->key, per_thread_free)) {
        free(h);
        return TB_ERR_NOMEM;
    }
    h->cfg = *cfg;
    *out = h;
    return TB_OK;
}

void thread_handles_free(thread_handles *h)
{
    if (!h)
        return;
    per_thread_free(pthread_getspecific(h->key));
    pthread_key_delete(h->key);
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
    if (t && !t->tickets) {
        char err[256];
        if ((*e = itsm_open(&h->cfg, &t->tickets, err, sizeof err)))
            TB_LOGW("cannot open the ticket store", "err=\"%s\"", err);
    }
    return t ? t->tickets : NULL;
}

tb_store *thread_reader(thread_handles *h, tb_err *e)
{
    *e = TB_OK;
    struct per_thread *t = mine(h, e);
    if (t && !t->reader)
        *e = store_open(h->cfg.database, STORE_READ_ONLY, &t->reader);
    return t ? t->reader : NULL;
}
