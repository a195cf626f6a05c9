#include "drain/skills.h"
#include "drain/audit.h"
#include "common/log.h"
#include "common/protocol.h"
#include "common/statedir.h"
#include "common/json.h"
#include "common/errmsg.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BETA_LEGACY_SKILLS "skills-2025-10-02"
#define OP_WALL_MS 300000L

static int
all_digits(const char *s)
{
  if(!*s)
    return 0;
  for(; *s; s++)
    if(!isdigit((unsigned char)*s))
      return 0;
  return 1;
}

static cJSON *
get_json(struct api *api, const char *token, const char *path, const char *beta, long *status)
{
  struct api_req rq = { 0 };

  rq.method = "GET";
  rq.path = path;
  rq.token = token;
  rq.beta = beta;
  rq.max_retries = 2;
  return api_json(api, &rq, status, NULL);
}

/* The directory name: the basename of the version's name, trimmed, or the
 * skill id when that leaves nothing usable. */
static void
dir_name(const char *name, const char *skill_id, char *out, size_t cap)
{
  const char *b = name ? strrchr(name, '/') : NULL, *e;

  b = b ? b + 1 : name ? name : "";
  while(isspace((unsigned char)*b))
    b++;
  e = b + strlen(b);
  while(e > b && isspace((unsigned char)e[-1]))
    e--;
  if(e == b || (e - b == 1 && *b == '.') || (e - b == 2 && !strncmp(b, "..", 2)) ||
     (size_t)(e - b) >= cap)
    snprintf(out, cap, "%s", skill_id);
  else
    snprintf(out, cap, "%.*s", (int)(e - b), b);
}

int
skill_version_take(const cJSON *v, const char *skill_id, int legacy, struct skill_version *out)
{
  const char *id = json_str(v, "id");
  const cJSON *num = cJSON_GetObjectItemCaseSensitive(v, "version");
  char numbuf[32];
  const char *ref = NULL;

  /* An empty id or version counts as none: it would ask for
   * .../versions//content. */
  if(id && !*id)
    id = NULL;
  if(!legacy && id)
    ref = id;
  else if(cJSON_IsString(num))
    ref = num->valuestring;
  else if(cJSON_IsNumber(num)) {
    snprintf(numbuf, sizeof(numbuf), "%.0f", num->valuedouble);
    ref = numbuf;
  }
  if(!ref || !*ref || strlen(ref) >= sizeof(out->ref))
    return -1;
  out->legacy = legacy || !id;
  snprintf(out->ref, sizeof(out->ref), "%s", ref);
  dir_name(json_str(v, "name"), skill_id,
           out->name, sizeof(out->name));
  return 0;
}

/* The digits of s past its leading zeros ("0" stays "0"). */
static const char *
significant(const char *s)
{
  while(s[0] == '0' && s[1])
    s++;
  return s;
}

void
skill_version_best(const cJSON *page, char *best, size_t cap)
{
  const cJSON *v;

  cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(page, "data")) {
    const char *num = json_str(v, "version"), *a, *b;

    if(!num || !all_digits(num) || strlen(num) >= cap)
      continue;
    /* By value: more significant digits, or as many and larger ("10" over
     * "009", which a comparison of lengths alone would take). */
    a = significant(num);
    b = significant(best);
    if(!*best || strlen(a) > strlen(b) || (strlen(a) == strlen(b) && strcmp(a, b) > 0))
      snprintf(best, cap, "%s", num);
  }
}

/* A legacy server rejects aliases on its per-version endpoints: list the
 * versions (every page) and take the largest numeric one. */
static int
latest_legacy(struct api *api, const char *token, const char *id_esc, char *out, size_t cap)
{
  char path[512], best[32] = "";
  char *page = NULL;
  long status;
  int pages;

  for(pages = 0; pages < 100; pages++) {
    cJSON *root;
    const cJSON *next;

    snprintf(path, sizeof(path), "/v1/skills/%s/versions?limit=100%s%s", id_esc,
             page ? "&page=" : "", page ? page : "");
    free(page);
    page = NULL;
    root = get_json(api, token, path, BETA_LEGACY_SKILLS, &status);
    if(!root)
      return -1;
    skill_version_best(root, best, sizeof(best));
    next = cJSON_GetObjectItemCaseSensitive(root, "next_page");
    if(cJSON_IsString(next) && *next->valuestring)
      page = api_escape(api, next->valuestring);
    cJSON_Delete(root);
    if(!page)
      break;
  }
  free(page);
  if(!best[0])
    return -1;
  snprintf(out, cap, "%s", best);
  return 0;
}

