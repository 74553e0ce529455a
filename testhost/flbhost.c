/*
 * flbhost: a test host that loads a Fluent Bit Go output plugin (.so) and drives it
 * exactly as Fluent Bit v5.1.1 does (see shared/spec/fluent-bit-go-plugin-abi.md,
 * sections 2, 3, 6, 7, 8), printing one JSON object per event on stdout.
 *
 * It must be C: the plugin carries its own Go runtime, and a Go host would put two
 * Go runtimes in one process.
 *
 * Build:  gcc -std=gnu11 -O2 -Wall -Wextra -o flbhost flbhost.c -ldl -lpthread
 *         add -DFLBHOST_HAVE_ZLIB -lz to read .gz chunks directly.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#ifdef FLBHOST_HAVE_ZLIB
#include <zlib.h>
#define HAVE_ZLIB "true"
#else
#define HAVE_ZLIB "false"
#endif

/* ---- Fluent Bit ABI (spec section 3), x86-64 ---------------------------------------- */

#define FLB_ERROR 0
#define FLB_OK 1
#define FLB_RETRY 2
#define FLB_PROXY_OUTPUT_PLUGIN 2
#define FLB_PROXY_GOLANG 11

/* include/fluent-bit/flb_plugin_proxy.h */
struct flb_plugin_proxy_def {
    int type;
    int proxy;
    int flags;
    char *name;
    char *description;
    int event_type;
    void *config_map;
};
_Static_assert(sizeof(struct flb_plugin_proxy_def) == 48, "flb_plugin_proxy_def size");
_Static_assert(offsetof(struct flb_plugin_proxy_def, type) == 0, "def.type");
_Static_assert(offsetof(struct flb_plugin_proxy_def, proxy) == 4, "def.proxy");
_Static_assert(offsetof(struct flb_plugin_proxy_def, flags) == 8, "def.flags");
_Static_assert(offsetof(struct flb_plugin_proxy_def, name) == 16, "def.name");
_Static_assert(offsetof(struct flb_plugin_proxy_def, description) == 24, "def.description");
_Static_assert(offsetof(struct flb_plugin_proxy_def, event_type) == 32, "def.event_type");
_Static_assert(offsetof(struct flb_plugin_proxy_def, config_map) == 40, "def.config_map");

/* include/fluent-bit/flb_api.h */
struct flb_api {
    const char *(*output_get_property)(const char *key, void *o_ins);
    const char *(*input_get_property)(const char *key, void *i_ins);
    void *(*output_get_cmt_instance)(void *o_ins);
    void *(*input_get_cmt_instance)(void *i_ins);
    void (*log_print)(int level, const char *file, int line, const char *fmt, ...);
    int (*input_log_check)(void *i_ins, int level);
    int (*output_log_check)(void *o_ins, int level);
    const char *(*custom_get_property)(const char *key, void *c_ins);
    int (*custom_log_check)(void *c_ins, int level);
};
_Static_assert(sizeof(struct flb_api) == 72, "flb_api size");
_Static_assert(offsetof(struct flb_api, output_get_property) == 0, "api.output_get_property");
_Static_assert(offsetof(struct flb_api, input_get_property) == 8, "api.input_get_property");
_Static_assert(offsetof(struct flb_api, output_get_cmt_instance) == 16, "api.output_get_cmt");
_Static_assert(offsetof(struct flb_api, input_get_cmt_instance) == 24, "api.input_get_cmt");
_Static_assert(offsetof(struct flb_api, log_print) == 32, "api.log_print");
_Static_assert(offsetof(struct flb_api, input_log_check) == 40, "api.input_log_check");
_Static_assert(offsetof(struct flb_api, output_log_check) == 48, "api.output_log_check");
_Static_assert(offsetof(struct flb_api, custom_get_property) == 56, "api.custom_get_property");
_Static_assert(offsetof(struct flb_api, custom_log_check) == 64, "api.custom_log_check");

/* include/fluent-bit/flb_plugin_proxy.h; one per [OUTPUT] instance */
struct flb_plugin_proxy_context {
    void *remote_context;
    void *proxy;
};
_Static_assert(sizeof(struct flb_plugin_proxy_context) == 16, "proxy_context size");
_Static_assert(offsetof(struct flb_plugin_proxy_context, remote_context) == 0, "ctx.remote_context");
_Static_assert(offsetof(struct flb_plugin_proxy_context, proxy) == 8, "ctx.proxy");

/* src/proxy/go/go.h; one per loaded .so, shared by every instance */
struct flbgo_output_plugin {
    char *name;
    void *api;
    void *o_ins;
    struct flb_plugin_proxy_context *context;
    int (*cb_init)(struct flbgo_output_plugin *);
    int (*cb_flush)(const void *data, size_t size, const char *tag);
    int (*cb_flush_ctx)(void *remote_ctx, const void *data, size_t size, char *tag);
    int (*cb_exit)(void);
    int (*cb_exit_ctx)(void *remote_ctx);
};
_Static_assert(sizeof(struct flbgo_output_plugin) == 72, "flbgo_output_plugin size");
_Static_assert(offsetof(struct flbgo_output_plugin, name) == 0, "plugin.name");
_Static_assert(offsetof(struct flbgo_output_plugin, api) == 8, "plugin.api");
_Static_assert(offsetof(struct flbgo_output_plugin, o_ins) == 16, "plugin.o_ins");
_Static_assert(offsetof(struct flbgo_output_plugin, context) == 24, "plugin.context");
_Static_assert(offsetof(struct flbgo_output_plugin, cb_init) == 32, "plugin.cb_init");
_Static_assert(offsetof(struct flbgo_output_plugin, cb_flush) == 40, "plugin.cb_flush");
_Static_assert(offsetof(struct flbgo_output_plugin, cb_flush_ctx) == 48, "plugin.cb_flush_ctx");
_Static_assert(offsetof(struct flbgo_output_plugin, cb_exit) == 56, "plugin.cb_exit");
_Static_assert(offsetof(struct flbgo_output_plugin, cb_exit_ctx) == 64, "plugin.cb_exit_ctx");

typedef int (*pre_register_fn)(int hot_reloading);
typedef int (*register_fn)(struct flb_plugin_proxy_def *def);
typedef int (*pre_run_fn)(int enable_hot_reload);
typedef void (*pre_exit_fn)(int shutdown_by_hot_reloading);
typedef void (*unregister_fn)(struct flb_plugin_proxy_def *def);

