/* message.h - the agent protocol's messages: requests, answers, events, claims (JSON). */
#ifndef PC_MESSAGE_H
#define PC_MESSAGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "portco.h"

#define PC_PROTO_VERSION 1

/* Field bounds (sizes include the NUL); they match portco_claim's arrays. */
#define PC_POOL_MAX     64
#define PC_SERVICE_MAX  128
#define PC_INSTANCE_MAX 128

/* Claims per page at most (the list request's "limit"); the agent may send fewer. */
#define PC_LIST_LIMIT_MAX 10000

typedef enum pc_op {
    PC_OP_ACQUIRE = 1,
    PC_OP_RELEASE = 2,
    PC_OP_LIST = 3,
    PC_OP_STATUS = 4,
} pc_op;

/* "acquire", "release", "list", "status"; NULL for anything else. */
const char *pc_op_name(pc_op op);

/* "connection", "pid", "explicit". */
const char *pc_lifetime_name(portco_lifetime lt);
/* Returns 0 or -EINVAL. */
int pc_lifetime_parse(const char *s, portco_lifetime *out);

typedef struct pc_acquire_req {
    char pool[PC_POOL_MAX];
    char service[PC_SERVICE_MAX];
    char instance[PC_INSTANCE_MAX];
    int port;    /* 0: any; else 1..65535 */
    int wait_ms; /* >= 0, or -1 for no limit */
    portco_lifetime lifetime;
    pid_t hold_pid; /* > 0 exactly when lifetime is PID */
    bool socket;
    bool listen;
    bool v6only;
    int backlog; /* >= 0 */
} pc_acquire_req;

/*
 * A position in the order of a listing: pool, then port, then host, then
 * claim node name (byte order for strings). As a cursor it means "the claims
 * strictly after this one"; with whole_port set, "after every claim of this
 * pool's port", whatever its host and claim.
 */
typedef struct pc_list_key {
    char pool[PC_POOL_MAX];
    int port;
    char host[128];
    char claim[160];
    bool whole_port;
} pc_list_key;

typedef struct pc_request {
    int64_t id;
    bool has_id; /* false when the id could not be read: answer with "id": null */
    pc_op op;
    pc_acquire_req acquire; /* op ACQUIRE */
    char pool[PC_POOL_MAX]; /* op RELEASE (required), LIST (optional: "" = all) */
    int port;               /* op RELEASE: 1..65535 */
    char claim[160];        /* op RELEASE (optional): only this claim node; "" = the port's */
    int limit;              /* op LIST: claims per page, 1..PC_LIST_LIMIT_MAX; 0 = one answer */
    bool has_after;         /* op LIST: `after` was given */
    pc_list_key after;      /* op LIST: the page starts after this claim */
} pc_request;

/*
 * Parse and validate one request line (without its newline). Unknown fields
 * are ignored; defaults are those of docs/protocol.md. Returns 0,
 * PORTCO_EVERSION ("v" is not 1), or PORTCO_EBADREQ (not a JSON object,
 * unknown op, a missing required field, a known field of the wrong type or
 * out of range); err's message names the field and says what is expected.
 * req->id / req->has_id are filled whenever the id was readable, even when
 * the request is otherwise refused, so the error answer can echo it.
 */
int pc_request_parse(const char *line, size_t len, pc_request *req, pc_error *err);

/*
 * Encode a request as a JSON object (new reference) with "v", "id", "op" and
 * the op's fields; defaults are written too. NULL on allocation failure.
 */
json_t *pc_request_to_json(const pc_request *req);

/*
 * Serialise `msg` (borrowed) as one line: compact JSON, then "\n". On success
 * *out is a malloc'd buffer of *len bytes (also NUL-terminated). Returns 0,
 * PORTCO_ETOOBIG when the line would exceed PC_PROTO_MAX_LINE, -ENOMEM.
 */
int pc_json_line(const json_t *msg, char **out, size_t *len);

/* {"v":1,"id":id,"ok":true} (new reference; add fields to it). NULL on ENOMEM. */
json_t *pc_answer_ok(int64_t id);

/*
 * {"v":1,"id":id|null,"ok":false,"error":{"code":NAME,"message":msg}} where
 * NAME is portco_err_name(code). NULL on ENOMEM.
 */
json_t *pc_answer_error(int64_t id, bool has_id, int code, const char *msg);

/* {"v":1,"event":name,"claim":claim,"message":msg}; `claim` is consumed. */
json_t *pc_event_new(const char *name, json_t *claim, const char *msg);

/*
 * The claim object of docs/protocol.md from `c`. `lifetime` < 0 and `uid` < 0
 * leave those fields out. New reference, NULL on ENOMEM.
 */
json_t *pc_claim_to_json(const portco_claim *c, int lifetime, long long uid);

/*
 * Fill *c from a claim object (fd set to -1). Missing fields are left empty
 * or 0; a present field of the wrong type or too long is an error. Returns 0
 * or PORTCO_EPROTO (err names the field).
 */
int pc_claim_from_json(const json_t *o, portco_claim *c, pc_error *err);

/* A parsed answer or event from the agent. */
typedef struct pc_answer {
    bool is_event;
    char event[32]; /* event name when is_event */
    bool has_id;
    int64_t id;
    bool ok;
    bool fd;           /* "fd": true: a descriptor came with this line */
    int code;          /* 0 when ok; else the PORTCO_E* code of error.code
                          (PORTCO_EPROTO when the name is unknown) */
    char message[512]; /* error.message or the event's message */
    json_t *root;      /* the whole object, owned: read "claim", "claims", ... */
} pc_answer;

/*
 * Parse one line from the agent. Returns 0 (then release with
 * pc_answer_free()), or PORTCO_EVERSION ("v" is not 1) or PORTCO_EPROTO
 * (malformed), with err saying why.
 */
int pc_answer_parse(const char *line, size_t len, pc_answer *a, pc_error *err);

/* Release the parsed object. Accepts NULL and a zeroed struct. */
void pc_answer_free(pc_answer *a);

#endif
