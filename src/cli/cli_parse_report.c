/* placeholder: replaced by the report parser's command */
#include "cli/cli.h"
int cli_parse_report(tb_cli *c, int argc, char **argv) { (void)c; (void)argc; (void)argv; return cli_fail("parse-report is not available yet"); }
