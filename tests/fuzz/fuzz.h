// fuzz.h: the one entry point of each fuzz target (libFuzzer's). Each target is built
// twice: with clang and -fsanitize=fuzzer for fuzzing (scripts/fuzz.sh), and with the
// normal compiler and replay_main.cc, which runs the target over its corpus as a test.
#ifndef DLOCK_TESTS_FUZZ_FUZZ_H_
#define DLOCK_TESTS_FUZZ_FUZZ_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

inline std::string_view AsText(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Aborts (a finding) when `ok` is false: for properties the parsers promise.
#define FUZZ_CHECK(ok)           \
  do {                           \
    if (!(ok)) __builtin_trap(); \
  } while (0)

#endif  // DLOCK_TESTS_FUZZ_FUZZ_H_
