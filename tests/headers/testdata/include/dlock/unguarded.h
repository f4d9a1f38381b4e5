// A public header without an include guard: check_headers.py must name it.
#include <string>

namespace dlock {
void Unguarded(const std::string& s);
}  // namespace dlock
