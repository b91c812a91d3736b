/* config.c: profiles in an INI file: loading through inih with line numbers
 * in every error, editing, and saving atomically with the comments kept. */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"

static const char *const known_keys[] = {
    "tenant",         "client_id", "key",   "module",     "cloud",
    "resource",       "scope",     "alg",   "pin_source", "organization",
    "authority_host", "ca_file",   "audit",
};
#define NKEYS (sizeof known_keys / sizeof known_keys[0])

/* inih keeps lines of at most INI_MAX_LINE - 3 characters (its own rule). */
#define CFG_LINE_MAX (INI_MAX_LINE - 3)

struct cfg_entry {
    char *profile;
    char *key;
    char *value; /* NULL once removed */
    int line;    /* 1-based line in the loaded text; 0 for a new entry */
    int changed; /* value differs from the loaded line */
};

struct ek_config {
    char **lines; /* the loaded text, line by line, without newlines */
    size_t nlines;
    struct cfg_entry *e;
    size_t n, cap;
    char **profiles; /* in order of appearance */
    size_t nprofiles;
};

int
cfg_known_key(const char *key)
{
    size_t i;

    for (i = 0; i < NKEYS; i++)
        if (strcmp(key, known_keys[i]) == 0)
            return 1;
    return 0;
}

const char *
cfg_known_keys(void)
{
    return "tenant, client_id, key, module, cloud, resource, scope, alg, "
           "pin_source, organization, authority_host, ca_file, audit";
}

ek_err
cfg_check_name(struct ek_ctx *ctx, const char *name)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyz"
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@";

    if (name == NULL || name[0] == '\0' || strlen(name) > CFG_NAME_MAX ||
        strspn(name, ok) != strlen(name))
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "profile name '%s' is not "
                         "valid: use 1 to %d letters, digits, '.', '_', '-' "
                         "or '@'",
                         name != NULL ? name : "", CFG_NAME_MAX);
    return EK_OK;
}

ek_err
cfg_check_value(struct ek_ctx *ctx, const char *key, const char *value)
{
    enum ek_cloud cloud;
    enum ek_resource res;
    size_t n = strlen(value), i, max;

    if (!cfg_known_key(key))
        return ek_seterr(ctx, EK_ERR_USAGE, "unknown key '%s' (known: %s)", key,
                         cfg_known_keys());
    if (n == 0)
        return ek_seterr(ctx, EK_ERR_USAGE, "the value of '%s' is empty", key);
    max = CFG_LINE_MAX - strlen(key) - 3;
    if (n > max)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the value of '%s' is %zu "
                         "characters long; a config line holds at most %zu",
                         key, n, max);
    for (i = 0; i < n; i++) {
        if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
            return ek_seterr(ctx, EK_ERR_USAGE,
                             "the value of '%s' holds a "
                             "control character (position %zu)",
                             key, i + 1);
        /* inih reads " ;" as the start of a comment */
        if (value[i] == ';' && (i == 0 || value[i - 1] == ' '))
            return ek_seterr(ctx, EK_ERR_USAGE,
                             "the value of '%s' has ';' "
                             "after a space or at its start, which the "
                             "config file would read as a comment",
                             key);
    }
    if (value[0] == ' ' || value[n - 1] == ' ')
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the value of '%s' starts or "
                         "ends with a space, which the config file drops",
                         key);
    /* a profile never holds a PIN (in any spelling p11-kit might take) */
    if (strcmp(key, "key") == 0 && strcasestr(value, "pin-value") != NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "the key URI of a profile holds "
                         "pin-value=, a PIN, which a profile never keeps; "
                         "remove it from the URI and name a PIN source "
                         "instead (the profile's pin_source: env:NAME, "
                         "file:PATH or fd:N)");
    if (strcmp(key, "cloud") == 0 && ek_cloud_parse(value, &cloud) != EK_OK)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "cloud '%s' is not one of "
                         "global, usgov, usgov-dod, china",
                         value);
    if (strcmp(key, "resource") == 0 && ek_resource_parse(value, &res) != EK_OK)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "resource '%s' is not one of "
                         "exo, graph, arm, compliance",
                         value);
    if (strcmp(key, "alg") == 0 && strcmp(value, "PS256") != 0 &&
        strcmp(value, "RS256") != 0)
        return ek_seterr(ctx, EK_ERR_USAGE, "alg '%s' is not PS256 or RS256",
                         value);
    return EK_OK;
}