/* ---- host state --------------------------------------------------------------------- */

#define INSTANCE_MAGIC 0x464c4249u /* "FLBI": catches a plugin passing a bogus o_ins */
#define DEFAULT_TAG "test"

struct prop {
    char *key;
    char *value; /* NULL when the value is empty, as flb_output_set_property stores it */
};

struct instance {
    uint32_t magic;
    int index;
    struct prop *props;
    size_t nprops, cap;
    struct flb_plugin_proxy_context *ctx;
};

/* One --chunk / --chunk-list entry. data is shared by entries naming the same file. */
struct source {
    char *path;
    char *tag;
    const unsigned char *data;
    size_t size;
};

/* One chunk as Fluent Bit would hold it: a private buffer kept until every delivery
 * (all target instances, all retries) has ended. */
struct job {
    long id;
    int repeat;
    struct source *src;
    unsigned char *buf;
    size_t size;
    int refs;
};

/* One (chunk, instance) delivery sequence. */
struct task {
    struct job *job;
    int instance;
    int attempt; /* deliveries made so far */
    int64_t due_ns;
    struct task *next;
};

struct host {
    /* configuration */
    const char *plugin_path;
    struct instance **inst;
    int ninst;
    struct source *src;
    size_t nsrc, src_cap;
    int threads;
    int repeat;
    int retry_limit; /* -1 = no limit */
    int retry_delay_ms;
    int pace_ms; /* pause of each worker after each flush, like Fluent Bit's Flush interval */
    int linger_ms; /* wait after the last flush before shutting down */
    int flush_instance; /* -1 = all */
    long exit_after_ms; /* -1 = off */
    long coro_stack_kb; /* 0 = call on the worker's own stack */

    /* plugin */
    struct flbgo_output_plugin *plugin;
    struct flb_api api;
    pre_run_fn pre_run;
    pre_exit_fn pre_exit;

    /* scheduler; everything below is guarded by mu */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    struct task *ready_head, *ready_tail;
    struct task *delayed; /* sorted by due_ns */
    long next_job, total_jobs;
    int in_flight;
    int done, stopping;
    long flushes, ok, retry, error, dropped, delivered;
    uint64_t bytes_ok;

    pthread_mutex_t out_mu; /* serialises stdout lines */
    int64_t start_ns;
};

/* ---- small utilities ---------------------------------------------------------------- */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die_oom(void)
{
    fputs("flbhost: out of memory\n", stderr);
    exit(1);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) die_oom();
    return p;
}

static void *xcalloc(size_t n, size_t sz)
{
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) die_oom();
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) die_oom();
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p) die_oom();
    return p;
}

/* String builder for the JSON event lines. */
struct sb {
    char *p;
    size_t len, cap;
};

static void sb_grow(struct sb *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) cap *= 2;
    b->p = xrealloc(b->p, cap);
    b->cap = cap;
}

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    sb_grow(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Appends s as a JSON string (null for NULL). Bytes >= 0x80 pass through unchanged. */
static void sb_json_str(struct sb *b, const char *s)
{
    if (!s) {
        sb_printf(b, "null");
        return;
    }
    sb_grow(b, strlen(s) + 2);
    b->p[b->len++] = '"';
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': sb_printf(b, "\\\""); break;
        case '\\': sb_printf(b, "\\\\"); break;
        case '\n': sb_printf(b, "\\n"); break;
        case '\r': sb_printf(b, "\\r"); break;
        case '\t': sb_printf(b, "\\t"); break;
        default:
            if (*c < 0x20) {
                sb_printf(b, "\\u%04x", *c);
            } else {
                sb_grow(b, 1);
                b->p[b->len++] = (char)*c;
            }
        }
    }
    sb_grow(b, 1);
    b->p[b->len++] = '"';
    b->p[b->len] = '\0';
}

static void sb_begin(struct host *h, struct sb *b, const char *ev)
{
    memset(b, 0, sizeof(*b));
    sb_printf(b, "{\"ev\":\"%s\",\"t_ns\":%" PRId64, ev, now_ns() - h->start_ns);
}

/* Terminates the line and writes it atomically with respect to other threads. The
 * flush keeps events visible if the plugin later crashes the process. */
