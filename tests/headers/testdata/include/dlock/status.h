// A public header as it may be: guarded, and including only standard and dlock headers.
// check_headers.py must not name it.
#ifndef DLOCK_STATUS_H_
#define DLOCK_STATUS_H_

#include <string>

#endif  // DLOCK_STATUS_H_