/* ------------------------------------------------------------ the model */

static struct cfg_entry *
find_entry(const struct ek_config *cfg, const char *profile, const char *key)
{
    size_t i;

    for (i = 0; i < cfg->n; i++)
        if (strcmp(cfg->e[i].profile, profile) == 0 &&
            strcmp(cfg->e[i].key, key) == 0)
            return &cfg->e[i];
    return NULL;
}

static int
has_profile(const struct ek_config *cfg, const char *profile)
{
    size_t i;

    for (i = 0; i < cfg->nprofiles; i++)
        if (strcmp(cfg->profiles[i], profile) == 0)
            return 1;
    return 0;
}

static ek_err
add_profile(struct ek_ctx *ctx, struct ek_config *cfg, const char *profile)
{
    char **np;

    if (has_profile(cfg, profile))
        return EK_OK;
    np = realloc(cfg->profiles, (cfg->nprofiles + 1) * sizeof *np);
    if (np == NULL)
        return ek_seterr_oom(ctx);
    cfg->profiles = np;
    if ((np[cfg->nprofiles] = ek_strdup(ctx, profile)) == NULL)
        return EK_ERR_INTERNAL;
    cfg->nprofiles++;
    return EK_OK;
}

static ek_err
add_entry(struct ek_ctx *ctx, struct ek_config *cfg, const char *profile,
          const char *key, const char *value, int line)
{
    struct cfg_entry *ne, *e;
    size_t ncap;
    ek_err r;

    if ((r = add_profile(ctx, cfg, profile)) != EK_OK)
        return r;
    if (cfg->n == cfg->cap) {
        ncap = cfg->cap == 0 ? 16 : cfg->cap * 2;
        if ((ne = realloc(cfg->e, ncap * sizeof *ne)) == NULL)
            return ek_seterr_oom(ctx);
        cfg->e = ne;
        cfg->cap = ncap;
    }
    e = &cfg->e[cfg->n];
    memset(e, 0, sizeof *e);
    e->line = line;
    e->changed = line == 0;
    if ((e->profile = ek_strdup(ctx, profile)) == NULL ||
        (e->key = ek_strdup(ctx, key)) == NULL ||
        (e->value = ek_strdup(ctx, value)) == NULL) {
        free(e->profile);
        free(e->key);
        return EK_ERR_INTERNAL;
    }
    cfg->n++;
    return EK_OK;
}

void
ek_config_free(struct ek_config **cfgp)
{
    struct ek_config *cfg;
    size_t i;

    if (cfgp == NULL || (cfg = *cfgp) == NULL)
        return;
    for (i = 0; i < cfg->nlines; i++)
        free(cfg->lines[i]);
    free(cfg->lines);
    for (i = 0; i < cfg->n; i++) {
        free(cfg->e[i].profile);
        free(cfg->e[i].key);
        free(cfg->e[i].value);
    }
    free(cfg->e);
    for (i = 0; i < cfg->nprofiles; i++)
        free(cfg->profiles[i]);
    free(cfg->profiles);
    free(cfg);
    *cfgp = NULL;
}

const char *
ek_config_get(const struct ek_config *cfg, const char *profile, const char *key)
{
    const struct cfg_entry *e;

    if (cfg == NULL || profile == NULL || key == NULL)
        return NULL;
    e = find_entry(cfg, profile, key);
    return e != NULL ? e->value : NULL;
}

/* A profile is listed while it has a value. */
static int
profile_live(const struct ek_config *cfg, const char *profile)
{
    size_t i;

    for (i = 0; i < cfg->n; i++)
        if (cfg->e[i].value != NULL && strcmp(cfg->e[i].profile, profile) == 0)
            return 1;
    return 0;
}

size_t
ek_config_profile_count(const struct ek_config *cfg)
{
    size_t i, n = 0;

    if (cfg == NULL)
        return 0;
    for (i = 0; i < cfg->nprofiles; i++)
        n += (size_t)profile_live(cfg, cfg->profiles[i]);
    return n;
}

const char *
ek_config_profile_name(const struct ek_config *cfg, size_t idx)
{
    size_t i, n = 0;

    if (cfg == NULL)
        return NULL;
    for (i = 0; i < cfg->nprofiles; i++) {
        if (!profile_live(cfg, cfg->profiles[i]))
            continue;
        if (n++ == idx)
            return cfg->profiles[i];
    }
    return NULL;
}