static void sb_emit(struct host *h, struct sb *b)
{
    sb_printf(b, "}\n");
    pthread_mutex_lock(&h->out_mu);
    fwrite(b->p, 1, b->len, stdout);
    fflush(stdout);
    pthread_mutex_unlock(&h->out_mu);
    free(b->p);
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

/* ---- flb_api implementation --------------------------------------------------------- */

/* flb_output_get_property -> flb_kv_get_key_value: case-insensitive, first match wins,
 * NULL for a missing key or an empty value. Values live until the process exits, so the
 * pointer is stable. */
static const char *api_output_get_property(const char *key, void *o_ins)
{
    struct instance *in = o_ins;
    if (!key || !in) return NULL;
    if (in->magic != INSTANCE_MAGIC) {
        fprintf(stderr, "flbhost: output_get_property(\"%s\") with unknown o_ins %p\n", key, o_ins);
        return NULL;
    }
    for (size_t i = 0; i < in->nprops; i++) {
        if (strcasecmp(in->props[i].key, key) == 0) return in->props[i].value;
    }
    return NULL;
}

static const char *api_null_property(const char *key, void *ins)
{
    (void)key;
    (void)ins;
    return NULL;
}

static void *api_null_cmt(void *ins)
{
    (void)ins;
    return NULL;
}

static int api_log_check(void *ins, int level)
{
    (void)ins;
    (void)level;
    return 1;
}

static void api_log_print(int level, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "[flbhost log level=%d %s:%d] ", level, file ? file : "?", line);
    va_start(ap, fmt);
    if (fmt) vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- chunk loading ------------------------------------------------------------------ */

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int read_plain(const char *path, unsigned char **out, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "flbhost: chunk %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = xmalloc(cap);
    for (;;) {
        if (len == cap) buf = xrealloc(buf, cap *= 2);
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        fprintf(stderr, "flbhost: chunk %s: read error\n", path);
        free(buf);
        return -1;
    }
    *out = buf;
    *size = len;
    return 0;
}

static int read_gz(const char *path, unsigned char **out, size_t *size)
{
#ifdef FLBHOST_HAVE_ZLIB
    gzFile g = gzopen(path, "rb");
    if (!g) {
        fprintf(stderr, "flbhost: chunk %s: %s\n", path, errno ? strerror(errno) : "gzopen failed");
        return -1;
    }
    size_t cap = 1 << 20, len = 0;
    unsigned char *buf = xmalloc(cap);
    for (;;) {
        if (len == cap) buf = xrealloc(buf, cap *= 2);
        size_t want = cap - len;
        if (want > INT_MAX) want = INT_MAX;
        int n = gzread(g, buf + len, (unsigned)want);
        if (n < 0) {
            int zerr;
            const char *msg = gzerror(g, &zerr);
            fprintf(stderr, "flbhost: chunk %s: gunzip: %s\n", path, msg);
            gzclose(g);
            free(buf);
            return -1;
        }
        if (n == 0) break;
        len += (size_t)n;
    }
    int direct = gzdirect(g); /* gzread passes non-gzip data through; refuse that */
    gzclose(g);
    if (direct) {
        fprintf(stderr, "flbhost: chunk %s: not gzip data\n", path);
        free(buf);
        return -1;
    }
    *out = buf;
    *size = len;
    return 0;
#else
    (void)out;
    (void)size;
    fprintf(stderr, "flbhost: chunk %s: built without zlib; gunzip it first\n", path);
    return -1;
#endif
}

static int load_sources(struct host *h)
{
    for (size_t i = 0; i < h->nsrc; i++) {
        struct source *s = &h->src[i];
        for (size_t j = 0; j < i; j++) { /* share the bytes of a file named twice */
            if (strcmp(h->src[j].path, s->path) == 0) {
                s->data = h->src[j].data;
                s->size = h->src[j].size;
                break;
            }
        }
        if (s->data) continue;
        unsigned char *buf;
        size_t size;
        int rc = has_suffix(s->path, ".gz") ? read_gz(s->path, &buf, &size)
                                            : read_plain(s->path, &buf, &size);
        if (rc != 0) return -1;
        s->data = buf;
        s->size = size;
    }
    return 0;
}

/* ---- command line ------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs(
        "usage: flbhost --plugin PATH.so [options] [--instance] [--prop KEY=VALUE ...] ...\n"
        "\n"
        "Loads a Fluent Bit Go output plugin and drives it as Fluent Bit v5.1.1 does:\n"
        "PreRegister(0), Register(def), Init per instance, PreRun(0) per instance, the\n"
        "flushes, then per instance PreExit(0) + ExitCtx(ctx) (or Exit()), Unregister(def).\n"
        "\n"
        "Instances (each one is an [OUTPUT] section):\n"
        "  --instance             start a new instance; later --prop flags apply to it\n"
        "  --prop KEY=VALUE       property of the current instance (the first --prop creates\n"
        "                         instance 0 if no --instance came before). As in Fluent Bit:\n"
        "                         ${VAR} is expanded from the environment, lookups are\n"
        "                         case-insensitive, the first match wins, a VALUE that is\n"
        "                         empty reads as NULL, core keys (name, match, alias, host,\n"
        "                         port, workers, retry_limit, tls*, net.*, ...) read as NULL,\n"
        "                         and tls=on is refused. With no --instance/--prop: one bare\n"
        "                         instance.\n"
        "Chunks:\n"
        "  --chunk FILE[:TAG]     a msgpack chunk to flush (FILE.gz is gunzipped when built\n"
        "                         with zlib). TAG defaults to \"" DEFAULT_TAG "\". If FILE:TAG\n"
        "                         names an existing file, all of it is the path.\n"
        "  --chunk-list FILE      one chunk per line: \"PATH [TAG]\", split at the first blank;\n"
        "                         blank lines and lines starting with # are skipped\n"
        "  --repeat N             feed the whole chunk list N times (default 1); each pass\n"
        "                         gets fresh buffers, like new chunks\n"
        "  --flush-instance K|all instance that receives the chunks (default 0); all = every\n"
        "                         instance gets every chunk (one shared buffer, as when a\n"
        "                         chunk matches several outputs)\n"
        "Delivery:\n"
        "  --threads N            N worker threads calling FlushCtx concurrently with the\n"
        "                         same ctx, like Workers N (default 1; a shared queue).\n"
        "                         Flushes never run on the Init thread (Workers 0 would)\n"
        "  --retry-limit N        retries after FLB_RETRY: N >= 0 means N re-deliveries of\n"
        "                         the byte-identical buffer (0 = no_retries), -1 = no limit\n"
        "                         (default 1, Fluent Bit's default)\n"
        "  --linger-ms N          after the last flush, wait N ms before the shutdown (to\n"
        "                         scrape a plugin's metrics endpoint, say)\n"
        "  --pace-ms N            each worker pauses N ms after each flush, as Fluent Bit\n"
        "                         flushes every Flush seconds (default 0)\n"
        "  --retry-delay-ms N     wait before a re-delivery (default 200); the chunk is\n"
        "                         re-queued so other chunks go first\n"
        "  --coro-stack-kb N      run each flush on a fresh N KiB coroutine stack, as Fluent\n"
        "                         Bit's flb_coro does (default 64, min 16; 0 = thread stack)\n"
        "  --exit-after-ms N      start the shutdown (PreExit/ExitCtx) N ms after the flush\n"
        "                         phase began even if flushes are still running; queued\n"
        "                         and retrying chunks are dropped (reason \"shutdown\"),\n"
        "                         chunks never dispatched count as jobs_not_started\n"
        "  --features             print {\"ev\":\"features\",\"zlib\":BOOL,...} and exit\n"
        "  -h, --help             this text\n"
        "\n"
        "Output: one JSON object per line on stdout (ev = load, preregister, register, init,\n"
        "prerun, flush, dropped, exit, unregister, summary; every event has t_ns,\n"
        "nanoseconds since the host started). Plugin stderr passes through.\n"
        "Exit status: 0 when the host ran to completion (even if flushes failed), 2 when an\n"
        "Init failed (then only Unregister is called), 1 for usage, chunk or plugin load\n"
        "errors.\n",
        f);
}

static struct instance *new_instance(struct host *h)
{
    struct instance *in = xcalloc(1, sizeof(*in));
    in->magic = INSTANCE_MAGIC;
    in->index = h->ninst;
    h->inst = xrealloc(h->inst, sizeof(*h->inst) * (size_t)(h->ninst + 1));
    h->inst[h->ninst++] = in;
    return in;
}

/* flb_env_var_translate: ${NAME} anywhere in the value becomes the environment
 * variable (empty when unset); an unterminated "${" stays literal. */
static char *expand_env(const char *v)
{
    struct sb b = {0};
    sb_grow(&b, strlen(v));
    b.p[0] = '\0';
    while (*v) {
        const char *open = strstr(v, "${");
        const char *close = open ? strchr(open + 2, '}') : NULL;
        if (!close) {
            sb_printf(&b, "%s", v);
            break;
        }
        sb_printf(&b, "%.*s", (int)(open - v), v);
        char *name = xcalloc(1, (size_t)(close - open - 2) + 1);
        memcpy(name, open + 2, (size_t)(close - open - 2));
        const char *env = getenv(name);
        if (env) sb_printf(&b, "%s", env);
        free(name);
        v = close + 1;
    }
    return b.p;
}

/* Keys that flb_output_set_property consumes itself: the plugin reads NULL for them
 * (spec section 4), so a plugin must not rely on them. */
static int is_core_key(const char *key)
{
    static const char *const exact[] = {
        "name", "match", "match_regex", "alias", "log_level", "log_suppress_interval",
        "host", "port", "ipv6", "retry_limit", "workers", "storage.total_limit_size", "tls",
    };
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strcasecmp(key, exact[i]) == 0) return 1;
    return strncasecmp(key, "net.", 4) == 0 || strncasecmp(key, "tls.", 4) == 0 ||
           strncasecmp(key, "oauth2", 6) == 0;
}

