/* SPDX-License-Identifier: LGPL-2.1-or-later */

#pragma once

#if !defined(__REDSPICE_H_INSIDE__) && !defined(REDSPICE_COMPILATION)
#error "Only <redspice.h> can be included directly."
#endif

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * RED_ERROR:
 *
 * The error domain of redspice. Errors in this domain are from the
 * #RedError enumeration; their messages are translated.
 */
#define RED_ERROR (red_error_quark ())

/**
 * RedError:
 * @RED_ERROR_FAILED: a failure with no more specific code
 * @RED_ERROR_ADDRESS_IN_USE: the listening socket could not be set up
 * @RED_ERROR_INVALID_ARGUMENT: an argument or property value is not acceptable
 * @RED_ERROR_ALREADY_RUNNING: the server is already running
 * @RED_ERROR_CLIENTS_CONNECTED: clients are connected, and the call was
 *   asked to fail then (red_server_set_ticket_full())
 *
 * Error codes of the %RED_ERROR domain. Values 3 and 5 are not used (they
 * were codes that no function raised); the others keep their values. A
 * client refused because #RedServer:max-clients clients are connected is
 * told so at the link stage, where no #GError reaches the application.
 */
typedef enum {
  RED_ERROR_FAILED = 0,
  RED_ERROR_ADDRESS_IN_USE = 1,
  RED_ERROR_INVALID_ARGUMENT = 2,
  RED_ERROR_ALREADY_RUNNING = 4,
  RED_ERROR_CLIENTS_CONNECTED = 6,
} RedError;

/**
 * red_error_quark:
 *
 * The error domain of the #GError s redspice returns, with the codes of
 * #RedError.
 *
 * Returns: the #GQuark of the %RED_ERROR domain
 */
GQuark red_error_quark (void);

GType red_error_get_type (void);
#define RED_TYPE_ERROR (red_error_get_type ())

G_END_DECLS
