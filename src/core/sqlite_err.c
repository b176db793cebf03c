#include "core/sqlite_err.h"

#include <sqlite3.h>

tb_err tb_sqlite_err(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return TB_OK;
    case SQLITE_NOMEM:
        return TB_ERR_NOMEM;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return TB_ERR_BUSY;
    case SQLITE_TOOBIG:
        return TB_ERR_TOO_LARGE;
    case SQLITE_CONSTRAINT:
        return (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) ? TB_ERR_EXISTS
                                                                                      : TB_ERR_INVALID;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
        return TB_ERR_IO;
    default:
        return TB_ERR_DB;
    }
}
