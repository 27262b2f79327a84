/* static.c — the web page's files, embedded at build time from
 * syncd/api/web/ (build/gen/web_assets.c), served at / and /<file>. */
#include "syncd/api/internal.h"

#include <stdlib.h>
#include <string.h>

const struct web_asset *web_asset_find(const char *path)
{
	if (path[0] == '\0')
		path = "index.html";
	for (size_t i = 0; i < web_nassets; i++)
		if (strcmp(web_assets[i].path, path) == 0)
			return &web_assets[i];
	return NULL;
}

/* GET / and GET /<file>, no login: the page is public, the API behind it is not. */
enum MHD_Result ep_static(struct api *api, struct MHD_Connection *c, struct req *rq,
			  const struct authz_user *me, const char *hole)
{
	const struct web_asset *a = web_asset_find(hole);
	char *copy;

	(void)api;
	(void)me;
	if (a == NULL)
		return respond_error(c, rq, 404, "not_found", "no file /%s", hole);
	copy = malloc(a->len ? a->len : 1);
	if (copy == NULL)
		return respond_error(c, rq, 503, "out_of_memory", "syncd is out of memory; try again");
	memcpy(copy, a->data, a->len);
	rq->is_static = true;
	return respond(c, rq, 200, a->content_type, copy, a->len);
}