ek_err
ek_config_set(struct ek_ctx *ctx, struct ek_config *cfg, const char *profile,
              const char *key, const char *value)
{
    struct cfg_entry *e;
    char *copy;
    ek_err r;

    if (cfg == NULL || key == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_config_set: no config or "
                         "key");
    if ((r = cfg_check_name(ctx, profile)) != EK_OK)
        return r;
    if (!cfg_known_key(key))
        return ek_seterr(ctx, EK_ERR_USAGE, "unknown key '%s' (known: %s)", key,
                         cfg_known_keys());
    if (value != NULL && (r = cfg_check_value(ctx, key, value)) != EK_OK)
        return r;
    e = find_entry(cfg, profile, key);
    if (e == NULL)
        return value == NULL ? EK_OK
                             : add_entry(ctx, cfg, profile, key, value, 0);
    copy = NULL;
    if (value != NULL && (copy = ek_strdup(ctx, value)) == NULL)
        return EK_ERR_INTERNAL;
    free(e->value);
    e->value = copy;
    e->changed = 1;
    return EK_OK;
}

/* ---------------------------------------------------------------- load */

struct parse_state {
    struct ek_ctx *ctx;
    struct ek_config *cfg;
    const char *name; /* the file, for messages */
    const char *text;
    size_t len, pos;
    int lineno;   /* the line inih is on */
    int too_long; /* line number of an over-long line */
    int err_line; /* the first error the handler found */
    char err[512];
    char *last_section; /* the raw [section] of the previous key */
};

/* fgets for inih over the text: one whole line per call, never a part. */
static char *
reader(char *str, int num, void *stream)
{
    struct parse_state *st = stream;
    const char *nl;
    size_t n, body;

    if (st->pos >= st->len || st->too_long)
        return NULL;
    nl = memchr(st->text + st->pos, '\n', st->len - st->pos);
    n = nl != NULL ? (size_t)(nl - (st->text + st->pos)) + 1
                   : st->len - st->pos;
    /* the limit is on the line without its end, as the message says: a
     * last line without a newline then still fits when a save adds one */
    body = n;
    if (body > 0 && st->text[st->pos + body - 1] == '\n')
        body--;
    if (body > 0 && st->text[st->pos + body - 1] == '\r')
        body--;
    if (num <= 1 || n > (size_t)num - 1 || body > CFG_LINE_MAX) {
        st->too_long = st->lineno + 1;
        return NULL;
    }
    memcpy(str, st->text + st->pos, n);
    str[n] = '\0';
    st->pos += n;
    st->lineno++;
    return str;
}

