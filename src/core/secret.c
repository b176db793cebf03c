#include "core/secret.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

tb_err tb_secret_init(void)
{
    return sodium_init() < 0 ? TB_ERR_CRYPTO : TB_OK;
}

tb_err tb_secret_key_create(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return errno == EEXIST ? TB_ERR_EXISTS : TB_ERR_IO;
    unsigned char k[32];
    randombytes_buf(k, sizeof k);
    ssize_t n = write(fd, k, sizeof k);
    sodium_memzero(k, sizeof k);
    if (n != (ssize_t)sizeof k || fsync(fd) != 0) {
        close(fd);
        unlink(path);
        return TB_ERR_IO;
    }
    close(fd);
    return TB_OK;
}

tb_err tb_secret_key_load(const char *path, tb_secret_key *out)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return errno == ENOENT ? TB_ERR_NOT_FOUND : TB_ERR_IO;
    ssize_t n = read(fd, out->k, sizeof out->k);
    close(fd);
    return n == (ssize_t)sizeof out->k ? TB_OK : TB_ERR_CRYPTO;
}

void tb_secret_key_wipe(tb_secret_key *key)
{
    sodium_memzero(key, sizeof *key);
}

tb_err tb_secret_seal(const tb_secret_key *key, const char *plain, char **out)
{
    size_t plen = strlen(plain);
    size_t raw_len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plen;
    unsigned char *raw = malloc(raw_len);
    if (!raw)
        return TB_ERR_NOMEM;
    randombytes_buf(raw, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(raw + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, plen, raw,
                          key->k);
    size_t b64_len = sodium_base64_encoded_len(raw_len, sodium_base64_VARIANT_ORIGINAL);
    char *b64 = malloc(b64_len);
    if (!b64) {
        free(raw);
        return TB_ERR_NOMEM;
    }
    sodium_bin2base64(b64, b64_len, raw, raw_len, sodium_base64_VARIANT_ORIGINAL);
    free(raw);
    *out = b64;
    return TB_OK;
}

tb_err tb_secret_open(const tb_secret_key *key, const char *sealed, char **out)
{
    size_t slen = strlen(sealed);
    unsigned char *raw = malloc(slen + 1);
    if (!raw)
        return TB_ERR_NOMEM;
    size_t raw_len;
    if (sodium_base642bin(raw, slen + 1, sealed, slen, NULL, &raw_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        raw_len < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        free(raw);
        return TB_ERR_CRYPTO;
    }
    size_t plen = raw_len - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    char *plain = malloc(plen + 1);
    if (!plain) {
        free(raw);
        return TB_ERR_NOMEM;
    }
    if (crypto_secretbox_open_easy((unsigned char *)plain, raw + crypto_secretbox_NONCEBYTES,
                                   raw_len - crypto_secretbox_NONCEBYTES, raw, key->k) != 0) {
        free(raw);
        free(plain);
        return TB_ERR_CRYPTO;
    }
    free(raw);
    plain[plen] = '\0';
    *out = plain;
    return TB_OK;
}

void tb_secret_free(char *plain)
{
    if (plain) {
        sodium_memzero(plain, strlen(plain));
        free(plain);
    }
}

tb_err tb_password_hash(const char *password, char out[128])
{
    _Static_assert(crypto_pwhash_STRBYTES <= 128, "pwhash string fits");
    if (crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return TB_ERR_NOMEM;
    return TB_OK;
}

bool tb_password_verify(const char *hash, const char *password)
{
    return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

void tb_random_token(char *out, size_t len)
{
    static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    for (size_t i = 0; i < len; i++)
        out[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    out[len] = '\0';
}

bool tb_secret_equal(const char *a, const char *b)
{
    unsigned char ha[crypto_generichash_BYTES], hb[crypto_generichash_BYTES];
    crypto_generichash(ha, sizeof ha, (const unsigned char *)a, strlen(a), NULL, 0);
    crypto_generichash(hb, sizeof hb, (const unsigned char *)b, strlen(b), NULL, 0);
    return sodium_memcmp(ha, hb, sizeof ha) == 0;
}
