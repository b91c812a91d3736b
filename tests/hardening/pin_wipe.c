/* pin_wipe.c: proves that the PIN buffer C_Login is given is zeroed before
 * the token layer makes any other PKCS#11 call, for every PIN source, and
 * that once logged in no copy of the PIN is left in the process's memory.
 *
 *   hd_pin_wipe KEY-URI PIN-FILE [AA-KEY-URI]
 *
 * How: the module's function list is replaced by a copy whose C_Login
 * records where the PIN is (address and length) and calls the real one.
 * The program is linked with -Wl,--wrap=ek_wipe,--wrap=tok_traced: every
 * wipe the library makes is seen right after it is done (the buffer still
 * in scope, so what is read is what the wipe left, not a later stack
 * frame's), and every PKCS#11 call is seen as it returns. A login passes
 * when a wipe covering its buffer leaves it all zero with no PKCS#11 call
 * in between. The memory scan reads every readable mapping of the process
 * through /proc/self/mem and searches for the PIN; the program only ever
 * holds the PIN XOR-masked, so a hit is the library's (or a module's) copy.
 * AA-KEY-URI: a CKA_ALWAYS_AUTHENTICATE key; its PIN is kept (by design,
 * for the context-specific logins) until ek_key_free, which must wipe it:
 * free() is wrapped too (--wrap=free), and a PIN buffer handed to free()
 * counts as wiped only if it is all zero then. */
#undef NDEBUG
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tok.h"

#define MASK 0x5a
#define MAX_EVENTS 16
#define CHUNK (1u << 20)

static unsigned char masked_pin[EK_PIN_MAX + 1]; /* PIN ^ MASK */
static size_t pin_len;
static const char *key_uri, *aa_key_uri, *pin_file;

/* One C_Login: where its PIN was, and whether it was seen wiped. */
struct login_event {
    const unsigned char *ptr;
    size_t len;
    CK_USER_TYPE type;
    int calls_before_wipe; /* PKCS#11 calls between C_Login and the wipe */
    int wiped;
};
static struct login_event events[MAX_EVENTS];
static int nevents;
static CK_FUNCTION_LIST *real_fl;
static CK_FUNCTION_LIST spy_fl;

static CK_RV
spy_login(CK_SESSION_HANDLE h, CK_USER_TYPE type, CK_UTF8CHAR *pin,
          CK_ULONG len)
{
    struct login_event *e;

    assert(nevents < MAX_EVENTS);
    e = &events[nevents++];
    memset(e, 0, sizeof *e);
    e->ptr = pin;
    e->len = len;
    e->type = type;
    e->calls_before_wipe = -1; /* C_Login's own trace comes first */
    return real_fl->C_Login(h, type, pin, len);
}

CK_RV __real_tok_traced(struct ek_ctx *ctx, const char *fn, CK_RV rv);
CK_RV __wrap_tok_traced(struct ek_ctx *ctx, const char *fn, CK_RV rv);
void __real_ek_wipe(void *p, size_t n);
void __wrap_ek_wipe(void *p, size_t n);
void __real_free(void *p);
void __wrap_free(void *p);

CK_RV
__wrap_tok_traced(struct ek_ctx *ctx, const char *fn, CK_RV rv)
{
    int i;

    for (i = 0; i < nevents; i++)
        if (!events[i].wiped)
            events[i].calls_before_wipe++;
    return __real_tok_traced(ctx, fn, rv);
}

void
__wrap_ek_wipe(void *p, size_t n)
{
    const unsigned char *b = p;
    size_t j;
    int i, zero;

    __real_ek_wipe(p, n);
    for (i = 0; i < nevents; i++) {
        if (events[i].wiped || events[i].ptr == NULL || b == NULL ||
            events[i].ptr < b || events[i].ptr + events[i].len > b + n)
            continue;
        for (zero = 1, j = 0; j < events[i].len; j++)
            zero &= events[i].ptr[j] == 0;
        events[i].wiped = zero;
    }
}

/* A PIN buffer on the heap (the copy kept for always-authenticate keys)
 * must be zero when it is freed. */
void
__wrap_free(void *p)
{
    size_t j;
    int i, zero;

    for (i = 0; p != NULL && i < nevents; i++) {
        if (events[i].wiped || events[i].ptr != p)
            continue;
        for (zero = 1, j = 0; j < events[i].len; j++)
            zero &= events[i].ptr[j] == 0;
        events[i].wiped = zero;
        events[i].ptr = NULL; /* gone: never looked at again */
    }
    __real_free(p);
}

