/* BRCS / client-script URL building for Jump to CI: escaping and the
 * documented limits (protocol notes §6.1). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bt/client_script.h"

static tb_err build(const char *site, bt_jump_item_session *s, char **url, char **brcs)
{
    tb_buf u, b;
    tb_buf_init(&u, 0);
    tb_buf_init(&b, 0);
    char err[200];
    tb_err e = bt_jump_item_script(site, s, &u, &b, err, sizeof err);
    *url = tb_buf_take(&u);
    *brcs = tb_buf_take(&b);
    return e;
}

static void test_escaping(void **state)
{
    (void)state;
    bt_jump_item_session s = {.search_string = "web 01&x=y/é", .jump_method = "rdp"};
    s.custom[s.ncustom].name = "snow_task_id", s.custom[s.ncustom++].value = "a b";
    char *url, *brcs;
    assert_int_equal(build("pra.example.com/", &s, &url, &brcs), TB_OK);
    assert_string_equal(url, "https://pra.example.com/api/client_script?type=rep&operation=generate&"
                             "action=start_jump_item_session&search_string=web%2001%26x%3Dy%2F%C3%A9&jump.method=rdp"
                             "&session.custom.snow_task_id=a%20b");
    assert_string_equal(brcs, "BRCS1.0\naction=start_jump_item_session&search_string=web%2001%26x%3Dy%2F%C3%A9"
                              "&jump.method=rdp&session.custom.snow_task_id=a%20b\n");
    free(url);
    free(brcs);
    /* a scheme given is kept */
    bt_jump_item_session t = {.search_string = "X"};
    assert_int_equal(build("http://127.0.0.1:9443", &t, &url, &brcs), TB_OK);
    assert_non_null(strstr(url, "http://127.0.0.1:9443/api/client_script?"));
    free(url);
    free(brcs);
}

static void test_limits(void **state)
{
    (void)state;
    char *url, *brcs;
    char big[2000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    big[255] = 0;
    bt_jump_item_session s = {.search_string = big};
    assert_int_equal(build("h", &s, &url, &brcs), TB_OK);       /* 255: at the limit */
    free(url);
    free(brcs);
    big[255] = 'a';
    big[256] = 0;
    assert_int_equal(build("h", &s, &url, &brcs), TB_ERR_INVALID);
    free(url);
    free(brcs);
    /* custom values: 1024 each, 10 KB together */
    memset(big, 'b', sizeof big - 1);
    big[1025] = 0;
    bt_jump_item_session c = {.search_string = "x", .ncustom = 1};
    c.custom[0].name = "f", c.custom[0].value = big;
    assert_int_equal(build("h", &c, &url, &brcs), TB_ERR_INVALID);
    free(url);
    free(brcs);
    big[1024] = 0;
    c.ncustom = 8;
    for (int i = 0; i < 8; i++)
        c.custom[i].name = "f", c.custom[i].value = big;
    assert_int_equal(build("h", &c, &url, &brcs), TB_OK);       /* 8 KiB */
    free(url);
    free(brcs);
    bt_jump_item_session d = {.search_string = "x", .ncustom = 1};
    d.custom[0].name = "f", d.custom[0].value = "ok\nbad";
    assert_int_equal(build("h", &d, &url, &brcs), TB_ERR_INVALID);  /* control character */
    free(url);
    free(brcs);
    bt_jump_item_session m = {.search_string = "x", .jump_method = "teleport"};
    assert_int_equal(build("h", &m, &url, &brcs), TB_ERR_INVALID);
    free(url);
    free(brcs);
    bt_jump_item_session empty = {.search_string = ""};
    assert_int_equal(build("h", &empty, &url, &brcs), TB_ERR_INVALID);
    free(url);
    free(brcs);
    assert_int_equal(build("", &s, &url, &brcs), TB_ERR_INVALID);
    free(url);
    free(brcs);
}

static void test_file_name(void **state)
{
    (void)state;
    char n[128];
    bt_brcs_file_name("https://support.example.com:443", n, sizeof n);
    assert_string_equal(n, "ticketbridge-jump.brcs-support");
    bt_brcs_file_name("pra", n, sizeof n);
    assert_string_equal(n, "ticketbridge-jump.brcs-pra");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_file_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
