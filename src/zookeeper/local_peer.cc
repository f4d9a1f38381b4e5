#include "zookeeper/local_peer.h"

#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace dlock::zk {
namespace {

// The inode of the socket in /proc/net/tcp whose local address is `from` and remote
// address `to`; 0 if there is none. Addresses there are the kernel's hex dumps: the IPv4
// address as the 32-bit value in memory (so comparable to s_addr), the port in host order.
unsigned long InodeOf(const sockaddr_in& from, const sockaddr_in& to) {
  std::FILE* f = std::fopen("/proc/net/tcp", "re");
  if (f == nullptr) return 0;
  unsigned long found = 0;
  char line[512];
  bool header = true;
  while (found == 0 && std::fgets(line, sizeof line, f) != nullptr) {
    if (header) {  // "  sl  local_address rem_address   st ..."
      header = false;
      continue;
    }
    unsigned local_ip = 0, local_port = 0, remote_ip = 0, remote_port = 0;
    unsigned long inode = 0;
    // sl: local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    int n = std::sscanf(line, " %*u: %8X:%4X %8X:%4X %*X %*X:%*X %*X:%*X %*X %*u %*u %lu",
                        &local_ip, &local_port, &remote_ip, &remote_port, &inode);
    if (n == 5 && inode != 0 && local_ip == from.sin_addr.s_addr &&
        local_port == ntohs(from.sin_port) && remote_ip == to.sin_addr.s_addr &&
        remote_port == ntohs(to.sin_port)) {
      found = inode;
    }
  }
  std::fclose(f);
  return found;
}

// Whether a descriptor of this process is the socket `inode`.
bool HoldsSocket(unsigned long inode) {
  const std::string wanted = "socket:[" + std::to_string(inode) + "]";
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return false;
  bool held = false;
  while (!held) {
    const dirent* entry = ::readdir(dir);
    if (entry == nullptr) break;
    if (entry->d_name[0] == '.') continue;
    std::string path = std::string("/proc/self/fd/") + entry->d_name;
    char target[64];
    ssize_t len = ::readlink(path.c_str(), target, sizeof target);
    held = len == static_cast<ssize_t>(wanted.size()) &&
           wanted.compare(0, wanted.size(), target, wanted.size()) == 0;
  }
  ::closedir(dir);
  return held;
}

}  // namespace

bool PeerIsThisProcess(int fd) {
  sockaddr_in peer{};
  sockaddr_in local{};
  socklen_t peer_len = sizeof peer;
  socklen_t local_len = sizeof local;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_len) != 0 ||
      peer.sin_family != AF_INET || local.sin_family != AF_INET) {
    return false;
  }
  // The connecting socket: local address = our peer, remote address = our listener.
  unsigned long inode = InodeOf(peer, local);
  return inode != 0 && HoldsSocket(inode);
}

}  // namespace dlock::zk