/* ---------------------------------------------------------------- helpers */

static void
reset_events(void)
{
    memset(events, 0, sizeof events);
    nevents = 0;
}

/* Reads the PIN file into masked_pin; the clear PIN is wiped at once. */
static void
load_pin(void)
{
    unsigned char buf[EK_PIN_MAX + 2];
    ssize_t n;
    size_t i;
    int fd;

    fd = open(pin_file, O_RDONLY | O_CLOEXEC);
    assert(fd >= 0);
    n = read(fd, buf, sizeof buf);
    close(fd);
    assert(n > 0);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    assert(n > 4 && (size_t)n <= EK_PIN_MAX);
    for (i = 0; i < (size_t)n; i++)
        masked_pin[i] = buf[i] ^ MASK;
    pin_len = (size_t)n;
    __real_ek_wipe(buf, sizeof buf);
}

/* Writes the PIN (unmasked one byte at a time) to fd, and a newline. */
static void
write_pin(int fd)
{
    unsigned char c;
    size_t i;

    for (i = 0; i < pin_len; i++) {
        c = masked_pin[i] ^ MASK;
        assert(write(fd, &c, 1) == 1);
    }
    c = '\n';
    assert(write(fd, &c, 1) == 1);
    c = 0;
}

static int
pin_at(const unsigned char *p)
{
    size_t j;

    for (j = 0; j < pin_len; j++)
        if ((p[j] ^ MASK) != masked_pin[j])
            return 0;
    return 1;
}

/* Counts the copies of the PIN in every readable mapping of the process,
 * printing where each is. Mappings larger than 1 GiB (sanitizer shadow
 * memory, reserved but never written by us) are skipped. */
static int
scan_memory(const char *when)
{
    unsigned char *chunk;
    unsigned long lo, hi, a, end;
    char line[512], perms[8], path[256];
    size_t i, got;
    ssize_t n;
    FILE *maps;
    int mem, hits = 0;

    chunk = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert(chunk != MAP_FAILED);
    maps = fopen("/proc/self/maps", "r");
    mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
    assert(maps != NULL && mem >= 0);
    while (fgets(line, sizeof line, maps) != NULL) {
        path[0] = '\0';
        if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %255s", &lo, &hi, perms,
                   path) < 3)
            continue;
        if (perms[0] != 'r' || hi - lo > (1ul << 30) ||
            strcmp(path, "[vvar]") == 0 || strcmp(path, "[vsyscall]") == 0 ||
            lo == (unsigned long)chunk)
            continue;
        for (a = lo; a < hi; a = end) {
            end = a + CHUNK < hi ? a + CHUNK : hi;
            n = pread(mem, chunk, end - a, (off_t)a);
            if (n <= 0)
                continue; /* an unreadable page: not ours to read */
            got = (size_t)n;
            for (i = 0; i + pin_len <= got; i++) {
                if (pin_at(chunk + i)) {
                    hits++;
                    printf("# %s: the PIN is at %#lx (%s %s)\n", when, a + i,
                           perms, path[0] ? path : "anonymous");
                }
            }
            /* a copy across the chunk boundary: read with an overlap */
            if (end < hi && got > pin_len)
                end -= pin_len - 1;
        }
    }
    fclose(maps);
    close(mem);
    __real_ek_wipe(chunk, CHUNK);
    munmap(chunk, CHUNK);
    return hits;
}

/* A context on the test module with the spy's C_Login in its function
 * list; restore() puts the real one back before the context is freed. */
static struct tok_sel *spied;

static struct ek_ctx *
spy_ctx(void)
{
    struct ek_ctx *ctx = NULL;
    struct tok_sel *sel = NULL;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(tok_modules(ctx, NULL, &sel) == EK_OK);
    assert(sel->nmods == 1);
    real_fl = sel->mods[0].fl;
    spy_fl = *real_fl;
    spy_fl.C_Login = spy_login;
    sel->mods[0].fl = &spy_fl;
    spied = sel;
    reset_events();
    return ctx;
}

static void
free_ctx(struct ek_ctx **ctxp)
{
    spied->mods[0].fl = real_fl;
    ek_ctx_free(ctxp);
}

