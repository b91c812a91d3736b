/* test_config.c: profiles: parsing, errors naming the line, editing, saving
 * with comments kept, the default path. */

#include "unit.h"
#include "config.h"

static char dir[256];

static ek_err
parse(struct ek_ctx *ctx, const char *text, struct ek_config **cfg)
{
    return cfg_parse(ctx, "FILE", text, strlen(text), cfg);
}

static void
test_sections(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_config *cfg = NULL;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(parse(ctx,
                 "# comment\n"
                 "; another\n"
                 "[profile prod]\n"
                 "tenant = contoso.onmicrosoft.com\n"
                 "client_id=11111111-2222-3333-4444-555555555555\n"
                 "key = pkcs11:token=hsm;object=app;type=private\n"
                 "\n"
                 "[test]\r\n"
                 "  cloud = usgov   \r\n"
                 "resource: graph ; inline comment\n",
                 &cfg) == EK_OK);
    assert(ek_config_profile_count(cfg) == 2);
    assert(strcmp(ek_config_profile_name(cfg, 0), "prod") == 0);
    assert(strcmp(ek_config_profile_name(cfg, 1), "test") == 0);
    assert(ek_config_profile_name(cfg, 2) == NULL);
    assert(strcmp(ek_config_get(cfg, "prod", "tenant"),
                  "contoso.onmicrosoft.com") == 0);
    assert(strcmp(ek_config_get(cfg, "prod", "client_id"),
                  "11111111-2222-3333-4444-555555555555") == 0);
    /* ';' inside a value (a PKCS#11 URI) is not a comment */
    assert(strcmp(ek_config_get(cfg, "prod", "key"),
                  "pkcs11:token=hsm;object=app;type=private") == 0);
    assert(strcmp(ek_config_get(cfg, "test", "cloud"), "usgov") == 0);
    assert(strcmp(ek_config_get(cfg, "test", "resource"), "graph") == 0);
    assert(ek_config_get(cfg, "test", "tenant") == NULL);
    assert(ek_config_get(cfg, "nope", "tenant") == NULL);
    ek_config_free(&cfg);
    assert(cfg == NULL);

    assert(parse(ctx, "", &cfg) == EK_OK);
    assert(ek_config_profile_count(cfg) == 0);
    ek_config_free(&cfg);
    ek_ctx_free(&ctx);
}

static void
test_errors(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_config *cfg = NULL;
    char longline[400];

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(parse(ctx, "[profile a]\ntenant = t\n\ntennant = t\n", &cfg) ==
           EK_ERR_CONFIG);
    assert(cfg == NULL);
    assert(ut_has(ctx, "config FILE line 4: unknown key 'tennant' (known: "
                       "tenant, client_id, key,"));

    assert(parse(ctx, "[profile a]\ntenant = t\nthis is not ini\n", &cfg) ==
           EK_ERR_CONFIG);
    assert(ut_has(ctx, "config FILE line 3: not understood"));

    /* the first error wins, whichever kind */
    assert(parse(ctx, "[a]\nbogus line\nfoo = 1\n", &cfg) == EK_ERR_CONFIG);
    assert(ut_has(ctx, "line 2: not understood"));
    assert(parse(ctx, "[a]\nfoo = 1\nbogus line\n", &cfg) == EK_ERR_CONFIG);
    assert(ut_has(ctx, "line 2: unknown key 'foo'"));

    assert(parse(ctx, "tenant = t\n", &cfg) == EK_ERR_CONFIG);
    assert(ut_has(ctx, "line 1: 'tenant' is outside a [profile NAME] section"));

    assert(parse(ctx, "[profile a]\ntenant = t\n[a]\nscope = s\n", &cfg) ==
           EK_ERR_CONFIG);
    assert(ut_has(ctx, "line 4: profile 'a' appears a second time (first at "
                       "line 2)"));

    assert(parse(ctx, "[profile a]\ntenant = t\ntenant = u\n", &cfg) ==
           EK_ERR_CONFIG);
    assert(ut_has(ctx, "line 3: 'tenant' is given a second time"));
    /* a continuation line is refused the same way */
    assert(parse(ctx, "[profile a]\ntenant = t\n  more\n", &cfg) ==
           EK_ERR_CONFIG);
    assert(ut_has(ctx, "line 3"));

    assert(parse(ctx, "[profile a]\ncloud = mars\n", &cfg) == EK_ERR_CONFIG);
    assert(ut_has(ctx, "line 2: cloud 'mars' is not one of global"));
    assert(parse(ctx, "[profile a]\nalg = ES256\n", &cfg) == EK_ERR_CONFIG);
    assert(ut_has(ctx, "line 2: alg 'ES256'"));
    assert(parse(ctx, "[profile a b]\ntenant = t\n", &cfg) == EK_ERR_CONFIG);
    assert(ut_has(ctx, "profile name 'a b'"));
    assert(parse(ctx, "[profile a]\ntenant =\n", &cfg) == EK_ERR_CONFIG);
    assert(ut_has(ctx, "line 2: the value of 'tenant' is empty"));

    memset(longline, 'x', sizeof longline);
    memcpy(longline, "[profile a]\ntenant = ", 21);
    longline[sizeof longline - 2] = '\n';
    longline[sizeof longline - 1] = '\0';
    assert(parse(ctx, longline, &cfg) == EK_ERR_CONFIG);
    assert(ut_has(ctx, "config FILE line 2 is longer than"));

    assert(cfg_parse(ctx, "FILE", "[a]\ntenant = t\0x\n", 17, &cfg) ==
           EK_ERR_CONFIG);
    assert(ut_has(ctx, "line 2: a NUL byte"));
    ek_ctx_free(&ctx);
}