static int add_prop(struct host *h, const char *kv)
{
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv) {
        fprintf(stderr, "flbhost: --prop \"%s\": want KEY=VALUE with a non-empty KEY\n", kv);
        return -1;
    }
    struct instance *in = h->ninst ? h->inst[h->ninst - 1] : new_instance(h);
    char *key = xcalloc(1, (size_t)(eq - kv) + 1);
    memcpy(key, kv, (size_t)(eq - kv));
    char *value = expand_env(eq + 1);
    if (is_core_key(key)) {
        /* Go plugins register flags=0, so Fluent Bit refuses "tls on" for them. */
        if (strcasecmp(key, "tls") == 0 &&
            (strcasecmp(value, "on") == 0 || strcasecmp(value, "true") == 0 ||
             strcasecmp(value, "yes") == 0 || strcmp(value, "1") == 0)) {
            fprintf(stderr, "flbhost: --prop \"%s\": the output plugin does not support TLS "
                            "(Fluent Bit refuses to start)\n", kv);
            free(key);
            free(value);
            return -1;
        }
        fprintf(stderr, "flbhost: note: instance %d property \"%s\" is consumed by Fluent Bit's "
                        "core; the plugin reads NULL for it\n", in->index, key);
        free(key);
        free(value);
        return 0;
    }
    if (in->nprops == in->cap) {
        in->cap = in->cap ? in->cap * 2 : 8;
        in->props = xrealloc(in->props, sizeof(*in->props) * in->cap);
    }
    struct prop *p = &in->props[in->nprops++];
    p->key = key;
    if (*value) {
        p->value = value;
    } else {
        p->value = NULL; /* empty after expansion is stored as NULL */
        free(value);
    }
    return 0;
}

static void add_source(struct host *h, const char *path, const char *tag)
{
    if (h->nsrc == h->src_cap) {
        h->src_cap = h->src_cap ? h->src_cap * 2 : 16;
        h->src = xrealloc(h->src, sizeof(*h->src) * h->src_cap);
    }
    struct source *s = &h->src[h->nsrc++];
    memset(s, 0, sizeof(*s));
    s->path = xstrdup(path);
    s->tag = xstrdup(tag && *tag ? tag : DEFAULT_TAG);
}

static void add_chunk_arg(struct host *h, const char *arg)
{
    struct stat st;
    const char *colon = strrchr(arg, ':');
    if (!colon || stat(arg, &st) == 0) {
        add_source(h, arg, NULL);
        return;
    }
    char *path = xcalloc(1, (size_t)(colon - arg) + 1);
    memcpy(path, arg, (size_t)(colon - arg));
    add_source(h, path, colon + 1);
    free(path);
}

static int add_chunk_list(struct host *h, const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "flbhost: --chunk-list %s: %s\n", file, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' ||
                         line[n - 1] == '\t'))
            line[--n] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '\0' || *p == '#') continue;
        char *sep = p + strcspn(p, " \t");
        char *tag = NULL;
        if (*sep) {
            *sep = '\0';
            tag = sep + 1;
            while (*tag == ' ' || *tag == '\t') tag++;
        }
        add_source(h, p, tag);
    }
    free(line);
    fclose(f);
    return 0;
}

/* Accepts "--opt VALUE" and "--opt=VALUE". Returns the value or NULL (usage error). */
static const char *opt_value(int argc, char **argv, int *i, const char *name, int *matched)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    *matched = 0;
    if (strncmp(a, name, n) != 0) return NULL;
    if (a[n] == '=') {
        *matched = 1;
        return a + n + 1;
    }
    if (a[n] != '\0') return NULL;
    *matched = 1;
    if (*i + 1 >= argc) {
        fprintf(stderr, "flbhost: %s needs a value\n", name);
        return NULL;
    }
    return argv[++*i];
}