/* The one user login of a case: wiped with no PKCS#11 call in between. */
static void
expect_wiped_login(const char *name)
{
    assert(nevents == 1);
    assert(events[0].type == CKU_USER);
    assert(events[0].len == pin_len);
    if (!events[0].wiped || events[0].calls_before_wipe != 0) {
        fprintf(stderr, "%s: the PIN buffer given to C_Login was %s\n", name,
                events[0].wiped ? "wiped only after other PKCS#11 calls"
                                : "never wiped");
        abort();
    }
    printf("ok - %s: the PIN buffer is zero right after C_Login\n", name);
}

static void
sign_once(struct ek_key *k)
{
    static const unsigned char msg[] = "hd_pin_wipe";
    unsigned char sig[512];
    size_t siglen = sizeof sig;

    assert(ek_key_sign(k, EK_ALG_PS256, msg, sizeof msg, sig, &siglen) ==
           EK_OK);
    assert(siglen == 256);
}

/* ------------------------------------------------------------------ cases */

static void
test_file_source(void)
{
    struct ek_ctx *ctx = spy_ctx();
    struct ek_key *k = NULL;
    char src[4096];
    int hits;

    snprintf(src, sizeof src, "file:%s", pin_file);
    assert(ek_ctx_set_pin_source(ctx, src) == EK_OK);
    assert(ek_key_open(ctx, key_uri, &k) == EK_OK);
    /* found through its public key: the login comes with the signature */
    assert(nevents == 0);
    sign_once(k);
    expect_wiped_login("file");
    hits = scan_memory("file:, logged in");
    sign_once(k);
    assert(nevents == 1); /* one login per key, never again */
    hits += scan_memory("file:, after a signature");
    ek_key_free(&k);
    free_ctx(&ctx);
    hits += scan_memory("file:, all freed");
    assert(hits == 0);
    printf("ok - file: no copy of the PIN in memory, logged in or after\n");
}

static void
test_fd_source(void)
{
    struct ek_ctx *ctx = spy_ctx();
    struct ek_key *k = NULL;
    char src[32];
    int p[2];

    assert(pipe(p) == 0);
    write_pin(p[1]);
    close(p[1]);
    snprintf(src, sizeof src, "fd:%d", p[0]);
    assert(ek_ctx_set_pin_source(ctx, src) == EK_OK);
    assert(ek_key_open(ctx, key_uri, &k) == EK_OK);
    sign_once(k);
    close(p[0]);
    expect_wiped_login("fd");
    assert(scan_memory("fd:, logged in") == 0);
    printf("ok - fd: no copy of the PIN in memory\n");
    ek_key_free(&k);
    free_ctx(&ctx);
}

static const unsigned char *prompt_buf;

static ek_err
prompt(void *arg, const char *text, char *buf, size_t bufsz)
{
    size_t i;

    (void)arg;
    assert(strstr(text, "PIN") != NULL);
    assert(bufsz > pin_len);
    for (i = 0; i < pin_len; i++)
        buf[i] = (char)(masked_pin[i] ^ MASK);
    buf[pin_len] = '\0';
    prompt_buf = (const unsigned char *)buf;
    return EK_OK;
}

static void
test_prompt(void)
{
    struct ek_ctx *ctx = spy_ctx();
    struct ek_key *k = NULL;

    ek_ctx_set_pin_prompt(ctx, prompt, NULL);
    assert(ek_key_open(ctx, key_uri, &k) == EK_OK);
    sign_once(k);
    expect_wiped_login("prompt");
    /* the prompt wrote into the buffer that was given to C_Login */
    assert(prompt_buf == events[0].ptr);
    assert(scan_memory("prompt, logged in") == 0);
    printf("ok - prompt: no copy of the PIN in memory\n");
    ek_key_free(&k);
    free_ctx(&ctx);
}

