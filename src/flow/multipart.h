/* multipart/form-data bodies (RFC 7578), for the Attachment API's upload.
 * The server hands handlers the complete body, and libmicrohttpd's post
 * processor works only on a live connection, so the body is split here:
 * parts by their boundary, and each part's Content-Disposition name and
 * filename and its Content-Type. Nothing is copied: every pointer points
 * into the body, with a length (not NUL-terminated). */
#ifndef TB_FLOW_MULTIPART_H
#define TB_FLOW_MULTIPART_H

#include <stddef.h>
#include "core/err.h"

#define MULTIPART_MAX_PARTS 16

typedef struct mp_str {
    const char *p;
    size_t n;
} mp_str;

typedef struct mp_part {
    mp_str name;            /* form field name */
    mp_str filename;        /* .p NULL when the part is not a file */
    mp_str content_type;    /* .p NULL when absent */
    mp_str data;
} mp_part;

/* Splits body per the boundary in content_type ("multipart/form-data;
 * boundary=..."). TB_ERR_INVALID (with a reason in err) for anything
 * malformed: no boundary, a part without headers or without a name, no
 * closing delimiter. TB_ERR_TOO_LARGE past MULTIPART_MAX_PARTS parts. */
tb_err multipart_parse(const char *content_type, const char *body, size_t len, mp_part *parts,
                       size_t *nparts, char *err, size_t errsz);
/* The part named name, or NULL. */
const mp_part *multipart_find(const mp_part *parts, size_t n, const char *name);

#endif
