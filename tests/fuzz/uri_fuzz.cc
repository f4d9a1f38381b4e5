// Backend URIs: any bytes parse to a URI or a one-line error, and the redacted form of
// a parsed URI never shows its password where the password was.
#include "dlock/uri.h"
#include "fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto uri = dlock::ParseBackendUri(AsText(data, size));
  if (!uri.ok()) {
    FUZZ_CHECK(uri.status().message().find('\n') == std::string::npos);
    return 0;
  }
  std::string shown = uri->Redacted();
  // The userinfo is masked (the same text may legitimately appear elsewhere, say in the
  // path, so look for it where a password goes).
  if (uri->password)
    FUZZ_CHECK(shown.find(":" + *uri->password + "@") == std::string::npos ||
               *uri->password == "***");
  // What we print parses again to the same parts.
  auto again = dlock::ParseBackendUri(shown);
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->scheme == uri->scheme && again->path == uri->path);
  return 0;
}
