/* Secrets at rest: key files, seal/open, password hashes, tokens. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/secret.h"

typedef struct fixture {
    char path[512];         /* key file path (not created by setup) */
    char path2[512];        /* second key file path */
    tb_secret_key key, key2;
} fixture;

static void tmp_path(char *out, size_t outsz, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    snprintf(out, outsz, "%s/test_secret_%s_XXXXXX", tmp, tag);
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    close(fd);
    unlink(out);
}

static int setup(void **state)
{
    assert_int_equal(tb_secret_init(), TB_OK);
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    tmp_path(f->path, sizeof f->path, "a");
    tmp_path(f->path2, sizeof f->path2, "b");
    *state = f;
    return 0;
}

/* Setup that also creates and loads two different keys. */
static int setup_keys(void **state)
{
    setup(state);
    fixture *f = *state;
    assert_int_equal(tb_secret_key_create(f->path), TB_OK);
    assert_int_equal(tb_secret_key_create(f->path2), TB_OK);
    assert_int_equal(tb_secret_key_load(f->path, &f->key), TB_OK);
    assert_int_equal(tb_secret_key_load(f->path2, &f->key2), TB_OK);
    assert_memory_not_equal(f->key.k, f->key2.k, sizeof f->key.k);
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    unlink(f->path);
    unlink(f->path2);
    tb_secret_key_wipe(&f->key);
    tb_secret_key_wipe(&f->key2);
    free(f);
    return 0;
}

static void test_init_idempotent(void **state)
{
    (void)state;
    assert_int_equal(tb_secret_init(), TB_OK);
    assert_int_equal(tb_secret_init(), TB_OK);
}

static void test_key_create(void **state)
{
    fixture *f = *state;
    assert_int_equal(tb_secret_key_create(f->path), TB_OK);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, 32);

    tb_secret_key k1, k2;
    assert_int_equal(tb_secret_key_load(f->path, &k1), TB_OK);

    /* refuses to overwrite: the key stays the same */
    assert_int_equal(tb_secret_key_create(f->path), TB_ERR_EXISTS);
    assert_int_equal(tb_secret_key_load(f->path, &k2), TB_OK);
    assert_memory_equal(k1.k, k2.k, sizeof k1.k);

    /* not all zero */
    unsigned char zero[32] = {0};
    assert_memory_not_equal(k1.k, zero, sizeof zero);

    tb_secret_key_wipe(&k1);
    assert_memory_equal(k1.k, zero, sizeof zero);
    tb_secret_key_wipe(&k2);
}

static void test_key_create_refuses_existing_file(void **state)
{
    fixture *f = *state;
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs("not a key, but must not be clobbered", fp);
    fclose(fp);
    assert_int_equal(tb_secret_key_create(f->path), TB_ERR_EXISTS);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(st.st_size, (off_t)strlen("not a key, but must not be clobbered"));
}

static void test_key_create_bad_dir(void **state)
{
    fixture *f = *state;
    char p[600];
    snprintf(p, sizeof p, "%s.nodir/key", f->path);
    assert_int_equal(tb_secret_key_create(p), TB_ERR_IO);
}

static void test_key_load_errors(void **state)
{
    fixture *f = *state;
    tb_secret_key k;
    assert_int_equal(tb_secret_key_load(f->path, &k), TB_ERR_NOT_FOUND);
    /* short key file */
    FILE *fp = fopen(f->path, "w");
    assert_non_null(fp);
    fputs("short", fp);
    fclose(fp);
    assert_int_equal(tb_secret_key_load(f->path, &k), TB_ERR_CRYPTO);
    /* empty key file */
    fp = fopen(f->path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(tb_secret_key_load(f->path, &k), TB_ERR_CRYPTO);
}

static void round_trip(const tb_secret_key *key, const char *plain)
{
    char *sealed = NULL, *opened = NULL;
    assert_int_equal(tb_secret_seal(key, plain, &sealed), TB_OK);
    assert_non_null(sealed);
    /* base64 text only, and the plaintext is not visible */
    for (const char *p = sealed; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '+' || *p == '/' || *p == '='))
            fail_msg("sealed text has non-base64 byte 0x%02x", (unsigned char)*p);
    if (strlen(plain) >= 4)
        assert_null(strstr(sealed, plain));
    assert_int_equal(tb_secret_open(key, sealed, &opened), TB_OK);
    assert_non_null(opened);
    assert_string_equal(opened, plain);
    tb_secret_free(opened);
    free(sealed);
}

