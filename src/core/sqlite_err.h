/* SQLite result codes (primary or extended) as the project's tb_err. */
#ifndef TB_CORE_SQLITE_ERR_H
#define TB_CORE_SQLITE_ERR_H

#include "core/err.h"

/* UNIQUE / PRIMARY KEY violations are TB_ERR_EXISTS only when rc is an
 * extended code; other constraint failures are TB_ERR_INVALID. */
tb_err tb_sqlite_err(int rc);

#endif
