/* A ServiceNow-compatible REST Table API and Attachment API over the
 * embedded ticket store, so that ServiceNow clients (scripts, libraries,
 * ticketbridge's own ServiceNow backend) work against ticketbridge
 * unchanged. See docs/table-api.md.
 *
 *   /api/now/[v1/|v2/]table/{table}[/{sys_id}]      GET HEAD POST PUT PATCH DELETE
 *   /api/now/[v1/]attachment[/file|/upload|/{sys_id}[/file]]
 *
 * Reads run on the HTTP thread, each thread with its own read-only
 * connection. Writes run in the single writer's group commit (the request
 * is suspended and answered after its COMMIT), so a record the client was
 * told about is on disk. Callers authenticate as ticketbridge users (Basic
 * or Bearer); tables are guarded by roles (table_api_access.c). */
#ifndef TB_FLOW_TABLE_API_H
#define TB_FLOW_TABLE_API_H

#include <stdbool.h>
#include "core/err.h"
#include "http/server.h"
#include "store/writer.h"

typedef struct table_api table_api;

typedef struct table_api_opts {
    const char *db_path;
    tb_writer *writer;
    bool https;                 /* links say https:// (the daemon serves TLS) */
} table_api_opts;

tb_err table_api_new(const table_api_opts *opt, table_api **out);
/* Call once the writer has committed everything queued and before it
 * stops: the writer-side handles live on its connection. */
void table_api_free(table_api *ta);
/* The API's routes, terminated by {0}; they stay valid until table_api_free. */
const tb_route *table_api_routes(table_api *ta);

#endif
