/* Settings from a file and the environment; secret files and their modes. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/fsutil.h"
#include "tap.h"

static char dir[64];

static const char *
put(const char *name, const char *text, mode_t mode)
{
  static char path[8][256];
  static int k;
  char *p = path[k++ % 8];
  int fd;

  snprintf(p, 256, "%s/%s", dir, name);
  unlink(p);
  fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if(fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
    exit(99);
  fchmod(fd, mode);
  close(fd);
  return p;
}

int
main(void)
{
  struct config cfg;
  struct errmsg err = ERRMSG_INIT;
  char text[512];
  const char *f, *key;

  snprintf(dir, sizeof(dir), "/tmp/sandhook-config-XXXXXX");
  if(!mkdtemp(dir))
    return 99;
  unsetenv("SANDHOOK_CONFIG");

  f = put("plain.conf", "# comment\nANTHROPIC_ENVIRONMENT_ID = env_1\nSANDHOOK_MAX_SESSIONS=7\n", 0644);
  ok(config_load(&cfg, f, &err) == 0, "plain config loads (%s)", err.text);
  is_str(cfg.environment_id, "env_1", "value trimmed");
  is_int(cfg.max_sessions, 7, "integer setting");
  is_str(cfg.base_url, "https://api.anthropic.com", "default base URL");
  is_str(cfg.state_dir, "/var/lib/sandhook", "default state dir");
  is_int(cfg.max_body, 1 << 20, "default body cap 1 MiB");
  {
    /* A value past the read buffer must not leave its tail to be parsed as
     * a setting of its own. */
    static char smuggle[20000];
    const char *lf;
    size_t n;

    n = (size_t)snprintf(smuggle, sizeof(smuggle), "ANTHROPIC_ENVIRONMENT_ID=env_");
    memset(smuggle + n, 'x', 8190 - n);
    snprintf(smuggle + 8190, sizeof(smuggle) - 8190, "SANDHOOK_JAIL_NETWORK=host\n");
    lf = put("long.conf", smuggle, 0600);
    config_free(&cfg);
    ok(config_load(&cfg, lf, &err) < 0 && strstr(err.text, "long.conf:1: line longer than"),
       "an overlong line is refused, naming the file and line (%s)", err.text);
    ok(!cfg.jail_network_host, "  ...and its tail set nothing");
  }
  config_free(&cfg);

  setenv("SANDHOOK_MAX_SESSIONS", "3", 1);
  setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/", 1);
  ok(config_load(&cfg, f, &err) == 0, "environment overrides the file");
  is_int(cfg.max_sessions, 3, "env wins");
  is_str(cfg.base_url, "http://127.0.0.1:9", "trailing slash dropped");
  config_free(&cfg);
  unsetenv("SANDHOOK_MAX_SESSIONS");
  unsetenv("ANTHROPIC_BASE_URL");

  f = put("secret.conf", "ANTHROPIC_ENVIRONMENT_KEY=sk-ant-oat01-x\n", 0644);
  ok(config_load(&cfg, f, &err) < 0 && strstr(err.text, "readable by group or others"),
     "a world-readable config holding a secret is refused: %s", err.text);
  ok(strstr(err.text, "sk-ant") == NULL, "the error does not echo the secret");
  f = put("secret.conf", "ANTHROPIC_ENVIRONMENT_KEY=sk-ant-oat01-x\n", 0600);
  ok(config_load(&cfg, f, &err) == 0, "the same config at 0600 loads");
  is_str(cfg.environment_key, "sk-ant-oat01-x", "secret read");
  config_free(&cfg);

  key = put("key", "whsec_c2VjcmV0Cg==\n", 0640);
  snprintf(text, sizeof(text), "ANTHROPIC_WEBHOOK_SIGNING_KEY_FILE=%s\n", key);
  f = put("file.conf", text, 0644);
  ok(config_load(&cfg, f, &err) < 0 && strstr(err.text, "mode 0640"),
     "a group-readable secret file is refused: %s", err.text);
  key = put("key", "whsec_c2VjcmV0Cg==\n", 0600);
  ok(config_load(&cfg, f, &err) == 0, "a 0600 secret file is read");
  is_str(cfg.signing_key, "whsec_c2VjcmV0Cg==", "newline dropped from the secret file");
  config_free(&cfg);

  f = put("bad.conf", "SANDHOOK_MAX_SESSIONS=lots\n", 0644);
  ok(config_load(&cfg, f, &err) < 0 && strstr(err.text, "bad.conf:1"),
     "a bad integer names the file and line: %s", err.text);
  f = put("bad.conf", "SANDHOOK_NO_SUCH=1\n", 0644);
  ok(config_load(&cfg, f, &err) < 0 && strstr(err.text, "unknown setting"),
     "an unknown setting is refused: %s", err.text);
  f = put("bad.conf", "SANDHOOK_JAIL_NETWORK=bridge\n", 0644);
  ok(config_load(&cfg, f, &err) < 0, "an unknown network policy is refused");
  f = put("bad.conf", "SANDHOOK_STATE_DIR=relative\n", 0644);
  ok(config_load(&cfg, f, &err) < 0, "a relative state dir is refused");
  ok(config_load(&cfg, "/nonexistent/sandhook.conf", &err) < 0,
     "a named config file that does not exist is an error");
  remove_tree(dir);
  return tap_done();
}