static int parse_args(struct host *h, int argc, char **argv)
{
    h->threads = 1;
    h->repeat = 1;
    h->retry_limit = 1;
    h->retry_delay_ms = 200;
    h->flush_instance = 0;
    h->exit_after_ms = -1;
    h->coro_stack_kb = 64;
    const char *flush_instance = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int m;
        long n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        } else if (strcmp(a, "--features") == 0) {
            printf("{\"ev\":\"features\",\"zlib\":%s,\"fluent_bit\":\"5.1.1\"}\n", HAVE_ZLIB);
            exit(0);
        } else if (strcmp(a, "--instance") == 0) {
            new_instance(h);
        } else if ((v = opt_value(argc, argv, &i, "--plugin", &m)) || m) {
            if (!v) return -1;
            h->plugin_path = v;
        } else if ((v = opt_value(argc, argv, &i, "--prop", &m)) || m) {
            if (!v || add_prop(h, v) != 0) return -1;
        } else if ((v = opt_value(argc, argv, &i, "--chunk-list", &m)) || m) {
            if (!v || add_chunk_list(h, v) != 0) return -1;
        } else if ((v = opt_value(argc, argv, &i, "--chunk", &m)) || m) {
            if (!v) return -1;
            add_chunk_arg(h, v);
        } else if ((v = opt_value(argc, argv, &i, "--threads", &m)) || m) {
            if (!v || parse_long(v, 1, 1024, &n) != 0) goto bad;
            h->threads = (int)n;
        } else if ((v = opt_value(argc, argv, &i, "--repeat", &m)) || m) {
            if (!v || parse_long(v, 1, 1000000, &n) != 0) goto bad;
            h->repeat = (int)n;
        } else if ((v = opt_value(argc, argv, &i, "--retry-limit", &m)) || m) {
            if (!v || parse_long(v, -1, INT_MAX, &n) != 0) goto bad;
            h->retry_limit = (int)n;
        } else if ((v = opt_value(argc, argv, &i, "--retry-delay-ms", &m)) || m) {
            if (!v || parse_long(v, 0, 3600000, &n) != 0) goto bad;
            h->retry_delay_ms = (int)n;
        } else if ((v = opt_value(argc, argv, &i, "--linger-ms", &m)) || m) {
            if (!v || parse_long(v, 0, 3600000, &n) != 0) goto bad;
            h->linger_ms = (int)n;
        } else if ((v = opt_value(argc, argv, &i, "--pace-ms", &m)) || m) {
            if (!v || parse_long(v, 0, 3600000, &n) != 0) goto bad;
            h->pace_ms = (int)n;
        } else if ((v = opt_value(argc, argv, &i, "--flush-instance", &m)) || m) {
            if (!v) goto bad;
            flush_instance = v;
        } else if ((v = opt_value(argc, argv, &i, "--exit-after-ms", &m)) || m) {
            if (!v || parse_long(v, 0, 86400000, &n) != 0) goto bad;
            h->exit_after_ms = n;
        } else if ((v = opt_value(argc, argv, &i, "--coro-stack-kb", &m)) || m) {
            if (!v || parse_long(v, 0, 1 << 20, &n) != 0 || (n > 0 && n < 16)) goto bad;
            h->coro_stack_kb = n;
        } else {
            fprintf(stderr, "flbhost: unknown argument \"%s\"\n", a);
            return -1;
        }
        continue;
    bad:
        fprintf(stderr, "flbhost: %s: invalid value \"%s\"\n", a, v ? v : "");
        return -1;
    }
    if (!h->plugin_path) {
        fprintf(stderr, "flbhost: --plugin is required\n");
        return -1;
    }
    if (h->ninst == 0) new_instance(h);
    if (flush_instance) {
        long n;
        if (strcmp(flush_instance, "all") == 0) {
            h->flush_instance = -1;
        } else if (parse_long(flush_instance, 0, h->ninst - 1, &n) == 0) {
            h->flush_instance = (int)n;
        } else {
            fprintf(stderr, "flbhost: --flush-instance \"%s\": want all or 0..%d\n", flush_instance,
                    h->ninst - 1);
            return -1;
        }
    }
    return 0;
}

/* ---- flush calls -------------------------------------------------------------------- */

struct flush_call {
    struct flbgo_output_plugin *plugin;
    void *remote_ctx;
    const void *data;
    size_t size;
    char *tag;
    int rc;
    ucontext_t caller, callee;
};

static void do_flush(struct flush_call *c)
{
    if (c->plugin->cb_flush_ctx)
        c->rc = c->plugin->cb_flush_ctx(c->remote_ctx, c->data, c->size, c->tag);
    else
        c->rc = c->plugin->cb_flush(c->data, c->size, c->tag);
}

static void coro_entry(unsigned int lo, unsigned int hi)
{
    do_flush((struct flush_call *)(uintptr_t)(((uint64_t)hi << 32) | lo));
    /* returning resumes uc_link (the caller) */
}

/* Fluent Bit runs every flush inside a coroutine (flb_coro) on a small heap stack; Go's
 * cgo callback must cope with a stack that is not the thread's (golang/go#62440). */
static int call_flush(struct host *h, struct flush_call *c)
{
    if (h->coro_stack_kb == 0) {
        do_flush(c);
        return 0;
    }
    size_t stack_size = (size_t)h->coro_stack_kb * 1024;
    void *stack = malloc(stack_size);
    if (!stack) die_oom();
    if (getcontext(&c->callee) != 0) {
        free(stack);
        return -1;
    }
    c->callee.uc_stack.ss_sp = stack;
    c->callee.uc_stack.ss_size = stack_size;
    c->callee.uc_link = &c->caller;
    uintptr_t p = (uintptr_t)c;
    makecontext(&c->callee, (void (*)(void))coro_entry, 2, (unsigned int)(p & 0xffffffffu),
                (unsigned int)((uint64_t)p >> 32));
    if (swapcontext(&c->caller, &c->callee) != 0) {
        free(stack);
        return -1;
    }
    free(stack);
    return 0;
}

/* ---- scheduler ---------------------------------------------------------------------- */

static void ready_push(struct host *h, struct task *t)
{
    t->next = NULL;
    if (h->ready_tail)
        h->ready_tail->next = t;
    else
        h->ready_head = t;
    h->ready_tail = t;
}

static void delayed_insert(struct host *h, struct task *t)
{
    struct task **pp = &h->delayed;
    while (*pp && (*pp)->due_ns <= t->due_ns) pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
}

/* Creates the next chunk (fresh private buffer) and queues one task per target
 * instance. Called with mu held. */
static void create_job(struct host *h)
{
    long id = h->next_job++;
    struct job *j = xcalloc(1, sizeof(*j));
    j->id = id;
    j->src = &h->src[(size_t)id % h->nsrc];
    j->repeat = (int)(id / (long)h->nsrc);
    j->size = j->src->size;
    j->buf = xmalloc(j->size);
    memcpy(j->buf, j->src->data, j->size);
    int first = h->flush_instance < 0 ? 0 : h->flush_instance;
    int last = h->flush_instance < 0 ? h->ninst - 1 : h->flush_instance;
    j->refs = last - first + 1;
    for (int i = first; i <= last; i++) {
        struct task *t = xcalloc(1, sizeof(*t));
        t->job = j;
        t->instance = i;
        ready_push(h, t);
    }
}

