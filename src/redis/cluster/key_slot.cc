// RedisClusterKeySlot (dlock/backends/redis_cluster.h): CRC16 (XMODEM: polynomial 0x1021,
// initial value 0, no reflection) of the key's hash tag, mod 16384.
#include <array>

#include "dlock/backends/redis_cluster.h"

namespace dlock {
namespace {

constexpr std::array<std::uint16_t, 256> MakeTable() {
  std::array<std::uint16_t, 256> table{};
  for (unsigned i = 0; i < 256; ++i) {
    std::uint16_t crc = static_cast<std::uint16_t>(i << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = static_cast<std::uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    table[i] = crc;
  }
  return table;
}
constexpr std::array<std::uint16_t, 256> kTable = MakeTable();

std::uint16_t Crc16(std::string_view text) {
  std::uint16_t crc = 0;
  for (unsigned char c : text) {
    crc = static_cast<std::uint16_t>((crc << 8) ^ kTable[((crc >> 8) ^ c) & 0xff]);
  }
  return crc;
}

}  // namespace

std::uint16_t RedisClusterKeySlot(std::string_view key) {
  if (const auto open = key.find('{'); open != std::string_view::npos) {
    const auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) {
      key = key.substr(open + 1, close - open - 1);
    }
  }
  return Crc16(key) & 16383;
}

}  // namespace dlock
