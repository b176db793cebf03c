/* ticketbridge jump: the Jump to Configuration Item link for a task or CI. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "flow/jump.h"
#include "itsm/itsm.h"
#include "store/store.h"

#define JUMP_USAGE                                                                                        \
    "ticketbridge jump (--ci NAME|SYS_ID | --task NUMBER | both) [--appliance NAME] [--method M] [--json]\n" \
    "                  [--brcs-file FILE]\n"                                                             \
    "Prints the client-script URL that starts a Jump item session on the configuration item (the\n"      \
    "task's when --ci is not given), with snow_task_id and snow_cmdb_ci_id set. --appliance defaults to\n" \
    "the first enabled PRA appliance, else Default. --method: push, local_push, pinned, rdp, vnc,\n"      \
    "shelljump. --brcs-file writes the BRCS script the console runs."

/* The named appliance, else the first enabled PRA one, else Default. */
static int pick_appliance(tb_store *st, const char *name, tb_appliance *out)
{
    tb_err e;
    if (name) {
        e = store_appliance_get(st, name, out);
        return e == TB_ERR_NOT_FOUND ? cli_fail("no appliance named '%s'", name)
             : e                     ? cli_fail("cannot read appliances: %s", tb_strerror(e)) : 0;
    }
    tb_appliance *v;
    size_t n;
    if ((e = store_appliance_list(st, &v, &n)))
        return cli_fail("cannot read appliances: %s", tb_strerror(e));
    ssize_t pick = -1;
    for (size_t i = 0; i < n && pick < 0; i++)
        if (!strcmp(v[i].product, "pra") && v[i].integration_enabled)
            pick = (ssize_t)i;
    for (size_t i = 0; i < n && pick < 0; i++)
        if (!strcmp(v[i].name, "Default"))
            pick = (ssize_t)i;
    if (pick < 0) {
        tb_appliances_free(v, n);
        return cli_fail("no PRA appliance and no Default appliance: add one with 'ticketbridge appliance add'");
    }
    *out = v[pick];
    memset(&v[pick], 0, sizeof v[pick]);
    tb_appliances_free(v, n);
    return 0;
}

int cli_jump(tb_cli *cli, int argc, char **argv)
{
    enum { O_CI = 1, O_TASK, O_APP, O_METHOD, O_JSON, O_BRCS, O_HELP };
    static const struct option opts[] = {
        {"ci", required_argument, 0, O_CI},         {"task", required_argument, 0, O_TASK},
        {"appliance", required_argument, 0, O_APP}, {"method", required_argument, 0, O_METHOD},
        {"json", no_argument, 0, O_JSON},           {"brcs-file", required_argument, 0, O_BRCS},
        {"help", no_argument, 0, O_HELP},           {0, 0, 0, 0},
    };
    const char *ci = NULL, *task = NULL, *appliance = NULL, *method = NULL, *brcs_file = NULL;
    bool json = false;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_CI: ci = optarg; break;
        case O_TASK: task = optarg; break;
        case O_APP: appliance = optarg; break;
        case O_METHOD: method = optarg; break;
        case O_JSON: json = true; break;
        case O_BRCS: brcs_file = optarg; break;
        case O_HELP: printf("usage: %s\n", JUMP_USAGE); return 0;
        default: return cli_usage_error(JUMP_USAGE);
        }
    }
    if (optind != argc || (!ci && !task))
        return cli_usage_error(JUMP_USAGE);
    tb_store *st;
    tb_err e = store_open(cli->cfg.database, STORE_READ_ONLY, &st);
    if (e)
        return cli_fail("cannot open database %s: %s", cli->cfg.database, tb_strerror(e));
    tb_appliance a;
    int rc = pick_appliance(st, appliance, &a);
    store_close(st);
    if (rc)
        return rc;
    itsm *t;
    char oerr[256];
    if ((e = itsm_open(&cli->cfg, &t, oerr, sizeof oerr))) {
        tb_appliance_clear(&a);
        return cli_fail("%s", oerr);
    }
    jump_link l;
    char err[256];
    e = jump_build(t, a.hostname, task, ci, method, &l, err, sizeof err);
    itsm_close(t);
    if (e) {
        tb_appliance_clear(&a);
        return cli_fail("%s", err);
    }
    if (brcs_file) {
        FILE *fp = fopen(brcs_file, "w");
        if (!fp || fputs(l.brcs, fp) < 0 || fclose(fp)) {
            jump_link_free(&l);
            tb_appliance_clear(&a);
            return cli_fail("cannot write %s", brcs_file);
        }
    }
    if (json) {
        char *s = jump_link_json(&l);
        printf("%s\n", s ? s : "{}");
        free(s);
    } else {
        printf("appliance:  %s (%s)\n", a.name, a.hostname);
        if (l.task_sys_id[0])
            printf("task:       %s (%s)\n", l.task_number, l.task_sys_id);
        printf("ci:         %s (%s)\n", l.ci_name, l.ci_sys_id);
        printf("url:        %s\n", l.url);
        printf("brcs file:  %s\n%s", l.file_name, l.brcs);
    }
    jump_link_free(&l);
    tb_appliance_clear(&a);
    return 0;
}
