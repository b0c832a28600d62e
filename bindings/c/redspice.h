/* redspice: a SPICE remote-display server whose objects are GObjects.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#define __REDSPICE_H_INSIDE__

#include "red-enums.h"
#include "red-error.h"
#include "red-channel.h"
#include "red-channel-client.h"
#include "red-client.h"
#include "red-main-channel.h"
#include "red-inputs-channel.h"
#include "red-display-channel.h"
#include "red-cursor-channel.h"
#include "red-worker.h"
#include "red-display.h"
#include "red-server.h"
#include "red-debug.h"

#undef __REDSPICE_H_INSIDE__