static void
test_wrong_pin(void)
{
    struct ek_ctx *ctx = spy_ctx();
    struct ek_key *k = NULL;
    char path[4096], src[4200];
    int fd;

    snprintf(path, sizeof path, "%s.wrong", pin_file);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert(fd >= 0);
    assert(write(fd, "00000000\n", 9) == 9);
    close(fd);
    snprintf(src, sizeof src, "file:%s", path);
    assert(ek_ctx_set_pin_source(ctx, src) == EK_OK);
    assert(ek_key_open(ctx, key_uri, &k) == EK_OK);
    {
        static const unsigned char msg[] = "hd_pin_wipe";
        unsigned char sig[512];
        size_t siglen = sizeof sig;

        assert(ek_key_sign(k, EK_ALG_PS256, msg, sizeof msg, sig, &siglen) ==
               EK_ERR_PIN);
    }
    assert(strstr(ek_ctx_errmsg(ctx), "CKR_PIN_INCORRECT") != NULL);
    ek_key_free(&k);
    assert(nevents == 1 && events[0].len == 8);
    if (!events[0].wiped || events[0].calls_before_wipe != 0) {
        fprintf(stderr, "wrong PIN: the buffer was not wiped at once\n");
        abort();
    }
    printf("ok - a wrong PIN: wiped right after C_Login too, one try\n");
    free_ctx(&ctx);
    unlink(path);
}

static void
test_always_auth(void)
{
    struct ek_ctx *ctx = spy_ctx();
    struct ek_key *k = NULL;
    char src[4096];
    int i;

    snprintf(src, sizeof src, "file:%s", pin_file);
    assert(ek_ctx_set_pin_source(ctx, src) == EK_OK);
    assert(ek_key_open(ctx, aa_key_uri, &k) == EK_OK);
    sign_once(k);
    sign_once(k);
    /* the user login, then one context-specific login per signature */
    assert(nevents == 3);
    assert(events[0].type == CKU_USER && events[0].wiped &&
           events[0].calls_before_wipe == 0);
    printf("ok - always-authenticate: the read buffer is zero right after "
           "the user login\n");
    for (i = 1; i < nevents; i++) {
        assert(events[i].type == CKU_CONTEXT_SPECIFIC);
        assert(events[i].ptr == events[1].ptr); /* the one kept copy */
        assert(!events[i].wiped);
    }
    /* the kept copy, and nothing else */
    assert(scan_memory("always-authenticate, the kept copy") == 1);
    ek_key_free(&k);
    for (i = 1; i < nevents; i++)
        if (!events[i].wiped) {
            fprintf(stderr, "always-authenticate: the kept PIN was freed "
                            "without being wiped\n");
            abort();
        }
    printf("ok - always-authenticate: the kept PIN is wiped by "
           "ek_key_free\n");
    free_ctx(&ctx);
    assert(scan_memory("always-authenticate, freed") == 0);
    printf("ok - always-authenticate: no copy of the PIN in memory after\n");
}

/* Last: setenv's copy stays in the environment (glibc never frees it). */
static void
test_env_source(void)
{
    struct ek_ctx *ctx = spy_ctx();
    struct ek_key *k = NULL;
    char val[EK_PIN_MAX + 1];
    size_t i;

    for (i = 0; i < pin_len; i++)
        val[i] = (char)(masked_pin[i] ^ MASK);
    val[pin_len] = '\0';
    assert(setenv("HD_PIN_WIPE_PIN", val, 1) == 0);
    __real_ek_wipe(val, sizeof val);
    assert(ek_ctx_set_pin_source(ctx, "env:HD_PIN_WIPE_PIN") == EK_OK);
    assert(ek_key_open(ctx, key_uri, &k) == EK_OK);
    sign_once(k);
    expect_wiped_login("env");
    /* the environment's copy is the only one */
    assert(scan_memory("env:, logged in (the environment's copy)") == 1);
    printf("ok - env: the only copy of the PIN is the environment's\n");
    ek_key_free(&k);
    free_ctx(&ctx);
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: hd_pin_wipe KEY-URI PIN-FILE [AA-KEY-URI]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    key_uri = argv[1];
    pin_file = argv[2];
    aa_key_uri = argc > 3 ? argv[3] : NULL;
    load_pin();
    /* the scan finds what it looks for: a planted copy is found */
    {
        char *plant = malloc(pin_len);
        size_t i;

        assert(plant != NULL);
        for (i = 0; i < pin_len; i++)
            plant[i] = (char)(masked_pin[i] ^ MASK);
        assert(scan_memory("self-test (a planted copy)") == 1);
        __real_ek_wipe(plant, pin_len);
        free(plant);
        assert(scan_memory("self-test (wiped)") == 0);
        printf("ok - the memory scan finds a planted copy of the PIN\n");
    }
    test_file_source();
    test_fd_source();
    test_prompt();
    if (aa_key_uri != NULL)
        test_always_auth();
    test_wrong_pin();
    test_env_source();
    printf("all PIN-wipe checks passed\n");
    return 0;
}