static void
test_set_values(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_config *cfg = NULL;
    char big[300];

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(parse(ctx, "", &cfg) == EK_OK);
    assert(ek_config_set(ctx, cfg, "p", "tenant", "t.example") == EK_OK);
    assert(ek_config_set(ctx, cfg, "p", "colour", "blue") == EK_ERR_USAGE);
    assert(ut_has(ctx, "unknown key 'colour' (known:"));
    assert(ek_config_set(ctx, cfg, "bad name", "tenant", "x") == EK_ERR_USAGE);
    assert(ut_has(ctx, "profile name 'bad name'"));
    assert(ek_config_set(ctx, cfg, "p", "scope", "a ;b") == EK_ERR_USAGE);
    assert(ut_has(ctx, "comment"));
    assert(ek_config_set(ctx, cfg, "p", "scope", " a") == EK_ERR_USAGE);
    assert(ek_config_set(ctx, cfg, "p", "scope", "a\nb") == EK_ERR_USAGE);
    assert(ut_has(ctx, "control character"));
    assert(ek_config_set(ctx, cfg, "p", "resource", "mail") == EK_ERR_USAGE);
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert(ek_config_set(ctx, cfg, "p", "key", big) == EK_ERR_USAGE);
    assert(ut_has(ctx, "a config line holds at most"));
    /* NULL removes; the profile disappears with its last key */
    assert(ek_config_profile_count(cfg) == 1);
    assert(ek_config_set(ctx, cfg, "p", "tenant", NULL) == EK_OK);
    assert(ek_config_get(cfg, "p", "tenant") == NULL);
    assert(ek_config_profile_count(cfg) == 0);
    ek_config_free(&cfg);
    ek_ctx_free(&ctx);
}

