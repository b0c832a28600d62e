/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include <glib.h>

G_BEGIN_DECLS

/**
 * red_debug_get_live_objects:
 * @type_name: a GType name such as "RedClient"
 *
 * Counts the live instances of one of the library's classes, from
 * construction to finalization. Meant for tests that prove every object
 * of a client is finalized after it leaves. May be called from any thread.
 *
 * Returns: the count, or -1 for a class that is not counted
 */
gint64 red_debug_get_live_objects (const gchar *type_name);

G_END_DECLS
