/* names.h - checks of names, paths and addresses shared by the YAML loader and the JSON codec. */
#ifndef PC_NAMES_H
#define PC_NAMES_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Pool name: 1-63 characters of [A-Za-z0-9._-], not "." or "..", so that it
 * is a valid ZooKeeper node name and needs no quoting anywhere.
 */
bool pc_pool_name_valid(const char *s);

/* Host id: like a pool name, up to 127 characters. */
bool pc_host_id_valid(const char *s);

/*
 * Service name: 1-127 printable ASCII characters other than '/', space, and
 * not "." or "..": it becomes a node name under <root>/services.
 */
bool pc_service_name_valid(const char *s);

/*
 * ZooKeeper root: absolute ("/a/b"), no trailing '/', no empty, "." or ".."
 * component, printable ASCII, at most PC_ROOT_MAX characters, and not
 * ZooKeeper's own /zookeeper tree. On failure, when why is not NULL, it
 * gets a short reason (static string).
 */
bool pc_root_valid(const char *s, const char **why);

/*
 * Parse an IPv4 or IPv6 literal into its canonical text (e.g. "::0" -> "::").
 * canon may be NULL. Returns 0 or -EINVAL.
 */
int pc_address_canon(const char *s, char *canon, size_t len);

/* True for 0.0.0.0 and :: (any spelling). s must be a valid literal. */
bool pc_address_is_wildcard(const char *s);

/*
 * The first len bytes of s are "HOST:PORT": a non-empty host of printable
 * characters without ',' or '/' (brackets allowed around an IPv6 literal)
 * and a port 1-65535.
 */
bool pc_hostport_valid(const char *s, size_t len);

/*
 * ZooKeeper connect string: "HOST:PORT[,HOST:PORT...][/chroot]", each port
 * 1-65535, a chroot suffix as a valid root. On failure *why (not NULL) gets
 * a short reason (static string).
 */
bool pc_connect_valid(const char *s, const char **why);

/* Edit distance between two short strings (capped at 100), for "did you mean". */
int pc_edit_distance(const char *a, const char *b);

#endif