static int
resolve(struct api *api, const char *token, const char *skill_id, const char *id_esc,
        const char *version, struct skill_version *out, struct errmsg *why)
{
  char path[512], latest[32];
  char *v_esc = api_escape(api, version);
  cJSON *root;
  long status;
  int rc;

  if(!v_esc) {
    errmsg_set(why, "out of memory");
    return -1;
  }
  snprintf(path, sizeof(path), "/v1/skills/%s/versions/%s", id_esc, v_esc);
  free(v_esc);
  root = get_json(api, token, path, NULL, &status);
  if(root) {
    rc = skill_version_take(root, skill_id, 0, out);
    cJSON_Delete(root);
    if(rc < 0)
      errmsg_set(why, "the version has neither an id nor a version");
    return rc;
  }
  if(all_digits(version) || (status != 400 && status != 404 && status != 422)) {
    errmsg_set(why, "retrieving version %s answered %ld", version, status);
    return -1;
  }
  if(latest_legacy(api, token, id_esc, latest, sizeof(latest)) < 0) {
    errmsg_set(why, "version %s answered %ld and no numeric version was listed",
             version, status);
    return -1;
  }
  snprintf(path, sizeof(path), "/v1/skills/%s/versions/%s", id_esc, latest);
  root = get_json(api, token, path, BETA_LEGACY_SKILLS, &status);
  rc = root ? skill_version_take(root, skill_id, 1, out) : -1;
  cJSON_Delete(root);
  if(rc < 0)
    errmsg_set(why, "retrieving version %s answered %ld", latest, status);
  return rc;
}

/* Downloads to an unlinked file in the state directory; the descriptor,
 * or -1 with why. */
static int
download(const struct config *cfg, struct api *api, const char *token, const char *id_esc,
         const struct skill_version *v, struct errmsg *why)
{
  char path[512];
  char *ref_esc = api_escape(api, v->ref);
  struct api_req rq = { 0 };
  struct api_resp r;
  int fd, rc;

  if(!ref_esc) {
    errmsg_set(why, "out of memory");
    return -1;
  }
  fd = open(cfg->state_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if(fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
    /* A filesystem without O_TMPFILE: a named file, unlinked at once. */
    char tmp[PATH_MAX];

    if(statedir_path(tmp, sizeof(tmp), cfg->state_dir, ".skill-XXXXXX") == 0 &&
       (fd = mkostemp(tmp, O_CLOEXEC)) >= 0)
      unlink(tmp);
  }
  if(fd < 0) {
    errmsg_set(why, "cannot make a temporary file in %s: %s", cfg->state_dir,
             strerror(errno));
    free(ref_esc);
    return -1;
  }
  snprintf(path, sizeof(path), "/v1/skills/%s/versions/%s/content", id_esc, ref_esc);
  free(ref_esc);
  rq.method = "GET";
  rq.path = path;
  rq.token = token;
  rq.beta = v->legacy ? BETA_LEGACY_SKILLS : NULL;
  rq.accept = "application/binary";
  rq.timeout_ms = 300000;
  rq.max_retries = 2;
  rc = api_download(api, &rq, fd, (size_t)cfg->skill_max_mb << 20, &r);
  if(rc < 0 || r.status != 200) {
    errmsg_set(why, "download answered %ld (%s)", r.status, r.error[0] ? r.error : "-");
    api_resp_free(&r);
    close(fd);
    return -1;
  }
  api_resp_free(&r);
  return fd;
}

static int
unpack_in_jail(const struct config *cfg, struct jail *j, const char *skill_id,
               const struct skill_version *v, int fd, struct errmsg *why)
{
  cJSON *req = cJSON_CreateObject(), *res = NULL, *e;
  enum jail_rc rc;
  const char *err;

  if(!req) {
    errmsg_set(why, "out of memory");
    return -1;
  }
  cJSON_AddNumberToObject(req, "op", JAIL_OP_SKILL_INSTALL);
  cJSON_AddStringToObject(req, "name", v->name);
  cJSON_AddNumberToObject(req, "max_bytes", (double)cfg->skill_max_mb * 1048576.0);
  cJSON_AddNumberToObject(req, "max_entries", (double)cfg->skill_max_entries);
  rc = jail_request(j, req, fd, OP_WALL_MS, NULL, NULL, &res);
  cJSON_Delete(req);
  if(rc != JAIL_OK) {
    errmsg_set(why, "the sandbox stopped responding");
    return -1;
  }
  cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(res, "refused"))
    log_warn("skill_entry_refused", "skill_id=%s name=%s entry=%s reason=%s", skill_id,
             v->name, json_str(e, "entry"),
             json_str(e, "reason"));
  err = json_str(res, "error");
  if(json_true(res, "is_error")) {
    errmsg_set(why, "%s", err ? err : "unpacking failed");
    cJSON_Delete(res);
    return -1;
  }
  log_info("skill_installed", "skill_id=%s version=%s dir=/workspace/skills/%s files=%.0f",
           skill_id, v->ref, v->name,
           cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(res, "files")));
  audit_event("skill_installed", "skill_id", skill_id, "version", v->ref, "name", v->name, NULL);
  cJSON_Delete(res);
  return 0;
}