static void
test_render_keeps_comments(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_config *cfg = NULL, *again = NULL;
    const char *in = "# my profiles\n"
                     "[profile prod]\n"
                     "tenant = old.example ; was the old tenant\n"
                     "scope = https://x/.default\n"
                     "\n"
                     "# the test one\n"
                     "[dev]\n"
                     "cloud = china\n";
    char *out = NULL;
    size_t len = 0;

    assert(ek_ctx_new(&ctx) == EK_OK);
    assert(parse(ctx, in, &cfg) == EK_OK);
    assert(ek_config_set(ctx, cfg, "prod", "tenant", "new.example") == EK_OK);
    assert(ek_config_set(ctx, cfg, "prod", "scope", NULL) == EK_OK);
    assert(ek_config_set(ctx, cfg, "prod", "alg", "RS256") == EK_OK);
    assert(ek_config_set(ctx, cfg, "dev", "resource", "graph") == EK_OK);
    assert(ek_config_set(ctx, cfg, "new", "client_id", "abc") == EK_OK);
    assert(cfg_render(ctx, cfg, &out, &len) == EK_OK);
    assert(strcmp(out, "# my profiles\n"
                       "[profile prod]\n"
                       "tenant = new.example\n"
                       "alg = RS256\n"
                       "\n"
                       "# the test one\n"
                       "[dev]\n"
                       "cloud = china\n"
                       "resource = graph\n"
                       "\n"
                       "[profile new]\n"
                       "client_id = abc\n") == 0);
    /* what is written reads back the same */
    assert(cfg_parse(ctx, "out", out, len, &again) == EK_OK);
    assert(strcmp(ek_config_get(again, "prod", "tenant"), "new.example") == 0);
    assert(ek_config_get(again, "prod", "scope") == NULL);
    assert(strcmp(ek_config_get(again, "new", "client_id"), "abc") == 0);
    assert(ek_config_profile_count(again) == 3);
    free(out);
    ek_config_free(&again);
    ek_config_free(&cfg);
    ek_ctx_free(&ctx);
}

static void
test_load_save(void)
{
    struct ek_ctx *ctx = NULL;
    struct ek_config *cfg = NULL;
    char path[512], sub[512];
    struct stat st;

    assert(ek_ctx_new(&ctx) == EK_OK);
    snprintf(path, sizeof path, "%s/a/b/config", dir);
    assert(ek_config_load(ctx, path, 0, &cfg) == EK_ERR_CONFIG);
    assert(ut_has(ctx, "does not exist") && ut_has(ctx, path));
    assert(ek_config_load(ctx, path, 1, &cfg) == EK_OK);
    assert(ek_config_profile_count(cfg) == 0);
    assert(ek_config_set(ctx, cfg, "p", "tenant", "t.example") == EK_OK);
    assert(ek_config_save(ctx, cfg, path) == EK_OK);
    ek_config_free(&cfg);
    assert(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    snprintf(sub, sizeof sub, "%s/a/b", dir);
    assert(stat(sub, &st) == 0 && (st.st_mode & 0777) == 0700);
    assert(ek_config_load(ctx, path, 0, &cfg) == EK_OK);
    assert(strcmp(ek_config_get(cfg, "p", "tenant"), "t.example") == 0);
    ek_config_free(&cfg);
    /* a directory where the file should be */
    assert(ek_config_load(ctx, sub, 0, &cfg) == EK_ERR_IO);
    ek_ctx_free(&ctx);
}

static void
test_default_path(void)
{
    struct ek_ctx *ctx = NULL;
    char *p = NULL;

    assert(ek_ctx_new(&ctx) == EK_OK);
    setenv("XDG_CONFIG_HOME", "/x/conf", 1);
    setenv("HOME", "/home/u", 1);
    assert(ek_config_default_path(ctx, &p) == EK_OK);
    assert(strcmp(p, "/x/conf/entrakey/config") == 0);
    ek_free(p);
    setenv("XDG_CONFIG_HOME", "relative", 1); /* ignored, as XDG says */
    assert(ek_config_default_path(ctx, &p) == EK_OK);
    assert(strcmp(p, "/home/u/.config/entrakey/config") == 0);
    ek_free(p);
    unsetenv("XDG_CONFIG_HOME");
    unsetenv("HOME");
    assert(ek_config_default_path(ctx, &p) == EK_ERR_CONFIG);
    assert(p == NULL && ut_has(ctx, "neither XDG_CONFIG_HOME nor HOME"));
    assert(strstr(ek_ctx_errmsg(ctx), "--") == NULL); /* no CLI flags */
    ek_ctx_free(&ctx);
}

int
main(void)
{
    ut_tmpdir(dir, sizeof dir, "test_config");
    test_sections();
    test_errors();
    test_set_values();
    test_render_keeps_comments();
    test_load_save();
    test_default_path();
    ut_rmtree(dir);
    printf("test_config: ok\n");
    return 0;
}
