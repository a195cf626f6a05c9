#include "front/settings.h"
#include "common/log.h"

#include <errno.h>
#include <string.h>

int
settings_load(struct front_settings *s, int need, struct errmsg *err)
{
  if(config_load(&s->cfg, s->file, err) < 0)
    return -1;
  if(need && config_require(&s->cfg, need, err) < 0) {
    config_free(&s->cfg);
    return -1;
  }
  return 0;
}

int
settings_reload(struct front_settings *s, struct responder *r)
{
  struct front_settings next = { s->file, { 0 } };
  struct errmsg err = ERRMSG_INIT;
  struct config old;

  if(settings_load(&next, CONFIG_NEED_SIGNING | CONFIG_NEED_WORKER, &err) < 0) {
    log_err("config_reload_failed", "error=%s hint=%s", err.text,
            "still serving with the settings loaded before; fix them and send SIGHUP again");
    return -1;
  }
  old = s->cfg;
  s->cfg = next.cfg;
  responder_init(r, &s->cfg);
  config_free(&old);
  if(log_setup(&s->cfg, 0) < 0)
    log_warn("log_unavailable", "error=%s hint=%s", strerror(errno),
             "check SANDHOOK_LOG, SANDHOOK_LOG_FILE and SANDHOOK_SYSLOG_SOCKET; logging to stderr");
  log_info("config_reloaded", "signing_keys=%d", r->nkeys);
  return 0;
}