static int
install_one(const struct config *cfg, struct api *api, const char *token, const cJSON *skill,
            struct jail *j, char *name_out)
{
  const char *skill_id = json_str(skill, "skill_id");
  const cJSON *ver = cJSON_GetObjectItemCaseSensitive(skill, "version");
  char version[64];
  struct errmsg why = ERRMSG_INIT;
  struct skill_version v;
  char *id_esc;
  int fd, rc = -1;

  if(!skill_id || !*skill_id) {
    log_warn("skill_failed", "reason=%s", "no skill_id");
    return -1;
  }
  if(cJSON_IsNumber(ver))
    snprintf(version, sizeof(version), "%.0f", ver->valuedouble);
  else
    snprintf(version, sizeof(version), "%s", cJSON_IsString(ver) ? ver->valuestring : "latest");
  id_esc = api_escape(api, skill_id);
  if(!id_esc)
    errmsg_set(&why, "out of memory");
  else if(resolve(api, token, skill_id, id_esc, version, &v, &why) == 0 &&
          (fd = download(cfg, api, token, id_esc, &v, &why)) >= 0) {
    rc = unpack_in_jail(cfg, j, skill_id, &v, fd, &why);
    close(fd);
  }
  free(id_esc);
  if(rc < 0)
    log_warn("skill_failed", "skill_id=%s version=%s reason=%s", skill_id, version, why.text);
  else
    snprintf(name_out, NAME_MAX + 1, "%s", v.name);
  return rc;
}

cJSON *
skills_install(const struct config *cfg, struct api *api, const char *token,
               const cJSON *session, struct jail *j)
{
  const cJSON *agent = cJSON_GetObjectItemCaseSensitive(session, "agent");
  const cJSON *skill;
  cJSON *installed = NULL;

  cJSON_ArrayForEach(skill, cJSON_GetObjectItemCaseSensitive(agent, "skills")) {
    char name[NAME_MAX + 1];

    if(install_one(cfg, api, token, skill, j, name) < 0)
      continue;
    if(!installed)
      installed = cJSON_CreateArray();
    if(installed)
      cJSON_AddItemToArray(installed, cJSON_CreateString(name));
  }
  return installed;
}

void
skills_remove(struct jail *j, cJSON *installed)
{
  cJSON *req, *res = NULL;

  if(!installed)
    return;
  req = cJSON_CreateObject();
  if(req) {
    cJSON_AddNumberToObject(req, "op", JAIL_OP_SKILLS_REMOVE);
    cJSON_AddItemToObject(req, "names", installed);
    installed = NULL;
    if(jail_request(j, req, -1, OP_WALL_MS, NULL, NULL, &res) != JAIL_OK)
      log_warn("skills_remove_failed", "reason=%s", "the sandbox stopped responding");
  }
  cJSON_Delete(res);
  cJSON_Delete(req);
  cJSON_Delete(installed);
}
