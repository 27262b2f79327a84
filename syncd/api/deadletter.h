/* deadletter.h — the handlers of /v1/deadletter (deadletter.c), for the
 * dispatch table of server.c. */
#ifndef SYNCD_API_DEADLETTER_H
#define SYNCD_API_DEADLETTER_H

#include "syncd/api/internal.h"

/* GET /v1/deadletter?target=&unit=&all=1 */
enum MHD_Result ep_deadletter_list(struct api *api, struct MHD_Connection *c, struct req *rq,
				   const struct authz_user *me, const char *hole);
/* GET /v1/deadletter/{id} */
enum MHD_Result ep_deadletter_get(struct api *api, struct MHD_Connection *c, struct req *rq,
				  const struct authz_user *me, const char *id);
/* POST /v1/deadletter/{id}/retry */
enum MHD_Result ep_deadletter_retry(struct api *api, struct MHD_Connection *c, struct req *rq,
				    const struct authz_user *me, const char *id);
/* POST /v1/deadletter/{id}/discard */
enum MHD_Result ep_deadletter_discard(struct api *api, struct MHD_Connection *c, struct req *rq,
				      const struct authz_user *me, const char *id);

#endif
