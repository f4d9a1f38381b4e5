// A public header as it must not be: check_headers.py must refuse each include below
// but <string> and "dlock/status.h", and name its line. clang-format off keeps the lines
// where check_headers_test.py expects them.
#ifndef DLOCK_BAD_H_
#define DLOCK_BAD_H_

// clang-format off
#include <string>
#include "dlock/status.h"
#include <hiredis/hiredis.h>
#include "dlock/nonexistent.h"
#include "core/thread_annotations.h"
// clang-format on

#endif  // DLOCK_BAD_H_
