/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

#define RED_TYPE_WORKER (red_worker_get_type ())
G_DECLARE_FINAL_TYPE (RedWorker, red_worker, RED, WORKER, GObject)

/**
 * RedWorker:
 *
 * The thread of one #RedDisplay, with its own #GMainContext and loop,
 * running that display's #RedDisplayChannel and #RedCursorChannel. The
 * display's requests reach it through its dispatcher. It runs while its
 * server runs; red_server_stop() and the server's last unref stop and join
 * it.
 */

/**
 * RedWorker:display-id:
 *
 * The id of the display this worker runs.
 */

/**
 * RedWorker:main-context:
 *
 * The worker thread's own #GMainContext.
 */

/**
 * RedWorker:thread-id:
 *
 * The kernel id of the worker thread while it runs; of the main thread,
 * which then holds the display's state, while it is stopped.
 */

/**
 * RedWorker:running:
 *
 * Whether the worker thread runs.
 */

/**
 * red_worker_get_display_id:
 * @worker: a #RedWorker
 *
 * Gets the id of the display whose channels @worker runs.
 *
 * Returns: the id of the worker's display
 */
guint red_worker_get_display_id (RedWorker *worker);

/**
 * red_worker_get_main_context:
 * @worker: a #RedWorker
 *
 * Gets the worker thread's context. Never iterate it yourself.
 *
 * Returns: (transfer none): the worker's #GMainContext
 */
GMainContext *red_worker_get_main_context (RedWorker *worker);

G_END_DECLS
