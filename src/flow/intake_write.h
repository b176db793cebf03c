/* The part of an intake that every webhook route shares (outbound events,
 * EPM webhooks): an incoming-request record on its way through the writer,
 * answered 200 only after it and its job are committed, and refusals
 * recorded as rejected records (answered at once, committed later).
 *
 * Ownership: an intake_write owns the strings it holds and is freed by its
 * done callback once submitted; before that, by intake_write_free. */
#ifndef TB_FLOW_INTAKE_WRITE_H
#define TB_FLOW_INTAKE_WRITE_H

#include "flow/workers.h"
#include "http/server.h"
#include "store/writer.h"

/* Bytes of a rejected body kept for the administrator to read. */
#define INTAKE_REJECTED_BODY_KEEP 4096

/* The copy of a body that may be stored (secrets removed); malloc'd, NULL
 * on OOM. */
typedef char *(*intake_redact_fn)(tb_http_req *req, const char *body, size_t len, size_t *outlen);

typedef struct intake_write {
    tb_write_req w;
    tb_http_req *http;          /* non-NULL while the request waits, suspended */
    workers *jobs;              /* woken when a job is committed; may be NULL */
    char route[64];
    char method[16];
    char source_ip[64];
    char *event;
    char *lsid;
    char *reason;
    char *content_type;
    char *body;
    unsigned char key[32];
} intake_write;

/* A record of req (route, method, peer, content type filled in). */
intake_write *intake_write_new(tb_http_req *req, workers *jobs);
void intake_write_free(intake_write *iw);

/* Records a refusal already answered (or about to be): the reason, the
 * event and lsid when known (may be NULL), and the start of the body
 * through redact (NULL = as received). Does not wait for the commit. */
void intake_record_rejection(tb_writer *w, tb_http_req *req, int64_t appliance_id, int status, const char *message,
                             const char *detail, const char *event, const char *lsid, intake_redact_fn redact);

/* Suspends req and hands iw to the writer: the answer (200 with the
 * incoming and job ids, or 503) is sent after the commit. On any failure
 * here it answers 503 itself and frees iw. */
void intake_write_submit(tb_writer *w, tb_http_req *req, intake_write *iw);

#endif