static int handler_error(struct parse_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
handler_error(struct parse_state *st, const char *fmt, ...)
{
    va_list ap;

    if (st->err_line == 0) {
        st->err_line = st->lineno;
        va_start(ap, fmt);
        vsnprintf(st->err, sizeof st->err, fmt, ap);
        va_end(ap);
    }
    return 0;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse_state *st = user;
    const struct cfg_entry *e;
    const char *profile = section;
    size_t i;

    if (st->err_line != 0)
        return 1; /* the first error is the one reported */
    if (section[0] == '\0')
        return handler_error(st, "'%s' is outside a [profile NAME] section",
                             name);
    if (strncmp(section, "profile", 7) == 0 &&
        (section[7] == ' ' || section[7] == '\t')) {
        profile = section + 8;
        while (*profile == ' ' || *profile == '\t')
            profile++;
    }
    if (cfg_check_name(NULL, profile) != EK_OK)
        return handler_error(st,
                             "profile name '%s' is not valid: use "
                             "letters, digits, '.', '_', '-' or '@'",
                             profile);
    if (!cfg_known_key(name))
        return handler_error(st, "unknown key '%s' (known: %s)", name,
                             cfg_known_keys());
    if (st->last_section == NULL || strcmp(section, st->last_section) != 0) {
        /* a new section: the profile must not have been seen before */
        for (i = 0; i < st->cfg->n; i++)
            if (strcmp(st->cfg->e[i].profile, profile) == 0)
                return handler_error(st,
                                     "profile '%s' appears a second time "
                                     "(first at line %d); merge the two "
                                     "sections",
                                     profile, st->cfg->e[i].line);
        free(st->last_section);
        if ((st->last_section = strdup(section)) == NULL)
            return handler_error(st, "out of memory");
    }
    if ((e = find_entry(st->cfg, profile, name)) != NULL)
        return handler_error(st,
                             "'%s' is given a second time in profile "
                             "'%s' (first at line %d; a line that starts "
                             "with a space continues the line above)",
                             name, profile, e->line);
    if (cfg_check_value(st->ctx, name, value) != EK_OK)
        return handler_error(st, "%s", ek_ctx_errmsg(st->ctx));
    if (add_entry(st->ctx, st->cfg, profile, name, value, st->lineno) != EK_OK)
        return handler_error(st, "out of memory");
    return 1;
}

/* Keeps the text line by line, for a save that changes only what it must. */
static ek_err
keep_lines(struct ek_ctx *ctx, struct ek_config *cfg, const char *text,
           size_t len)
{
    size_t pos = 0, n, count = 0, i;
    const char *nl;

    for (i = 0; i < len; i++)
        count += text[i] == '\n';
    count += 1;
    if ((cfg->lines = ek_calloc(ctx, count, sizeof *cfg->lines)) == NULL)
        return EK_ERR_INTERNAL;
    while (pos < len) {
        nl = memchr(text + pos, '\n', len - pos);
        n = nl != NULL ? (size_t)(nl - (text + pos)) : len - pos;
        if ((cfg->lines[cfg->nlines] = ek_calloc(ctx, 1, n + 1)) == NULL)
            return EK_ERR_INTERNAL;
        memcpy(cfg->lines[cfg->nlines], text + pos, n);
        cfg->nlines++;
        pos += n + 1;
    }
    return EK_OK;
}

ek_err
cfg_parse(struct ek_ctx *ctx, const char *name, const char *text, size_t len,
          struct ek_config **cfgp)
{
    struct ek_config *cfg = NULL;
    struct parse_state st;
    const char *nul;
    int rc, line;
    ek_err r = EK_ERR_CONFIG;

    *cfgp = NULL;
    if ((cfg = ek_calloc(ctx, 1, sizeof *cfg)) == NULL)
        return EK_ERR_INTERNAL;
    if ((nul = memchr(text, '\0', len)) != NULL) {
        for (line = 1; text < nul; text++)
            line += *text == '\n';
        r = ek_seterr(ctx, EK_ERR_CONFIG,
                      "config %s line %d: a NUL byte; "
                      "this is not a text file",
                      name, line);
        goto out;
    }
    memset(&st, 0, sizeof st);
    st.ctx = ctx;
    st.cfg = cfg;
    st.name = name;
    st.text = text;
    st.len = len;
    rc = ini_parse_stream(reader, &st, handler, &st);
    free(st.last_section);
    if (st.too_long != 0 && (st.err_line == 0 || st.too_long < st.err_line) &&
        (rc <= 0 || st.too_long <= rc)) {
        r = ek_seterr(ctx, EK_ERR_CONFIG,
                      "config %s line %d is longer than "
                      "%d characters; shorten it",
                      name, st.too_long, CFG_LINE_MAX);
        goto out;
    }
    if (rc == -2) {
        r = ek_seterr_oom(ctx);
        goto out;
    }
    if (st.err_line != 0 && (rc <= 0 || rc >= st.err_line)) {
        r = ek_seterr(ctx, EK_ERR_CONFIG, "config %s line %d: %s", name,
                      st.err_line, st.err);
        goto out;
    }
    if (rc != 0) {
        r = ek_seterr(ctx, EK_ERR_CONFIG,
                      "config %s line %d: not "
                      "understood; a line is [profile NAME], key = value, "
                      "or a comment starting with # or ;",
                      name, rc);
        goto out;
    }
    if ((r = keep_lines(ctx, cfg, text, len)) != EK_OK)
        goto out;
    *cfgp = cfg;
    cfg = NULL;
    r = EK_OK;
out:
    ek_config_free(&cfg);
    return r;
}

/* Whether someone other than the user (and root) can change what st
 * describes: its owner, or a write bit for group or others (a directory
 * with the sticky bit, such as /tmp, keeps others from replacing what is
 * not theirs). */
static const char *
cfg_unsafe(const struct stat *st, int dir)
{
    if (st->st_uid != 0 && st->st_uid != geteuid())
        return "belongs to another user";
    if ((st->st_mode & 022) && !(dir && (st->st_mode & S_ISVTX)))
        return "can be changed by group or others";
    return NULL;
}

/* The configuration decides which PKCS#11 module is loaded into the
 * process that holds the PIN, and whom it trusts (ca_file,
 * authority_host): like ssh with its config, a file (or directory) that
 * someone else can change is refused. */
static ek_err
cfg_check_owner(struct ek_ctx *ctx, const char *path)
{
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/'), *why;
    struct stat st;

    if (stat(path, &st) != 0)
        return EK_OK; /* the reader says why */
    if ((why = cfg_unsafe(&st, 0)) != NULL)
        return ek_seterr(ctx, EK_ERR_CONFIG,
                         "config file '%s' %s (mode "
                         "%04o, uid %u); it decides which PKCS#11 module is "
                         "loaded, so it was not read. Run chmod 600 '%s' "
                         "(and make it yours)",
                         path, why, (unsigned)(st.st_mode & 07777),
                         (unsigned)st.st_uid, path);
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if (snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path) >=
             (int)sizeof dir)
        return ek_seterr(ctx, EK_ERR_CONFIG, "path '%s' is too long", path);
    if (stat(dir, &st) == 0 && (why = cfg_unsafe(&st, 1)) != NULL)
        return ek_seterr(ctx, EK_ERR_CONFIG,
                         "the directory '%s' of config "
                         "file '%s' %s (mode %04o, uid %u), so the file could "
                         "be replaced; it was not read. Run chmod go-w '%s' "
                         "(or move the file)",
                         dir, path, why, (unsigned)(st.st_mode & 07777),
                         (unsigned)st.st_uid, dir);
    return EK_OK;
}

