#include "zookeeper/local_peer.h"

#include <dirent.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

namespace dlock::zk {
namespace {

// The inode of the TCP socket whose local address is `from` and remote address `to`,
// asked of the kernel by that address pair (sock_diag, one exact lookup); 0 if there is
// none, -1 if the kernel cannot be asked.
long long InodeByDiag(const sockaddr_in& from, const sockaddr_in& to) {
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return -1;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } ask{};
  ask.header.nlmsg_len = sizeof ask;
  ask.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  ask.header.nlmsg_flags = NLM_F_REQUEST;
  ask.request.sdiag_family = AF_INET;
  ask.request.sdiag_protocol = IPPROTO_TCP;
  ask.request.idiag_states = ~0U;
  ask.request.id.idiag_sport = from.sin_port;  // both in network order, as the kernel's
  ask.request.id.idiag_dport = to.sin_port;
  ask.request.id.idiag_src[0] = from.sin_addr.s_addr;
  ask.request.id.idiag_dst[0] = to.sin_addr.s_addr;
  ask.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  ask.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  long long inode = -1;
  alignas(nlmsghdr) char answer[8192];
  if (::sendto(fd, &ask, sizeof ask, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) ==
      static_cast<ssize_t>(sizeof ask)) {
    ssize_t n = ::recv(fd, answer, sizeof answer, 0);
    const auto* reply = reinterpret_cast<const nlmsghdr*>(answer);
    if (n >= static_cast<ssize_t>(sizeof(nlmsghdr)) && NLMSG_OK(reply, static_cast<unsigned>(n))) {
      if (reply->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
          reply->nlmsg_len >= NLMSG_LENGTH(sizeof(inet_diag_msg))) {
        inode = static_cast<const inet_diag_msg*>(NLMSG_DATA(reply))->idiag_inode;
      } else if (reply->nlmsg_type == NLMSG_ERROR &&
                 reply->nlmsg_len >= NLMSG_LENGTH(sizeof(nlmsgerr)) &&
                 static_cast<const nlmsgerr*>(NLMSG_DATA(reply))->error == -ENOENT) {
        inode = 0;  // no such socket
      }
    }
  }
  ::close(fd);
  return inode;
}

// As InodeByDiag, from /proc/net/tcp (slower: it lists every socket), where the kernel
// cannot be asked. Addresses there are the kernel's hex dumps: the IPv4 address as the
// 32-bit value in memory (so comparable to s_addr), the port in host order.
unsigned long InodeByProc(const sockaddr_in& from, const sockaddr_in& to) {
  std::FILE* f = std::fopen("/proc/net/tcp", "re");
  if (f == nullptr) return 0;
  static thread_local char buffer[1 << 16];  // fewer, larger reads: each one walks the table
  std::setvbuf(f, buffer, _IOFBF, sizeof buffer);
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
  long long inode = InodeByDiag(peer, local);
  if (inode < 0) inode = static_cast<long long>(InodeByProc(peer, local));
  return inode > 0 && HoldsSocket(static_cast<unsigned long>(inode));
}

}  // namespace dlock::zk