static void test_seal_open_round_trip(void **state)
{
    fixture *f = *state;
    round_trip(&f->key, "");
    round_trip(&f->key, "x");
    round_trip(&f->key, "client-secret-0123456789");
    round_trip(&f->key, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x91 with spaces & symbols=%+/");
    char *big = malloc(100001);
    assert_non_null(big);
    for (size_t i = 0; i < 100000; i++)
        big[i] = (char)('a' + i % 26);
    big[100000] = '\0';
    round_trip(&f->key, big);
    free(big);

    /* random nonce: sealing twice gives different text */
    char *s1, *s2;
    assert_int_equal(tb_secret_seal(&f->key, "same", &s1), TB_OK);
    assert_int_equal(tb_secret_seal(&f->key, "same", &s2), TB_OK);
    assert_string_not_equal(s1, s2);
    free(s1);
    free(s2);
    tb_secret_free(NULL);
}

static void test_open_wrong_key(void **state)
{
    fixture *f = *state;
    char *sealed, *opened = (char *)0x1;
    assert_int_equal(tb_secret_seal(&f->key, "top secret", &sealed), TB_OK);
    assert_int_equal(tb_secret_open(&f->key2, sealed, &opened), TB_ERR_CRYPTO);
    assert_ptr_equal(opened, (char *)0x1); /* untouched on failure */
    /* a reloaded copy of the right key works */
    tb_secret_key again;
    assert_int_equal(tb_secret_key_load(f->path, &again), TB_OK);
    assert_int_equal(tb_secret_open(&again, sealed, &opened), TB_OK);
    assert_string_equal(opened, "top secret");
    tb_secret_free(opened);
    tb_secret_key_wipe(&again);
    free(sealed);
}

static void expect_crypto_error(const tb_secret_key *key, const char *sealed)
{
    char *opened = NULL;
    tb_err e = tb_secret_open(key, sealed, &opened);
    if (e != TB_ERR_CRYPTO)
        fail_msg("tb_secret_open('%.60s') = %d, expected TB_ERR_CRYPTO", sealed, e);
    assert_null(opened);
}

static void test_open_tampered(void **state)
{
    fixture *f = *state;
    char *sealed;
    assert_int_equal(tb_secret_seal(&f->key, "a token value", &sealed), TB_OK);
    size_t n = strlen(sealed);

    /* flip each character in turn to another base64 character */
    for (size_t i = 0; i < n; i++) {
        char *t = strdup(sealed);
        assert_non_null(t);
        if (t[i] == '=')
            t[i] = 'A';
        else
            t[i] = t[i] == 'A' ? 'B' : 'A';
        char *opened = NULL;
        tb_err e = tb_secret_open(&f->key, t, &opened);
        if (e == TB_OK) {
            /* only acceptable if the flip did not change the decoded bytes
             * (padding bits of the last group) */
            assert_string_equal(opened, "a token value");
            tb_secret_free(opened);
        } else {
            assert_int_equal(e, TB_ERR_CRYPTO);
        }
        free(t);
    }

    /* truncated */
    for (size_t cut = 0; cut < n; cut += 3) {
        char *t = strndup(sealed, cut);
        assert_non_null(t);
        expect_crypto_error(&f->key, t);
        free(t);
    }
    /* extra bytes appended */
    char *t = malloc(n + 8);
    assert_non_null(t);
    snprintf(t, n + 8, "%sAAAA", sealed);
    expect_crypto_error(&f->key, t);
    free(t);
    free(sealed);
}

static void test_open_garbage(void **state)
{
    fixture *f = *state;
    expect_crypto_error(&f->key, "");
    expect_crypto_error(&f->key, "=");
    expect_crypto_error(&f->key, "====");
    expect_crypto_error(&f->key, "not base64 at all!");
    expect_crypto_error(&f->key, "\xff\xfe\xfd");
    expect_crypto_error(&f->key, "AAAA");
    expect_crypto_error(&f->key, "plaintext-token-stored-by-mistake");
    /* valid base64 but shorter than nonce + MAC (39 bytes) */
    unsigned char raw[200] = {0};
    char b64[400];
    sodium_bin2base64(b64, sizeof b64, raw, 39, sodium_base64_VARIANT_ORIGINAL);
    expect_crypto_error(&f->key, b64);
    /* exactly nonce + MAC of zeros: right size, bad MAC */
    sodium_bin2base64(b64, sizeof b64, raw, 40, sodium_base64_VARIANT_ORIGINAL);
    expect_crypto_error(&f->key, b64);
    /* long random bytes */
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(b64, sizeof b64, raw, sizeof raw, sodium_base64_VARIANT_ORIGINAL);
    expect_crypto_error(&f->key, b64);
    /* URL-safe variant of a real sealed value is not accepted silently */
    char *sealed;
    assert_int_equal(tb_secret_seal(&f->key, "v", &sealed), TB_OK);
    for (char *p = sealed; *p; p++)
        if (*p == '+')
            *p = '-';
        else if (*p == '/')
            *p = '_';
    char *opened = NULL;
    tb_err e = tb_secret_open(&f->key, sealed, &opened);
    if (e == TB_OK) {
        assert_string_equal(opened, "v"); /* no '+' or '/' in this one */
        tb_secret_free(opened);
    } else {
        assert_int_equal(e, TB_ERR_CRYPTO);
    }
    free(sealed);
}

static void test_password_hash_verify(void **state)
{
    (void)state;
    char h1[128], h2[128];
    assert_int_equal(tb_password_hash("correct horse battery staple", h1), TB_OK);
    assert_true(strlen(h1) > 0 && strlen(h1) < 128);
    assert_int_equal(strncmp(h1, "$argon2", 7), 0);
    assert_null(strstr(h1, "correct horse"));
    assert_true(tb_password_verify(h1, "correct horse battery staple"));
    assert_false(tb_password_verify(h1, "correct horse battery stapl"));
    assert_false(tb_password_verify(h1, "Correct horse battery staple"));
    assert_false(tb_password_verify(h1, ""));
    /* salted: same password, different hash, both verify */
    assert_int_equal(tb_password_hash("correct horse battery staple", h2), TB_OK);
    assert_string_not_equal(h1, h2);
    assert_true(tb_password_verify(h2, "correct horse battery staple"));
    /* empty password */
    assert_int_equal(tb_password_hash("", h2), TB_OK);
    assert_true(tb_password_verify(h2, ""));
    assert_false(tb_password_verify(h2, "x"));
    /* garbage hashes never verify */
    assert_false(tb_password_verify("", "x"));
    assert_false(tb_password_verify("", ""));
    assert_false(tb_password_verify("$argon2id$v=19$garbage", "x"));
    assert_false(tb_password_verify("plaintext", "plaintext"));
}

static void check_token(const char *t, size_t len)
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    assert_int_equal(strlen(t), len);
    for (size_t i = 0; i < len; i++) {
        if (!strchr(alphabet, t[i]) || t[i] == '\0')
            fail_msg("token byte %zu is '%c'", i, t[i]);
        /* look-alikes are excluded */
        assert_null(strchr("0O1lI", t[i]));
    }
}

