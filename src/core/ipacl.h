/* Accepted-IP lists: comma/space separated IPv4/IPv6 addresses and CIDR
 * prefixes, as the appliance record's "Accepted IP Addresses" field holds.
 * IPv4-mapped IPv6 sources (::ffff:a.b.c.d) match IPv4 entries. */
#ifndef TB_CORE_IPACL_H
#define TB_CORE_IPACL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "core/err.h"

typedef struct tb_ipacl_entry {
    int family;                 /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix;            /* bits */
} tb_ipacl_entry;

typedef struct tb_ipacl {
    size_t n;
    tb_ipacl_entry *v;          /* owned */
} tb_ipacl;

/* Parses text; on error, *bad points into text at the offending entry's
 * start (for messages). An empty list parses to n == 0. */
tb_err tb_ipacl_parse(const char *text, tb_ipacl *out, const char **bad);
void tb_ipacl_free(tb_ipacl *acl);
/* An empty list matches nothing; callers decide what "empty" means. */
bool tb_ipacl_match(const tb_ipacl *acl, const struct sockaddr *sa);
/* Formats the address of sa (without port) into out. */
void tb_sockaddr_str(const struct sockaddr *sa, char *out, size_t outsz);

#endif