ek_err
ek_config_load(struct ek_ctx *ctx, const char *path, int missing_ok,
               struct ek_config **cfgp)
{
    unsigned char *text = NULL;
    size_t len = 0;
    ek_err r = EK_ERR_IO;

    if (cfgp == NULL || path == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE, "ek_config_load: no path");
    *cfgp = NULL;
    if (access(path, F_OK) != 0 && errno == ENOENT) {
        if (!missing_ok)
            return ek_seterr(ctx, EK_ERR_CONFIG,
                             "config file '%s' does not "
                             "exist",
                             path);
        if ((*cfgp = ek_calloc(ctx, 1, sizeof **cfgp)) == NULL)
            return EK_ERR_INTERNAL;
        return EK_OK;
    }
    if ((r = cfg_check_owner(ctx, path)) != EK_OK)
        goto out;
    if ((r = ek_file_read(ctx, path, CFG_FILE_MAX, &text, &len)) != EK_OK)
        goto out;
    r = cfg_parse(ctx, path, (const char *)text, len, cfgp);
out:
    free(text);
    return r;
}

/* ---------------------------------------------------------------- save */

struct buf {
    char *p;
    size_t len, cap;
    int oom;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
    char *np;
    size_t ncap;

    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        ncap = (b->cap == 0 ? 1024 : b->cap);
        while (ncap < b->len + n + 1)
            ncap *= 2;
        if ((np = realloc(b->p, ncap)) == NULL) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static void
buf_entry(struct buf *b, const struct cfg_entry *e)
{
    buf_str(b, e->key);
    buf_str(b, " = ");
    buf_str(b, e->value);
    buf_str(b, "\n");
}

/* The line after which new keys of a loaded profile go: its last key. */
static int
profile_last_line(const struct ek_config *cfg, const char *profile)
{
    size_t i;
    int last = 0;

    for (i = 0; i < cfg->n; i++)
        if (cfg->e[i].line > last && strcmp(cfg->e[i].profile, profile) == 0)
            last = cfg->e[i].line;
    return last;
}

static void
add_new_entries(struct buf *b, const struct ek_config *cfg, const char *profile)
{
    size_t i;

    for (i = 0; i < cfg->n; i++)
        if (cfg->e[i].line == 0 && cfg->e[i].value != NULL &&
            strcmp(cfg->e[i].profile, profile) == 0)
            buf_entry(b, &cfg->e[i]);
}

ek_err
cfg_render(struct ek_ctx *ctx, const struct ek_config *cfg, char **textp,
           size_t *lenp)
{
    struct buf b;
    const struct cfg_entry *e;
    size_t i, j, k;
    int line;

    memset(&b, 0, sizeof b);
    *textp = NULL;
    *lenp = 0;
    if (cfg->nlines == 0)
        buf_str(&b, "# entrakey profiles: [profile NAME] sections of "
                    "key = value (see entrakey(1), FILES)\n");
    for (i = 0; i < cfg->nlines; i++) {
        line = (int)i + 1;
        e = NULL;
        for (k = 0; k < cfg->n; k++)
            if (cfg->e[k].line == line)
                e = &cfg->e[k];
        if (e == NULL || !e->changed) {
            buf_str(&b, cfg->lines[i]);
            buf_str(&b, "\n");
        } else if (e->value != NULL) {
            buf_entry(&b, e);
        }
        for (j = 0; j < cfg->nprofiles; j++)
            if (profile_last_line(cfg, cfg->profiles[j]) == line)
                add_new_entries(&b, cfg, cfg->profiles[j]);
    }
    for (j = 0; j < cfg->nprofiles; j++) {
        if (profile_last_line(cfg, cfg->profiles[j]) != 0 ||
            !profile_live(cfg, cfg->profiles[j]))
            continue;
        buf_str(&b, "\n[profile ");
        buf_str(&b, cfg->profiles[j]);
        buf_str(&b, "]\n");
        add_new_entries(&b, cfg, cfg->profiles[j]);
    }
    if (b.oom || b.p == NULL) {
        free(b.p);
        return ek_seterr_oom(ctx);
    }
    *textp = b.p;
    *lenp = b.len;
    return EK_OK;
}

/* mkdir -p with mode 0700 for the directories it creates. */
static ek_err
make_parent_dirs(struct ek_ctx *ctx, const char *path)
{
    char dir[PATH_MAX];
    char *p;

    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return ek_seterr(ctx, EK_ERR_IO, "path '%s' is too long", path);
    if ((p = strrchr(dir, '/')) == NULL || p == dir)
        return EK_OK;
    *p = '\0';
    for (p = dir + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return ek_seterr(ctx, EK_ERR_IO,
                             "cannot create directory '%s' "
                             "for '%s': %s",
                             dir, path, strerror(errno));
        *p = '/';
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return ek_seterr(ctx, EK_ERR_IO,
                         "cannot create directory '%s' for "
                         "'%s': %s",
                         dir, path, strerror(errno));
    return EK_OK;
}

ek_err
ek_config_save(struct ek_ctx *ctx, const struct ek_config *cfg,
               const char *path)
{
    char *text = NULL;
    size_t len = 0;
    ek_err r = EK_ERR_IO;

    if (cfg == NULL || path == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_config_save: no config or "
                         "path");
    if ((r = cfg_render(ctx, cfg, &text, &len)) != EK_OK)
        goto out;
    if ((r = make_parent_dirs(ctx, path)) != EK_OK)
        goto out;
    r = ek_file_write_atomic(ctx, path, text, len, 0600, EK_WRITE_FORCE);
out:
    free(text);
    return r;
}

ek_err
ek_config_default_path(struct ek_ctx *ctx, char **pathp)
{
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char *p;
    size_t n;

    if (pathp == NULL)
        return ek_seterr(ctx, EK_ERR_USAGE,
                         "ek_config_default_path: no "
                         "place for the path");
    *pathp = NULL;
    /* the XDG spec ignores a relative XDG_CONFIG_HOME */
    if (xdg != NULL && xdg[0] == '/') {
        n = strlen(xdg) + sizeof "/entrakey/config";
        if ((p = ek_calloc(ctx, 1, n)) == NULL)
            return EK_ERR_INTERNAL;
        snprintf(p, n, "%s/entrakey/config", xdg);
    } else if (home != NULL && home[0] != '\0') {
        n = strlen(home) + sizeof "/.config/entrakey/config";
        if ((p = ek_calloc(ctx, 1, n)) == NULL)
            return EK_ERR_INTERNAL;
        snprintf(p, n, "%s/.config/entrakey/config", home);
    } else {
        return ek_seterr(ctx, EK_ERR_CONFIG,
                         "no config file path: neither "
                         "XDG_CONFIG_HOME nor HOME is set");
    }
    *pathp = p;
    return EK_OK;
}