static void test_random_token(void **state)
{
    (void)state;
    char buf[300];
    memset(buf, 'Z', sizeof buf);
    tb_random_token(buf, 0);
    assert_string_equal(buf, "");
    assert_int_equal(buf[1], 'Z');

    memset(buf, 'Z', sizeof buf);
    tb_random_token(buf, 1);
    check_token(buf, 1);
    assert_int_equal(buf[2], 'Z');

    memset(buf, 'Z', sizeof buf);
    tb_random_token(buf, 32);
    check_token(buf, 32);
    assert_int_equal(buf[33], 'Z');

    char other[33];
    tb_random_token(other, 32);
    check_token(other, 32);
    assert_string_not_equal(buf, other);

    tb_random_token(buf, 256);
    check_token(buf, 256);
    /* over a large sample every alphabet character shows up */
    int seen[256] = {0};
    for (int round = 0; round < 40; round++) {
        tb_random_token(buf, 256);
        for (size_t i = 0; i < 256; i++)
            seen[(unsigned char)buf[i]]++;
    }
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    for (const char *p = alphabet; *p; p++)
        if (!seen[(unsigned char)*p])
            fail_msg("'%c' never generated", *p);
}

static void test_secret_equal(void **state)
{
    (void)state;
    assert_true(tb_secret_equal("s3cret-token", "s3cret-token"));
    assert_false(tb_secret_equal("s3cret-token", "s3cret-tokeN"));
    assert_false(tb_secret_equal("s3cret-token", "S3cret-token"));
    assert_false(tb_secret_equal("abc", "abcd"));
    assert_false(tb_secret_equal("abcd", "abc"));
    assert_false(tb_secret_equal("", "a"));
    assert_false(tb_secret_equal("a", ""));
    assert_true(tb_secret_equal("", ""));
    char long1[5001], long2[5001];
    memset(long1, 'q', 5000);
    long1[5000] = '\0';
    memcpy(long2, long1, sizeof long1);
    assert_true(tb_secret_equal(long1, long2));
    long2[4999] = 'r';
    assert_false(tb_secret_equal(long1, long2));
    long2[4999] = 'q';
    long2[4000] = '\0';
    assert_false(tb_secret_equal(long1, long2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_idempotent),
        cmocka_unit_test_setup_teardown(test_key_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_create_refuses_existing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_create_bad_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_load_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seal_open_round_trip, setup_keys, teardown),
        cmocka_unit_test_setup_teardown(test_open_wrong_key, setup_keys, teardown),
        cmocka_unit_test_setup_teardown(test_open_tampered, setup_keys, teardown),
        cmocka_unit_test_setup_teardown(test_open_garbage, setup_keys, teardown),
        cmocka_unit_test_setup_teardown(test_password_hash_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secret_equal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