/* Blocks until a task is due; NULL once everything is delivered or on shutdown. Due
 * retries go first, then fresh chunks. */
static struct task *queue_pop(struct host *h)
{
    pthread_mutex_lock(&h->mu);
    for (;;) {
        if (h->stopping || h->done) break;
        int64_t now = now_ns();
        while (h->delayed && h->delayed->due_ns <= now) {
            struct task *t = h->delayed;
            h->delayed = t->next;
            ready_push(h, t);
        }
        if (h->ready_head) {
            struct task *t = h->ready_head;
            h->ready_head = t->next;
            if (!h->ready_head) h->ready_tail = NULL;
            h->in_flight++;
            pthread_mutex_unlock(&h->mu);
            return t;
        }
        if (h->next_job < h->total_jobs) {
            create_job(h);
            continue;
        }
        if (h->delayed) {
            struct timespec ts = {.tv_sec = h->delayed->due_ns / 1000000000,
                                  .tv_nsec = h->delayed->due_ns % 1000000000};
            pthread_cond_timedwait(&h->cond, &h->mu, &ts);
            continue;
        }
        if (h->in_flight == 0) {
            h->done = 1;
            pthread_cond_broadcast(&h->cond);
            break;
        }
        pthread_cond_wait(&h->cond, &h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static void release_buf(unsigned char *buf, size_t size)
{
    /* Poison before freeing so a plugin that kept the data pointer past its call
     * reads garbage instead of plausible records. */
    memset(buf, 0xA5, size);
    free(buf);
}

static void emit_dropped(struct host *h, const struct task *t, const char *reason)
{
    struct sb b;
    sb_begin(h, &b, "dropped");
    sb_printf(&b, ",\"instance\":%d,\"chunk\":", t->instance);
    sb_json_str(&b, t->job->src->path);
    sb_printf(&b, ",\"chunk_id\":%ld,\"tag\":", t->job->id);
    sb_json_str(&b, t->job->src->tag);
    sb_printf(&b, ",\"attempts\":%d,\"reason\":\"%s\"", t->attempt, reason);
    sb_emit(h, &b);
}

/* Ends a task for good; called with mu held. Returns a buffer to release, if any. */
static unsigned char *finish_task(struct task *t, size_t *size)
{
    struct job *j = t->job;
    free(t);
    if (--j->refs > 0) return NULL;
    unsigned char *buf = j->buf;
    *size = j->size;
    free(j);
    return buf;
}

static void deliver(struct host *h, struct task *t, int thread)
{
    struct instance *in = h->inst[t->instance];
    struct job *j = t->job;
    size_t tag_len = strlen(j->src->tag);
    char *tag = xmalloc(tag_len + 1); /* Fluent Bit hands every call a fresh copy */
    memcpy(tag, j->src->tag, tag_len + 1);

    struct flush_call c = {
        .plugin = h->plugin,
        .remote_ctx = in->ctx->remote_context,
        .data = j->buf,
        .size = j->size,
        .tag = tag,
    };
    t->attempt++;
    int64_t t0 = now_ns();
    if (call_flush(h, &c) != 0) {
        fprintf(stderr, "flbhost: coroutine switch failed: %s\n", strerror(errno));
        exit(1);
    }
    int64_t dt = now_ns() - t0;
    memset(tag, 'X', tag_len);
    free(tag);

    struct sb b;
    sb_begin(h, &b, "flush");
    sb_printf(&b, ",\"instance\":%d,\"chunk\":", t->instance);
    sb_json_str(&b, j->src->path);
    sb_printf(&b, ",\"chunk_id\":%ld,\"repeat\":%d,\"tag\":", j->id, j->repeat);
    sb_json_str(&b, j->src->tag);
    sb_printf(&b, ",\"size\":%zu,\"attempt\":%d,\"rc\":%d,\"ns\":%" PRId64 ",\"thread\":%d", j->size,
              t->attempt, c.rc, dt, thread);
    sb_emit(h, &b);

    const char *drop = NULL;
    unsigned char *buf = NULL;
    size_t size = 0;
    pthread_mutex_lock(&h->mu);
    h->flushes++;
    h->in_flight--;
    if (c.rc == FLB_OK) {
        h->ok++;
        h->delivered++;
        h->bytes_ok += j->size;
    } else if (c.rc == FLB_RETRY) {
        h->retry++;
        if (h->stopping)
            drop = "shutdown";
        else if (h->retry_limit >= 0 && t->attempt - 1 >= h->retry_limit)
            drop = "retries_exhausted";
    } else {
        h->error++; /* any other value is FLB_ERROR (proxy_cb_flush) */
        drop = "error";
    }
    if (drop) h->dropped++;
    if (c.rc == FLB_RETRY && !drop) {
        t->due_ns = now_ns() + (int64_t)h->retry_delay_ms * 1000000;
        delayed_insert(h, t);
        t = NULL;
    }
    pthread_cond_broadcast(&h->cond);
    if (t && drop) emit_dropped(h, t, drop);
    if (t) buf = finish_task(t, &size);
    pthread_mutex_unlock(&h->mu);
    if (buf) release_buf(buf, size);
}

struct worker {
    struct host *h;
    int index;
    pthread_t thread;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct task *t;
    while ((t = queue_pop(w->h)) != NULL) {
        deliver(w->h, t, w->index);
        if (w->h->pace_ms > 0) usleep((useconds_t)w->h->pace_ms * 1000);
    }
    return NULL;
}

/* Drops every task still queued at shutdown. */
static void drain_queue(struct host *h)
{
    pthread_mutex_lock(&h->mu);
    struct task *lists[2] = {h->ready_head, h->delayed};
    h->ready_head = h->ready_tail = h->delayed = NULL;
    for (int l = 0; l < 2; l++) {
        struct task *t = lists[l];
        while (t) {
            struct task *next = t->next;
            size_t size = 0;
            h->dropped++;
            emit_dropped(h, t, "shutdown");
            unsigned char *buf = finish_task(t, &size);
            if (buf) release_buf(buf, size);
            t = next;
        }
    }
    pthread_mutex_unlock(&h->mu);
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static void *sym(void *dl, const char *name)
{
    dlerror();
    void *p = dlsym(dl, name);
    if (dlerror() != NULL) return NULL;
    return p;
}

/* Reads a "Name:   123 kB" line of /proc/self/status; -1 when unavailable. */
static long proc_status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    size_t n = strlen(field);
    long kb = -1;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, field, n) == 0 && line[n] == ':') {
            kb = strtol(line + n + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

static long vm_rss_kb(void)
{
    return proc_status_kb("VmRSS");
}

static int64_t tv_ns(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

static void emit_summary(struct host *h, long rss_after_init, int64_t flush_phase_ns)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* VmHWM, the peak of this process's own memory map. Not ru_maxrss: a process started by
     * vfork+exec (Go's os/exec, posix_spawn) inherits in it the peak of its parent's memory,
     * which the exec replaced, so a host started from a large test process reported the test's
     * peak (measured: 136 MiB for ru_maxrss against 51 MiB for VmHWM). */
    long max_rss = proc_status_kb("VmHWM");
    struct sb b;
    sb_begin(h, &b, "summary");
    pthread_mutex_lock(&h->mu);
    sb_printf(&b,
              ",\"instances\":%d,\"chunks\":%zu,\"jobs\":%ld,\"jobs_not_started\":%ld"
              ",\"flushes\":%ld,\"ok\":%ld,\"retry\":%ld,\"error\":%ld"
              ",\"delivered_chunks\":%ld,\"dropped_chunks\":%ld,\"bytes_ok\":%" PRIu64,
              h->ninst, h->nsrc, h->total_jobs, h->total_jobs - h->next_job, h->flushes, h->ok,
              h->retry, h->error, h->delivered, h->dropped, h->bytes_ok);
    pthread_mutex_unlock(&h->mu);
    sb_printf(&b,
              ",\"wall_ns\":%" PRId64 ",\"flush_phase_ns\":%" PRId64 ",\"cpu_user_ns\":%" PRId64
              ",\"cpu_sys_ns\":%" PRId64 ",\"rss_after_init_kb\":%ld,\"max_rss_kb\":%ld",
              now_ns() - h->start_ns, flush_phase_ns, tv_ns(ru.ru_utime), tv_ns(ru.ru_stime),
              rss_after_init, max_rss);
    sb_emit(h, &b);
}

static void unregister(struct host *h, unregister_fn fn, struct flb_plugin_proxy_def *def)
{
    if (!fn) return;
    fn(def);
    struct sb b;
    sb_begin(h, &b, "unregister");
    sb_emit(h, &b);
}

int main(int argc, char **argv)
{
    struct host host;
    struct host *h = &host;
    memset(h, 0, sizeof(*h));
    h->start_ns = now_ns();
    pthread_mutex_init(&h->mu, NULL);
    pthread_mutex_init(&h->out_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cond, &ca);

    if (parse_args(h, argc, argv) != 0) {
        fputc('\n', stderr);
        usage(stderr);
        return 1;
    }
    if (load_sources(h) != 0) return 1;
    h->total_jobs = (long)h->nsrc * h->repeat;

    /* A bare name would make dlopen search the library path. */
    char *path = xstrdup(h->plugin_path);
    if (!strchr(path, '/')) {
        char *p = xmalloc(strlen(path) + 3);
        sprintf(p, "./%s", path);
        free(path);
        path = p;
    }
    void *dl = dlopen(path, RTLD_LAZY); /* the Go runtime starts here */
    if (!dl) {
        fprintf(stderr, "flbhost: dlopen %s: %s\n", path, dlerror());
        return 1;
    }
    pre_register_fn pre_register = (pre_register_fn)sym(dl, "FLBPluginPreRegister");
    register_fn reg = (register_fn)sym(dl, "FLBPluginRegister");
    int (*init)(struct flbgo_output_plugin *) =
        (int (*)(struct flbgo_output_plugin *))sym(dl, "FLBPluginInit");
    void *flush_ctx = sym(dl, "FLBPluginFlushCtx");
    void *flush = sym(dl, "FLBPluginFlush");
    void *exit_ctx = sym(dl, "FLBPluginExitCtx");
    void *exit_fn = sym(dl, "FLBPluginExit");
    h->pre_run = (pre_run_fn)sym(dl, "FLBPluginOutputPreRun");
    h->pre_exit = (pre_exit_fn)sym(dl, "FLBPluginOutputPreExit");
    unregister_fn unreg = (unregister_fn)sym(dl, "FLBPluginUnregister");

    struct sb b;
    sb_begin(h, &b, "load");
    sb_printf(&b, ",\"plugin\":");
    sb_json_str(&b, path);
    sb_printf(&b,
              ",\"symbols\":{\"PreRegister\":%s,\"Register\":%s,\"Init\":%s,\"OutputPreRun\":%s"
              ",\"FlushCtx\":%s,\"Flush\":%s,\"OutputPreExit\":%s,\"ExitCtx\":%s,\"Exit\":%s"
              ",\"Unregister\":%s}",
              pre_register ? "true" : "false", reg ? "true" : "false", init ? "true" : "false",
              h->pre_run ? "true" : "false", flush_ctx ? "true" : "false", flush ? "true" : "false",
              h->pre_exit ? "true" : "false", exit_ctx ? "true" : "false",
              exit_fn ? "true" : "false", unreg ? "true" : "false");
    sb_emit(h, &b);
    if (!reg || !init || (!flush_ctx && !flush)) {
        fprintf(stderr, "flbhost: %s: missing FLBPluginRegister, FLBPluginInit or "
                        "FLBPluginFlushCtx/FLBPluginFlush\n", path);
        return 1;
    }

    if (pre_register) {
        int rc = pre_register(0);
        sb_begin(h, &b, "preregister");
        sb_printf(&b, ",\"rc\":%d", rc);
        sb_emit(h, &b);
        if (rc == -1) {
            fprintf(stderr, "flbhost: FLBPluginPreRegister returned -1\n");
            return 1;
        }
    }

    struct flb_plugin_proxy_def *def = xcalloc(1, sizeof(*def));
    int rc = reg(def);
    sb_begin(h, &b, "register");
    sb_printf(&b, ",\"rc\":%d,\"name\":", rc);
    sb_json_str(&b, def->name);
    sb_printf(&b, ",\"description\":");
    sb_json_str(&b, def->description);
    sb_printf(&b, ",\"type\":%d,\"proxy\":%d,\"flags\":%d,\"event_type\":%d", def->type, def->proxy,
              def->flags, def->event_type);
    sb_emit(h, &b);
    if (rc == -1 || def->type != FLB_PROXY_OUTPUT_PLUGIN || def->proxy != FLB_PROXY_GOLANG ||
        !def->name) {
        fprintf(stderr, "flbhost: FLBPluginRegister: rc=%d type=%d proxy=%d name=%s; want "
                        "type=2 proxy=11 and a name\n", rc, def->type, def->proxy,
                def->name ? def->name : "(null)");
        unregister(h, unreg, def);
        return 1;
    }

    h->api.output_get_property = api_output_get_property;
    h->api.input_get_property = api_null_property;
    h->api.output_get_cmt_instance = api_null_cmt;
    h->api.input_get_cmt_instance = api_null_cmt;
    h->api.log_print = api_log_print;
    h->api.input_log_check = api_log_check;
    h->api.output_log_check = api_log_check;
    h->api.custom_get_property = api_null_property;
    h->api.custom_log_check = api_log_check;

    struct flbgo_output_plugin *plugin = xcalloc(1, sizeof(*plugin));
    plugin->name = xstrdup(def->name); /* def->name is freed by Unregister */
    plugin->api = &h->api;
    plugin->cb_init = init;
    plugin->cb_flush = (int (*)(const void *, size_t, const char *))flush;
    plugin->cb_flush_ctx = (int (*)(void *, const void *, size_t, char *))flush_ctx;
    plugin->cb_exit = (int (*)(void))exit_fn;
    plugin->cb_exit_ctx = (int (*)(void *))exit_ctx;
    h->plugin = plugin;

    for (int i = 0; i < h->ninst; i++) {
        struct instance *in = h->inst[i];
        in->ctx = xcalloc(1, sizeof(*in->ctx));
        in->ctx->proxy = def; /* opaque to the plugin; Fluent Bit's flb_plugin_proxy */
        plugin->o_ins = in;
        plugin->context = in->ctx;
        int64_t t0 = now_ns();
        rc = plugin->cb_init(plugin);
        int64_t dt = now_ns() - t0;
        sb_begin(h, &b, "init");
        sb_printf(&b, ",\"instance\":%d,\"rc\":%d,\"ns\":%" PRId64 ",\"context\":%s", i, rc, dt,
                  in->ctx->remote_context ? "true" : "false");
        sb_emit(h, &b);
        if (rc <= 0) {
            fprintf(stderr, "flbhost: FLBPluginInit failed for instance %d (rc=%d)\n", i, rc);
            unregister(h, unreg, def);
            emit_summary(h, vm_rss_kb(), 0);
            return 2;
        }
    }
    long rss_after_init = vm_rss_kb();

    for (int i = 0; i < h->ninst; i++) {
        if (!h->pre_run) break;
        rc = h->pre_run(0);
        sb_begin(h, &b, "prerun");
        sb_printf(&b, ",\"instance\":%d,\"rc\":%d", i, rc);
        sb_emit(h, &b);
    }

    /* flush phase */
    int64_t flush_start = now_ns();
    struct worker *workers = xcalloc((size_t)h->threads, sizeof(*workers));
    for (int i = 0; i < h->threads; i++) {
        workers[i].h = h;
        workers[i].index = i;
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            fprintf(stderr, "flbhost: pthread_create: %s\n", strerror(errno));
            return 1;
        }
    }
    int joined = 0;
    if (h->exit_after_ms >= 0) {
        int64_t deadline = flush_start + h->exit_after_ms * 1000000;
        struct timespec ts = {.tv_sec = deadline / 1000000000, .tv_nsec = deadline % 1000000000};
        pthread_mutex_lock(&h->mu);
        while (!h->done && now_ns() < deadline) pthread_cond_timedwait(&h->cond, &h->mu, &ts);
        if (!h->done) {
            h->stopping = 1; /* workers take no new deliveries; running ones go on */
            pthread_cond_broadcast(&h->cond);
        }
        pthread_mutex_unlock(&h->mu);
    } else {
        for (int i = 0; i < h->threads; i++) pthread_join(workers[i].thread, NULL);
        joined = 1;
        if (h->linger_ms > 0) {
            struct sb b;
            sb_begin(h, &b, "linger");
            sb_printf(&b, ",\"ms\":%d", h->linger_ms);
            sb_emit(h, &b);
            usleep((useconds_t)h->linger_ms * 1000);
        }
    }

    /* shutdown: PreExit + ExitCtx (or Exit) per instance, possibly while flushes run */
    for (int i = 0; i < h->ninst; i++) {
        struct instance *in = h->inst[i];
        pthread_mutex_lock(&h->mu);
        int in_flight = h->in_flight;
        pthread_mutex_unlock(&h->mu);
        int64_t t0 = now_ns();
        if (h->pre_exit) h->pre_exit(0);
        int64_t t1 = now_ns();
        const char *called = "none";
        rc = 0;
        if (plugin->cb_exit_ctx) {
            called = "ExitCtx";
            rc = plugin->cb_exit_ctx(in->ctx->remote_context);
        } else if (plugin->cb_exit) {
            called = "Exit";
            rc = plugin->cb_exit();
        }
        int64_t t2 = now_ns();
        sb_begin(h, &b, "exit");
        sb_printf(&b,
                  ",\"instance\":%d,\"called\":\"%s\",\"rc\":%d,\"ns\":%" PRId64
                  ",\"preexit_ns\":%" PRId64 ",\"in_flight\":%d",
                  i, called, rc, t2 - t1, t1 - t0, in_flight);
        sb_emit(h, &b);
    }
    if (!joined)
        for (int i = 0; i < h->threads; i++) pthread_join(workers[i].thread, NULL);
    int64_t flush_phase_ns = now_ns() - flush_start;
    drain_queue(h);
    free(workers);

    unregister(h, unreg, def);
    emit_summary(h, rss_after_init, flush_phase_ns);
    /* The Go runtime cannot be unloaded (NODELETE), so no dlclose. */
    return 0;
}
